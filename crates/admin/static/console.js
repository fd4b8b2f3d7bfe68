// Shared by the console's scripts: the live stream, API calls with the session's CSRF token,
// French labels and formats, and a one-second clock for the times that grow by themselves.

export const STATE_FR = {
  logged_out: 'Déconnecté', available: 'Disponible', reserved: 'Sonnerie',
  on_call: 'En appel', wrap_up: 'Post-appel', paused: 'En pause',
};
export const STATUS_FR = { met: 'objectif atteint', within_tolerance: 'dans la tolérance', missed: 'objectif manqué' };

export function csrf() {
  const m = document.querySelector('meta[name="csrf"]');
  return m ? m.content : '';
}

/// A call to /api/v1 as the signed-in account; the answer's JSON, or an Error with its message.
export async function api(method, url, body) {
  const r = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf(), 'Content-Type': 'application/json' },
    body: body === undefined || body === null ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await r.json(); } catch (_) { /* no body */ }
  if (!r.ok) throw new Error((data && data.error) || `HTTP ${r.status}`);
  return data;
}

/// Follow the live picture: `draw(snapshot)` at the first one and at every change.
export function live(draw, status) {
  const es = new EventSource('/api/v1/live');
  es.addEventListener('snapshot', (e) => {
    draw(JSON.parse(e.data));
    status.textContent = `Mis à jour à ${new Date().toLocaleTimeString('fr-FR')}`;
    status.classList.remove('alert');
  });
  es.onerror = () => {
    status.textContent = 'Flux en direct interrompu : reconnexion…';
    status.classList.add('alert');
  };
  return es;
}

/// 75 -> "1:15", 3725 -> "1:02:05".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/// A KPI value as people read it: a rate in percent, seconds as a duration, counts as they are.
export function figure(f) {
  if (!f || f.value === null || f.value === undefined) return '–';
  if (f.unit === 'rate') return `${(f.value * 100).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} %`;
  if (f.unit === 's') return duration(f.value);
  return f.value.toLocaleString('fr-FR');
}

/// An element: el('td', { class: 'num' }, 'text', child...).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/// A cell showing the time since `iso`, kept current by `startClock`.
export function sinceCell(iso, attrs = {}) {
  return el('td', { ...attrs, dataset: { since: iso } }, duration((Date.now() - Date.parse(iso)) / 1000));
}

/// Cells with `data-since` show the time since that instant, every second.
export function startClock() {
  const tick = () => {
    const now = Date.now();
    for (const c of document.querySelectorAll('[data-since]')) {
      c.textContent = duration((now - Date.parse(c.dataset.since)) / 1000);
    }
  };
  tick();
  setInterval(tick, 1000);
}
