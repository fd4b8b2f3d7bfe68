// Browser test of the console's live pages (driven by tests/browser.rs): the wallboard showing a SIPp
// caller waiting in a queue, an agent paused from the agents page, file 0 switched on in the page and
// heard by the next SIPp call. Every page is checked with axe-core and for console errors.
// Env: BASE, SIP (host:port of softswitch's UDP SIP), FIRST_PASSWORD, NEW_PASSWORD, SHOTS.
import { launch, watchedPage, check, explain, expect, firstSignIn, sipp } from './lib.mjs';

const { BASE, SIP, FIRST_PASSWORD, NEW_PASSWORD, SHOTS } = process.env;
const browser = await launch();
try {
  const page = await watchedPage(await browser.newContext({ locale: 'fr-FR', viewport: { width: 1400, height: 900 } }));
  await firstSignIn(page, BASE, 'admin', FIRST_PASSWORD, NEW_PASSWORD);
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#live tbody tr[data-queue="general"]');
  await page.waitForSelector('#today tbody tr[data-queue="Total"]');
  await check(page, 'wallboard', SHOTS);

  // A caller waits in queue general (no agent registered): the wall shows it.
  const t0 = Date.now();
  sipp(SIP, 'uac_queue.xml', '7100', ['-m', '1']);
  await page.waitForFunction(() => document.querySelector('#live tr[data-queue="general"] td.waiting')?.textContent === '1',
    null, { timeout: 10000, polling: 50 });
  const seenMs = Date.now() - t0;
  console.log(`WAITING SHOWN ${seenMs} ms after the INVITE was sent`);
  await page.waitForTimeout(1200);
  await check(page, 'wallboard-waiting', SHOTS);
  await page.click('#fullscreen');
  await check(page, 'wallboard-fullscreen', SHOTS);
  await page.click('#fullscreen');

  // Agents: pause agent1 for lunch from the page.
  await page.goto(`${BASE}/agents`);
  await page.waitForSelector('#agents tr[data-agent="agent1"]');
  await check(page, 'agents', SHOTS);
  const row = 'tr[data-agent="agent1"]';
  await page.click(`${row} button[data-action="ask-pause"]`);
  await page.selectOption(`${row} select`, 'lunch');
  await page.click(`${row} button[data-action="pause"]`);
  await page.waitForSelector(`${row} td[data-state="paused"]`);
  expect((await page.textContent(`${row} td[data-reason="lunch"]`)) === 'Déjeuner', 'pause reason not shown in French');
  const agents = await page.evaluate(() => fetch('/api/v1/agents').then((r) => r.json()));
  const a1 = agents.agents.find((a) => a.id === 'agent1');
  expect(a1.state === 'paused' && a1.reason === 'lunch', `the ACD did not pause agent1: ${JSON.stringify(a1)}`);
  await check(page, 'agents-paused', SHOTS);
  await page.click(`${row} button[data-action="unpause"]`);
  await page.waitForSelector(`${row} td[data-state="available"]`);

  // File 0 on 3422 from the page, confirmed, then heard by the next call.
  await page.goto(`${BASE}/file0`);
  await check(page, 'file0', SHOTS);
  await page.selectOption('#target', '3422');
  await page.selectOption('#prompt', 'closed');
  await page.check('#mode-hangup');
  await page.fill('#reason', 'exercice de crise');
  await page.click('#switch-on');
  await page.waitForSelector('#confirm');
  await check(page, 'file0-confirm', SHOTS);
  await page.click('#confirm');
  await page.waitForSelector('.notice');
  expect((await page.textContent('.notice')).includes('File 0 activée sur 3422'), 'no confirmation of the switch');
  const code = await sipp(SIP, 'uac_call.xml', '3422', ['-m', '1', '-d', '1000']);
  console.log(`SIPP to 3422 exited ${code}`);
  await page.goto(`${BASE}/file0`);
  const calls = (await page.textContent('#active tbody tr td:nth-child(8)')).trim();
  expect(calls === '1', `expected 1 redirected call, saw ${calls}`);
  await check(page, 'file0-active', SHOTS);

  // The audit log page finds the switch, under the signed-in account, and checks the chain.
  await page.goto(`${BASE}/audit`);
  await page.fill('#action', 'file0');
  await page.click('#search');
  await page.waitForSelector('#audit tbody tr td:nth-child(6)');
  const action = (await page.textContent('#audit tbody tr td:nth-child(6)')).trim();
  const who = (await page.textContent('#audit tbody tr td:nth-child(3)')).trim();
  expect(action === 'file0.activate' && who === 'admin', `audit line: ${action} by ${who}`);
  await page.click('#verify');
  await page.waitForSelector('#verified');
  expect((await page.textContent('#verified')).includes('Journal intact'), 'the chain does not verify');
  await check(page, 'audit', SHOTS);

  // Calls: today's records, the 3422 call's timeline shows the file 0 redirection; XLSX export.
  await page.goto(`${BASE}/calls?did=3422`);
  await page.waitForSelector('#calls tbody tr[data-record]');
  await check(page, 'calls', SHOTS);
  await page.click('#calls tbody tr[data-record] a');
  await page.waitForSelector('#timeline');
  const steps = await page.textContent('#timeline');
  expect(steps.includes('Redirigé par la file 0') && steps.includes('Message « closed »'), `timeline: ${steps}`);
  await check(page, 'call-timeline', SHOTS);
  const xlsx = await page.evaluate(async () => {
    const href = document.querySelector('a[href="/calls"]') ? '/api/v1/cdr?format=xlsx' : '';
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
  });
  expect(xlsx.status === 200 && xlsx.type.includes('spreadsheetml') && xlsx.size > 1000, `XLSX export: ${JSON.stringify(xlsx)}`);

  // SLA report of today by half-hour: the chart, the table, a count leading to its calls.
  await page.goto(`${BASE}/reports`);
  await page.waitForSelector('#report tbody tr');
  expect(await page.isVisible('svg#chart') && (await page.$$('svg#chart polyline')).length === 4, 'no chart');
  await check(page, 'reports', SHOTS);
  await page.click('#report td[data-kpi="received"] a');
  await page.waitForSelector('#calls tbody tr[data-record]');
  const behind = await page.$$eval('#calls tbody tr[data-record]', (r) => r.length);
  expect(behind >= 1, 'no call behind the count');
  const csv = await page.evaluate(async () => {
    const r = await fetch('/api/v1/reports?by=day&format=csv');
    return { status: r.status, text: await r.text() };
  });
  expect(csv.status === 200 && csv.text.includes('pickup_rate'), `report CSV: ${csv.status} ${csv.text.slice(0, 200)}`);
  console.log('ALL OK');
} catch (e) {
  await explain(e, SHOTS);
  process.exitCode = 1;
} finally {
  for (const c of sipp.children) c.kill('SIGKILL');
  await browser.close();
}
