// The console's page weight and first render, measured in Chromium (run by benches/console.sh against a
// softswitch with 100 queues and 1,000 agents). For each page, RUNS cold loads (a new context each: no
// cache): the bytes transferred (document and every resource, as the browser counts them), the first
// contentful paint, and the time until the page is complete (its live table filled, for the live pages).
// Env: BASE, PASSWORD (the bootstrap admin's first password), RUNS.
import { launch, firstSignIn } from './lib.mjs';

const { BASE, PASSWORD } = process.env;
const RUNS = Number(process.env.RUNS || 5);
const NEW = 'Bench-Console-Nouveau-2026';
const PAGES = [
  ['/', 'Tableau de bord', '#live tbody tr[data-queue="file-100"]'],
  ['/agents', 'Agents', '#agents tbody tr[data-agent="a1000"]'],
  ['/file0', 'File 0', '#active'],
  ['/flows', 'Parcours', '#flows'],
  ['/calls', 'Appels', 'main'],
  ['/recordings', 'Enregistrements', 'main'],
  ['/reports', 'Rapports SLA', 'main'],
  ['/audit', "Journal d'audit", 'main'],
  ['/messages', 'Messages', 'main'],
];

const browser = await launch();
// Sign in once (password change and second factor at first login), then reuse the session's cookie.
const first = await browser.newContext();
await firstSignIn(await first.newPage(), BASE, 'admin', PASSWORD, NEW);
const cookies = await first.cookies();
await first.close();

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const max = (v) => Math.max(...v);
console.log('| page | bytes transferred | first contentful paint, median (max) | complete, median (max) |');
console.log('|---|---|---|---|');
for (const [path, name, done] of PAGES) {
  const bytes = [], fcp = [], full = [];
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext();
    await ctx.addCookies(cookies);
    const p = await ctx.newPage();
    const t0 = Date.now();
    await p.goto(`${BASE}${path}`);
    const ok = await p.waitForSelector(done, { timeout: 20000, state: 'attached' }).then(() => true, () => false);
    if (!ok) { console.log(`| ${name} (\`${path}\`) | not served by this build | | |`); await ctx.close(); break; }
    if (process.env.VERBOSE) console.error(`${path} run ${i}: ${Date.now() - t0} ms`);
    full.push(Date.now() - t0);
    const m = await p.evaluate(async () => {
      const nav = performance.getEntriesByType('navigation')[0];
      const entries = performance.getEntriesByType('resource');
      // The live stream never ends, so the browser has not counted it yet: its first event is the
      // picture as JSON, counted here as the snapshot the same account gets.
      // (The browser lists an EventSource only once it ends, so look for the page's script.)
      const live = !!document.querySelector('script[src$="wallboard.js"], script[src$="agents.js"]');
      const res = entries.filter((r) => !r.name.endsWith('/api/v1/live'))
        .reduce((s, r) => s + (r.transferSize || r.encodedBodySize || 0), 0);
      const snapshot = live ? (await (await fetch('/api/v1/live/snapshot')).text()).length : 0;
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { bytes: nav.transferSize + res + snapshot, fcp: paint ? paint.startTime : NaN };
    });
    bytes.push(m.bytes);
    fcp.push(m.fcp);
    await ctx.close();
  }
  if (!full.length) continue;
  const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
  console.log(`| ${name} (\`${path}\`) | ${kb(median(bytes))} (max ${kb(max(bytes))}) | ${median(fcp).toFixed(0)} ms (${max(fcp).toFixed(0)}) | ${median(full)} ms (${max(full)}) |`);
}
await browser.close();
