// The wallboard: every queue now, today's figures against their targets, file 0 in force; drawn from
// the live stream at each change; a full-screen mode for a wall display.
import { live, el, figure, sinceCell, startClock, STATUS_FR } from './console.js';

const WALL = ['received', 'answered', 'abandoned', 'dissuaded/informed', 'pickup_rate', 'service_level',
  'average_wait', 'dmc', 'dmt', 'transfer_rate', 'file0_calls'];

function liveRow(q) {
  const a = q.agents;
  return el('tr', { 'data-queue': q.name },
    el('th', { scope: 'row' }, q.name),
    el('td', { class: 'num waiting' }, q.waiting),
    q.oldest_since ? sinceCell(q.oldest_since, { class: 'num' }) : el('td', { class: 'num' }, '–'),
    el('td', { class: 'num' }, q.offering),
    // Available means reachable: logged in, phone registered, free (never an unregistered phone).
    el('td', { class: 'num' }, a.offerable),
    el('td', { class: 'num' }, a.on_call),
    el('td', { class: 'num' }, a.wrap_up),
    el('td', { class: 'num' }, a.paused),
    el('td', { class: a.unregistered ? 'num unregistered' : 'num' }, a.unregistered));
}

function todayRow(name, figures) {
  const byKpi = Object.fromEntries(figures.map((f) => [f.kpi, f]));
  return el('tr', { 'data-queue': name },
    el('th', { scope: 'row' }, name),
    ...WALL.map((k) => {
      const f = byKpi[k];
      const status = f && f.status && f.status !== 'no_data' ? f.status : null;
      return el('td', { class: status ? `num ${status}` : 'num', 'data-kpi': k },
        figure(f), status ? el('span', { class: 'sr' }, ` (${STATUS_FR[status]})`) : '');
    }));
}

function draw(s) {
  const totals = document.getElementById('live').dataset.totals === 'true';
  document.querySelector('#live tbody').replaceChildren(...s.queues.map(liveRow));
  const rows = Object.entries(s.today.queues).map(([q, f]) => todayRow(q, f));
  if (totals && s.today.total.length) rows.push(todayRow('Total', s.today.total));
  document.querySelector('#today tbody').replaceChildren(...rows);
  const inProgress = document.getElementById('in-progress');
  if (inProgress) inProgress.textContent = s.calls_in_progress;
  const f0 = document.getElementById('file0-section');
  f0.hidden = !s.file0.length;
  document.getElementById('file0-list').replaceChildren(...s.file0.map((a) =>
    el('li', {}, `${a.target} : « ${a.prompt} » (${a.calls} appel(s) redirigé(s))`)));
}

document.getElementById('fullscreen').addEventListener('click', async (e) => {
  const on = !document.body.classList.contains('wall');
  document.body.classList.toggle('wall', on);
  document.querySelector('main').classList.toggle('wall', on);
  e.currentTarget.setAttribute('aria-pressed', String(on));
  e.currentTarget.textContent = on ? 'Quitter le plein écran' : 'Plein écran';
  try {
    if (on && document.documentElement.requestFullscreen) await document.documentElement.requestFullscreen();
    if (!on && document.fullscreenElement) await document.exitFullscreen();
  } catch (_) { /* the browser may refuse real full screen: the large layout stays */ }
});

live(draw, document.getElementById('updated'));
startClock();
