// Browser test of sign-in (driven by tests/browser.rs): the bootstrap admin's forced password change,
// TOTP enrolment by QR code and recovery codes, an API token made in the page, sign-out and
// sign-in with the code, and SSO through the test provider. Every page is checked with axe-core
// and for console errors, and photographed.
// Env: BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS, and SSO_USER/SSO_PASSWORD for the SSO part.
import { launch, watchedPage, check, explain, totp, nextStep, expect } from './lib.mjs';

const { BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS, SSO_USER, SSO_PASSWORD } = process.env;
const browser = await launch();
try {
  const ctx = await browser.newContext({ locale: 'fr-FR' });
  const page = await watchedPage(ctx);
  await page.goto(`${BASE}/account`);
  expect(page.url().startsWith(`${BASE}/login`), `not sent to the login page: ${page.url()}`);
  await check(page, 'login', SHOTS);

  await page.fill('#account', 'admin');
  await page.fill('#password', 'wrong password');
  await page.click('#submit');
  expect((await page.textContent('.alert')).includes('Identifiant ou mot de passe incorrect'), 'no error for a wrong password');
  await check(page, 'login-error', SHOTS);

  await page.fill('#account', 'admin');
  await page.fill('#password', FIRST_PASSWORD);
  await page.click('#submit');
  await page.waitForURL(`${BASE}/account/password`);
  await page.fill('#old', FIRST_PASSWORD);
  await page.fill('#new', 'motdepasse');
  await page.fill('#again', 'motdepasse');
  await page.click('#submit');
  expect((await page.textContent('.alert')).includes('Mot de passe refusé'), 'a weak password was not refused');
  await check(page, 'password-refused', SHOTS);
  await page.fill('#old', FIRST_PASSWORD);
  await page.fill('#new', NEW_PASSWORD);
  await page.fill('#again', NEW_PASSWORD);
  await page.click('#submit');

  await page.waitForURL(`${BASE}/account/totp`);
  expect(await page.isVisible('figure.qr svg'), 'no QR code');
  await check(page, 'totp-enrol', SHOTS);
  const secret = (await page.textContent('#secret')).trim();
  await page.fill('#code', totp(secret));
  await page.click('#submit');
  await page.waitForSelector('#recovery-codes');
  const codes = await page.$$eval('#recovery-codes code', (els) => els.map((e) => e.textContent));
  expect(codes.length === 10, `expected 10 recovery codes, got ${codes.length}`);
  await check(page, 'recovery-codes', SHOTS);
  await page.click('#continue');
  await page.waitForURL(`${BASE}/`);
  await page.goto(`${BASE}/account`);
  await check(page, 'account', SHOTS);

  await page.fill('#token-name', "Mur d'affichage");
  await page.click('#create-token');
  const token = (await page.textContent('#new-token')).trim();
  expect(token.startsWith('sst_'), `no token shown: ${token}`);
  await check(page, 'token-created', SHOTS);
  const me = await (await fetch(`${BASE}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).json();
  expect(me.account === 'admin', `the token is not admin's: ${JSON.stringify(me)}`);

  await page.click('text=Se déconnecter');
  await page.waitForURL(/\/login/);
  await page.fill('#account', 'admin');
  await page.fill('#password', NEW_PASSWORD);
  await page.click('#submit');
  await page.waitForURL(`${BASE}/login/totp`);
  await check(page, 'totp-code', SHOTS);
  await nextStep();
  await page.fill('#code', totp(secret));
  await page.click('#submit');
  await page.waitForURL(`${BASE}/`);
  console.log('STEP password, TOTP and token ok');

  if (SSO_USER) {
    const sso = await watchedPage(await browser.newContext({ locale: 'fr-FR' }));
    await sso.goto(`${BASE}/login`);
    await sso.click('#sso');
    await sso.waitForSelector('input[name="login"]');
    await sso.fill('input[name="login"]', SSO_USER);
    await sso.fill('input[name="password"]', SSO_PASSWORD);
    await sso.click('#submit');
    await sso.waitForURL(`${BASE}/`);
    await sso.goto(`${BASE}/account`);
    // What the provider's own pages logged (its missing favicon) is not ours to check.
    sso.errors = sso.errors.filter((e) => e.includes(`(${BASE}/`));
    expect((await sso.textContent('#me')).trim() === SSO_USER, 'not signed in as the SSO user');
    await check(sso, 'sso-account', SHOTS);
    console.log('STEP SSO ok');
  }
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  await browser.close();
}
