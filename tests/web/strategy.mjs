// Browser test of crisis strategies on the file 0 page (driven by tests/browser.rs): a strategy prepared
// in the configuration applied in the page after a confirmation page, heard by the next SIPp call, then
// undone. Every page is checked with axe-core and for console errors.
// Env: BASE, SIP (host:port of softswitch's UDP SIP), FIRST_PASSWORD, NEW_PASSWORD, SHOTS.
import { launch, watchedPage, check, explain, expect, firstSignIn, sipp } from './lib.mjs';

const { BASE, SIP, FIRST_PASSWORD, NEW_PASSWORD, SHOTS } = process.env;
const browser = await launch();
try {
  const page = await watchedPage(await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } }));
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/file0`);
  await page.waitForSelector('#strategies tr[data-strategy="fermeture"]');
  await check(page, 'file0-strategies', SHOTS);
  await page.click('#strategies tr[data-strategy="fermeture"] button');
  await page.waitForSelector('#changes');
  expect((await page.textContent('#changes')).includes('3900'), 'the confirmation does not say what switches');
  await check(page, 'strategy-confirm', SHOTS);
  await page.click('#confirm');
  await page.waitForSelector('#applied');
  expect((await page.textContent('.notice')).includes('appliquée'), 'no notice of the strategy');
  await check(page, 'strategy-applied', SHOTS);
  const code = await sipp(SIP, 'uac_call.xml', '3900', ['-m', '1', '-d', '600']);
  expect(code === 0, `SIPp call to 3900 exited ${code}`);
  await page.click('#undo');
  await page.waitForSelector('#strategies tr[data-strategy="fermeture"] button');
  expect((await page.textContent('.notice')).includes('annulée'), 'no notice of the undo');
  expect((await page.textContent('#active')).includes('Aucune file 0 active'), 'file 0 still on after the undo');
  await check(page, 'strategy-undone', SHOTS);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  await browser.close();
}
