// Browser test of the agents page's call actions (driven by tests/browser.rs): while agent1 talks to a
// caller, the supervisor has the call put on their own phone (agent4) for silent listening, and qualifies
// it with one of its queue's codes. Checked with axe-core and for console errors.
// Env: BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS.
import { launch, watchedPage, check, explain, expect, firstSignIn } from './lib.mjs';

const { BASE, FIRST_PASSWORD, NEW_PASSWORD, SHOTS } = process.env;
const browser = await launch();
try {
  const page = await watchedPage(await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } }));
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/agents`);
  const row = '#agents tr[data-agent="agent1"]';
  await page.waitForSelector(`${row} td[data-state="on_call"]`, { timeout: 15000 });
  await check(page, 'agents-on-call', SHOTS);

  await page.fill('#monitor-phone', 'agent4');
  await page.press('#monitor-phone', 'Tab');
  await page.click(`${row} button[data-action="monitor"]`);
  await page.waitForFunction(() => document.querySelector('#result')?.textContent.includes('écoute lancée'), null, { timeout: 10000 });
  expect(await page.$('#result.notice'), `listening refused: ${await page.textContent('#result')}`);

  await page.selectOption(`${row} select[aria-label^="Qualification"]`, 'reclamation');
  await page.click(`${row} button[data-action="disposition"]`);
  await page.waitForFunction(() => document.querySelector('#result')?.textContent.includes('appel qualifié'), null, { timeout: 10000 });
  expect(await page.$('#result.notice'), `qualification refused: ${await page.textContent('#result')}`);
  await check(page, 'agents-actions', SHOTS);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  await browser.close();
}
