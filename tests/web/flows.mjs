// Browser test of the flows pages (driven by tests/browser.rs): the demo flow edited in the page, every
// error shown on its line in one pass, then put under test on the test number 3499 (a SIPp call there
// hears the new version, one to 3422 the old), promoted to every number (the next SIPp call to 3422
// hears it), and the history's diff shown. Every page is checked with axe-core and for console errors.
// Env: BASE, SIP (host:port of softswitch's UDP SIP), FIRST_PASSWORD, NEW_PASSWORD, SHOTS.
import { launch, watchedPage, check, explain, expect, firstSignIn, sipp } from './lib.mjs';

const { BASE, SIP, FIRST_PASSWORD, NEW_PASSWORD, SHOTS } = process.env;
const browser = await launch();
const call = async (did) => {
  const code = await sipp(SIP, 'uac_call.xml', did, ['-m', '1', '-d', '600']);
  expect(code === 0, `SIPp call to ${did} exited ${code}`);
};
try {
  const page = await watchedPage(await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } }));
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/flows`);
  await page.waitForSelector('#flows tr[data-flow="demo"]');
  expect((await page.textContent('#flows tr[data-flow="demo"]')).includes('3499 (essai)'), 'the test number is not shown');
  await check(page, 'flows', SHOTS);

  await page.click('#flows tr[data-flow="demo"] a');
  await page.waitForSelector('#text');
  await check(page, 'flow-edit', SHOTS);
  const original = await page.inputValue('#text');
  const lineOf = (text, needle) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  // Three errors behind one another: all shown, each on its own line.
  const bad = original.replace('prompts = ["welcome"]', 'prompts = ["welcom"]')
    .replace('tries = 2', 'tries = "deux"').replace('queue = "expert"', 'queue = "experts"');
  await page.fill('#text', bad);
  await page.click('#check');
  await page.waitForSelector('#listing');
  const shown = await page.$$eval('.lerr', (els) => els.map((e) => [Number(e.dataset.line), e.textContent]));
  console.log(`ERRORS ${JSON.stringify(shown)}`);
  expect(shown.length === 3, `expected 3 errors, got ${JSON.stringify(shown)}`);
  for (const needle of ['"welcom"', '"deux"', '"experts"']) {
    expect(shown.some(([n]) => n === lineOf(bad, needle)), `no error on the line of ${needle}`);
  }
  await check(page, 'flow-errors', SHOTS);

  // Right now: checked, its change shown, then under test.
  const edited = original.replace('prompts = ["welcome"]', 'prompts = ["closed"]');
  await page.fill('#text', edited);
  await page.click('#check');
  await page.waitForSelector('.notice#result');
  expect(await page.$('.diff .add'), 'the change is not shown');
  await check(page, 'flow-checked', SHOTS);
  await page.click('#stage');
  await page.waitForSelector('#under-test');
  expect((await page.textContent('.notice')).includes('en essai'), 'no notice of the test');
  await check(page, 'flow-under-test', SHOTS);
  await call('3499');
  await call('3422');

  // Promoted to every number.
  await page.click('#promote');
  await page.waitForSelector('.notice');
  expect((await page.textContent('.notice')).includes('promue'), 'no notice of the promotion');
  expect(!(await page.$('#under-test')), 'still under test after promotion');
  await check(page, 'flow-promoted', SHOTS);
  await call('3422');

  // The history's diff.
  await page.click('#history a');
  await page.waitForSelector('.diff');
  await check(page, 'flow-diff', SHOTS);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  await browser.close();
}
