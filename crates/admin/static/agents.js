// The agents page: each agent's state, pause reason and time in state from the live stream, and the
// supervisor's actions (pause with a reason, resume, end wrap-up, qualify the last call, listen to the
// call in progress on the supervisor's phone, log in or out) through the API.
import { live, api, el, sinceCell, startClock, STATE_FR } from './console.js';

const result = document.getElementById('result');
const monitorPhone = document.getElementById('monitor-phone');
/// Disposition codes by queue, from the live picture.
let dispositions = {};
if (monitorPhone) {
  monitorPhone.value = localStorage.getItem('monitor-phone') || '';
  monitorPhone.addEventListener('change', () => localStorage.setItem('monitor-phone', monitorPhone.value.trim()));
}
const reasons = document.getElementById('reasons');
const REASON_FR = Object.fromEntries([...reasons.content.children].map((o) => [o.value, o.textContent]));

/// The state as a supervisor must read it: an agent whose phone is not registered is not available.
function stateLabel(a) {
  if (a.logged_in && !a.registered && a.state === 'available') return 'Téléphone non enregistré';
  return STATE_FR[a.state] || a.state;
}

function say(text, ok) {
  result.hidden = false;
  result.textContent = text;
  result.className = ok ? 'notice' : 'alert';
}

async function act(agent, action, body, label) {
  try {
    await api('POST', `/api/v1/agents/${encodeURIComponent(agent)}/${action}`, body);
    say(`${agent} : ${label}.`, true);
  } catch (e) {
    say(`${agent} : ${label} impossible (${e.message}).`, false);
  }
}

function actions(a) {
  const cell = el('td', {});
  const button = (text, action, body, label) => {
    const b = el('button', { type: 'button', 'data-action': action, 'aria-label': `${text} (${a.id})` }, text);
    b.addEventListener('click', () => act(a.id, action, body && body(), label));
    return b;
  };
  if (!a.logged_in) {
    cell.append(button('Connecter', 'login', null, 'connecté'));
    return cell;
  }
  if (a.state === 'paused') {
    cell.append(button('Reprendre', 'unpause', null, 'reprise'));
  } else {
    // The reasons are built when asked for: 1,000 rows of selects cost a second to draw.
    const ask = el('button', { type: 'button', 'data-action': 'ask-pause', 'aria-expanded': 'false', 'aria-label': `Mettre en pause… (${a.id})` }, 'Mettre en pause…');
    ask.addEventListener('click', () => {
      const select = el('select', { 'aria-label': `Motif de pause pour ${a.id}` });
      select.append(...reasons.content.cloneNode(true).children);
      ask.replaceWith(select, button('Confirmer la pause', 'pause', () => ({ reason: select.value }), 'pause demandée'));
      select.focus();
    });
    cell.append(ask);
  }
  if (a.state === 'wrap_up') cell.append(button('Finir le post-appel', 'ready', null, 'post-appel terminé'));
  if (a.state === 'wrap_up' || a.state === 'on_call') {
    // Qualify the agent's last call with one of its queues' codes (free text when they set none).
    const codes = [...new Set(a.queues.flatMap((q) => dispositions[q] || []))];
    const field = codes.length
      ? el('select', { 'aria-label': `Qualification de l'appel de ${a.id}` }, ...codes.map((c) => el('option', { value: c }, c)))
      : el('input', { 'aria-label': `Qualification de l'appel de ${a.id}`, size: '10' });
    cell.append(field, button('Qualifier', 'disposition', () => ({ code: field.value }), 'appel qualifié'));
  }
  if (a.state === 'on_call' && monitorPhone) {
    const b = button('Écouter', 'monitor', () => ({ phone: monitorPhone.value.trim() }), 'écoute lancée sur votre téléphone');
    b.addEventListener('click', (e) => {
      if (!monitorPhone.value.trim()) {
        e.stopImmediatePropagation();
        say('Indiquez d\'abord le compte SIP du téléphone qui écoute.', false);
        monitorPhone.focus();
      }
    }, { capture: true });
    cell.append(b);
  }
  cell.append(button('Déconnecter', 'logout', null, 'déconnexion demandée'));
  return cell;
}

function row(a) {
  const pending = a.pending_pause ? ` (pause « ${a.pending_pause} » après l'appel)` : (a.pending_logout ? ' (déconnexion après l\'appel)' : '');
  return el('tr', { 'data-agent': a.id },
    el('th', { scope: 'row' }, a.id),
    el('td', { class: a.logged_in && !a.registered ? 'unregistered' : `state-${a.state}`, 'data-state': a.state }, stateLabel(a), pending),
    el('td', { 'data-reason': a.reason || '' }, a.reason ? (REASON_FR[a.reason] || a.reason) : ''),
    sinceCell(a.since, { class: 'num' }),
    el('td', { class: a.registered ? '' : 'unregistered' }, a.registered ? 'enregistré' : 'non enregistré'),
    el('td', {}, a.queues.join(', ')),
    el('td', { class: 'num' }, a.calls_answered),
    actions(a));
}

live((s) => {
  dispositions = Object.fromEntries(s.queues.map((q) => [q.name, q.dispositions || []]));
  // Keep a reason being chosen: redraw only rows whose agent changed.
  const tbody = document.querySelector('#agents tbody');
  const old = new Map([...tbody.children].map((r) => [r.dataset.agent, r]));
  const rows = s.agents.map((a) => {
    const key = JSON.stringify(a);
    const r = old.get(a.id);
    if (r && r.dataset.key === key) return r;
    const fresh = row(a);
    fresh.dataset.key = key;
    return fresh;
  });
  tbody.replaceChildren(...rows);
}, document.getElementById('updated'));
startClock();
