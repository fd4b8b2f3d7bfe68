// Browser test of the messages page (driven by tests/browser.rs): a file sent as the new "welcome",
// its cleaned draft checked and heard, published (then the Rust test calls and hears it); a
// recording from Chromium's fake microphone, checked then abandoned; the shipped version restored.
// Env: BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS.
import { launch, watchedPage, check, explain, expect, firstSignIn, ask, stopAsking, FAKE_MEDIA } from './lib.mjs';

const { BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS } = process.env;
const browser = await launch(FAKE_MEDIA);

/// The draft's checks as shown: { check: [measure, verdict, ok] }.
async function checks(page) {
  return page.$$eval('#checks tbody tr', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.check,
    [r.cells[1].textContent, r.cells[2].textContent, r.cells[2].classList.contains('ok')]])));
}

/// Play an audio element for a while: where it got, and any error.
async function listen(page, selector) {
  return page.evaluate(async (sel) => {
    const a = document.querySelector(sel);
    await a.play();
    await new Promise((ok) => setTimeout(ok, 800));
    a.pause();
    return { at: a.currentTime, duration: a.duration, error: a.error && a.error.message };
  }, selector);
}

try {
  const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } });
  const page = await watchedPage(context);
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/messages`);
  await page.waitForSelector('#prompts tr[data-prompt="welcome"][data-version="0"]');
  await check(page, 'messages', SHOTS);
  const shipped = await listen(page, '#prompts tr[data-prompt="welcome"] audio');
  expect(!shipped.error && shipped.at > 0.2, `the shipped welcome does not play: ${JSON.stringify(shipped)}`);

  // A file: cleaned, checked and heard as a draft; nothing published yet.
  await page.fill('#name', 'welcome');
  await page.setInputFiles('#file', '../../prompts/info.wav');
  await page.click('#send');
  await page.waitForSelector('#draft:not([hidden]) #checks tbody tr');
  const c = await checks(page);
  console.log(`DRAFT ${JSON.stringify(c)}`);
  expect(Object.keys(c).length === 5 && Object.values(c).every(([, , ok]) => ok), `checks not all passed: ${JSON.stringify(c)}`);
  expect(/^9,\d s$/.test(c['Durée'][0]), `duration shown: ${c['Durée'][0]}`);
  expect((await page.textContent('#status')).includes('Brouillon de « welcome » prêt'), 'draft announced');
  const heard = await listen(page, '#draft-audio');
  expect(!heard.error && heard.at > 0.2 && heard.duration > 9, `the draft does not play: ${JSON.stringify(heard)}`);
  await check(page, 'messages-draft', SHOTS);
  expect(await page.$('#prompts tr[data-prompt="welcome"][data-version="0"]'), 'a draft is not published');

  await page.click('#publish');
  await page.waitForURL(/done=publish/);
  await page.waitForSelector('#prompts tr[data-prompt="welcome"][data-version="1"]');
  expect((await page.textContent('main .notice')).includes('version 1 publiée'), 'publication announced');
  await check(page, 'messages-published', SHOTS);
  console.log(`CALLED ${await ask('published')}`);

  // The microphone (Chromium's fake one beeps): about 2 s, checked, then abandoned.
  await page.fill('#name', 'welcome');
  await page.click('#record');
  await page.waitForSelector('#record[aria-pressed="true"]');
  const started = Date.now();
  await check(page, 'messages-recording', SHOTS);
  await page.waitForTimeout(Math.max(0, 2000 - (Date.now() - started)));
  await page.click('#record');
  const elapsed = (Date.now() - started) / 1000;
  await page.waitForFunction(() => /prêt|refusé|illisible/.test(document.getElementById('status').textContent), null, { timeout: 20000 });
  const status = await page.textContent('#status');
  expect(status.includes('prêt'), `the recording was not taken: ${status}`);
  const m = await checks(page);
  console.log(`RECORDED ${JSON.stringify(m)}`);
  const secs = Number(m['Durée'][0].replace(' s', '').replace(',', '.'));
  expect(secs >= 1.5 && Math.abs(secs - elapsed) < 1, `recorded ${m['Durée'][0]} in ${elapsed} s`);
  const mic = await listen(page, '#draft-audio');
  expect(!mic.error && mic.at > 0.2, `the recorded draft does not play: ${JSON.stringify(mic)}`);
  await check(page, 'messages-recorded', SHOTS);
  await page.click('#discard');
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('abandonné'));
  expect(await page.isHidden('#draft'), 'the abandoned draft is hidden');

  // The history: restore the shipped file (version 0) as version 2.
  await page.click('details[data-prompt="welcome"] summary');
  const old = await listen(page, 'details[data-prompt="welcome"] tr[data-version="0"] audio');
  expect(!old.error && old.at > 0.2, `version 0 does not play: ${JSON.stringify(old)}`);
  await check(page, 'messages-history', SHOTS);
  await page.click('details[data-prompt="welcome"] button.restore[data-version="0"]');
  await page.waitForURL(/done=restore/);
  await page.waitForSelector('#prompts tr[data-prompt="welcome"][data-version="2"]');
  await page.click('details[data-prompt="welcome"] summary');
  await check(page, 'messages-restored', SHOTS);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  stopAsking();
  await browser.close();
}
