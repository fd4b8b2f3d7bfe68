// Browser test of the recordings page (driven by tests/browser.rs): a recorded conversation listed
// and played in the page by the browser's own player (streamed with byte ranges, no download).
// Env: BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS, RECORD (the record id expected).
import { launch, watchedPage, check, explain, expect, firstSignIn } from './lib.mjs';

const { BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS, RECORD } = process.env;
const browser = await launch();
try {
  const page = await watchedPage(await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } }));
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/recordings`);
  const row = `#recordings tr[data-record="${RECORD}"]`;
  await page.waitForSelector(row);
  await check(page, 'recordings', SHOTS);
  const played = await page.evaluate(async (sel) => {
    const a = document.querySelector(`${sel} audio`);
    await a.play();
    await new Promise((ok) => setTimeout(ok, 700));
    const at = a.currentTime;
    a.currentTime = Math.max(0, a.duration - 0.5); // seeking asks for a byte range
    await new Promise((ok) => setTimeout(ok, 300));
    return { at, duration: a.duration, error: a.error && a.error.message };
  }, row);
  expect(!played.error && played.at > 0.2 && played.duration > 1, `not played: ${JSON.stringify(played)}`);
  await check(page, 'recordings-playing', SHOTS);
  console.log(`PLAYED ${JSON.stringify(played)}`);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  await browser.close();
}
