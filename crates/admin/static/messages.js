// The messages page: send a file, or record with the microphone, as a prompt's draft; show the
// cleaned result (player and checks) and publish it for new calls or abandon it; restore a version.
import { api, csrf, el } from './console.js';

const $ = (id) => document.getElementById(id);
const form = $('prepare');
const status = $('status');
const draftBox = $('draft');
const checks = $('checks');
const recordButton = $('record');
let draftName = null;

function say(text, ok = true) {
  status.textContent = text;
  status.className = ok ? 'notice' : 'alert';
}

function busy(on) {
  for (const b of document.querySelectorAll('#prepare button, #draft button')) b.disabled = on && b !== recordButton;
}

const number = (x, digits = 1) => x.toLocaleString('fr-FR', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const seconds = (ms) => (ms >= 60000
  ? `${Math.floor(ms / 60000)} min ${String(Math.floor((ms % 60000) / 1000)).padStart(2, '0')} s`
  : `${number(ms / 1000)} s`);

/// The server's refusals (English in the API) as the page says them.
function refusal(message) {
  const m = message.toLowerCase();
  if (m.includes('silent')) return 'l\'enregistrement est silencieux (aucune voix détectée)';
  if (m.includes('clipped')) return 'l\'enregistrement sature : enregistrez-le de nouveau moins fort';
  if (m.includes('at least')) return 'l\'enregistrement est trop court';
  if (m.includes('at most')) return 'l\'enregistrement est trop long (10 minutes au plus)';
  if (m.includes('prompt name')) return 'nom invalide (lettres minuscules, chiffres, « - » et « _ »)';
  if (m.includes('unsupported') || m.includes('decode')) return `format audio non reconnu (${message})`;
  return message;
}

/// The checks of a cleaned draft, against the limits the server gives in the table's data.
function showChecks(d) {
  const r = d.report;
  const lim = checks.dataset;
  const silence = Number(lim.silenceDbfs);
  const target = Number(lim.targetDbfs);
  const share = Number(lim.clippedShare);
  const rows = [
    ['Durée', seconds(d.duration_ms),
      d.duration_ms >= Number(lim.minMs) && d.duration_ms <= Number(lim.maxMs),
      `conforme (de ${seconds(Number(lim.minMs))} à ${seconds(Number(lim.maxMs))})`, 'hors limites'],
    ['Niveau moyen (RMS)', `${number(r.original_rms_dbfs)} dBFS → ${number(r.rms_dbfs)} dBFS`,
      Math.abs(r.rms_dbfs - target) <= 3 || r.rms_dbfs > target,
      `mis au niveau (cible ${number(target)} dBFS)`, 'gain plafonné : la voix reste faible, rapprochez-vous du micro'],
    ['Crête', `${number(r.peak_dbfs)} dBFS`, r.peak_dbfs <= -0.1, 'sans saturation', 'à la limite de la saturation'],
    ['Écrêtage de l\'original', `${number(r.clipped_share * 100, 2)} % des échantillons`, r.clipped_share <= share,
      r.clipped_share > 0 ? `léger, toléré (au plus ${number(share * 100)} %)` : 'aucun', 'trop d\'écrêtage'],
    ['Silence', `${number(r.rms_dbfs)} dBFS`, r.rms_dbfs > silence, `voix présente (seuil ${number(silence)} dBFS)`, 'silencieux'],
  ];
  checks.tBodies[0].replaceChildren(...rows.map(([what, value, ok, good, bad]) => el('tr', { 'data-check': what },
    el('th', { scope: 'row' }, what), el('td', {}, value), el('td', { class: ok ? 'ok' : 'ko' }, ok ? good : bad))));
}

function showDraft(d) {
  draftName = d.name;
  $('draft-title').textContent = `Résultat nettoyé de « ${d.name} », avant publication`;
  const audio = $('draft-audio');
  audio.src = `/api/v1/prompts/${encodeURIComponent(d.name)}/draft/audio?at=${Date.parse(d.prepared_at)}`;
  showChecks(d);
  draftBox.hidden = false;
  say(`Brouillon de « ${d.name} » prêt (${seconds(d.duration_ms)}) : écoutez-le, puis publiez-le ou abandonnez-le.`);
}

/// Send a recording as the draft of the message named in the form.
async function prepare(blob, type) {
  const name = $('name').value.trim();
  busy(true);
  say('Nettoyage et contrôle en cours…');
  try {
    const r = await fetch(`/api/v1/prompts/${encodeURIComponent(name)}/draft`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf(), 'Content-Type': type || 'application/octet-stream' },
      body: blob,
    });
    let data = null;
    try { data = await r.json(); } catch (_) { /* no body */ }
    if (!r.ok) throw new Error((data && data.error) || `HTTP ${r.status}`);
    showDraft(data);
  } catch (e) {
    draftBox.hidden = true;
    say(`Enregistrement refusé : ${refusal(e.message)}.`, false);
  } finally {
    busy(false);
  }
}

// Microphone: MediaRecorder records in the browser's own format (Opus in WebM for Chromium and
// Firefox, AAC in MP4 for Safari), and the server's decoder (symphonia) has no Opus nor AAC. So the
// recording is decoded here by the Web Audio API (which reads whatever MediaRecorder wrote),
// mixed to mono at 16 kHz, and sent as a 16-bit PCM WAV: one path for every browser, and the
// server cleans it like any uploaded file.
const RATE = 16000;

function wav(samples) {
  const v = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (at, s) => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  text(0, 'RIFF'); v.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVE');
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, RATE, true); v.setUint32(28, RATE * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  text(36, 'data'); v.setUint32(40, samples.length * 2, true);
  samples.forEach((x, i) => {
    const s = Math.max(-1, Math.min(1, x));
    v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  });
  return new Blob([v.buffer], { type: 'audio/wav' });
}

async function toWav(blob) {
  const ctx = new OfflineAudioContext(1, RATE, RATE);
  const buf = await ctx.decodeAudioData(await blob.arrayBuffer());
  const mono = new Float32Array(buf.length);
  for (let c = 0; c < buf.numberOfChannels; c++) {
    buf.getChannelData(c).forEach((x, i) => { mono[i] += x / buf.numberOfChannels; });
  }
  return wav(mono);
}

let recorder = null;

async function startRecording() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, autoGainControl: false } });
  } catch (e) {
    say(`Micro indisponible : ${e.message}. Autorisez le micro pour ce site, ou envoyez un fichier.`, false);
    return;
  }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.addEventListener('dataavailable', (e) => chunks.push(e.data));
  recorder.addEventListener('stop', async () => {
    stream.getTracks().forEach((t) => t.stop());
    const type = recorder.mimeType;
    recorder = null;
    recordButton.textContent = 'Enregistrer au micro';
    recordButton.setAttribute('aria-pressed', 'false');
    try {
      await prepare(await toWav(new Blob(chunks, { type })), 'audio/wav');
    } catch (e) {
      say(`Enregistrement illisible : ${e.message}.`, false);
    }
  });
  recorder.start();
  recordButton.textContent = 'Arrêter l\'enregistrement';
  recordButton.setAttribute('aria-pressed', 'true');
  say('Enregistrement en cours : parlez, puis cliquez sur « Arrêter l\'enregistrement ».');
}

/// The page's buttons (none for a role that may only listen).
function wire() {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    const file = $('file').files[0];
    if (!file) {
      say('Choisissez d\'abord un fichier audio.', false);
      $('file').focus();
      return;
    }
    await prepare(file, file.type);
  });

  recordButton.addEventListener('click', () => {
    if (!form.reportValidity()) return;
    if (recorder) recorder.stop();
    else startRecording();
  });

  $('publish').addEventListener('click', async () => {
    busy(true);
    try {
      await api('POST', `/api/v1/prompts/${encodeURIComponent(draftName)}/publish`);
      window.location.assign(`/messages?done=publish&name=${encodeURIComponent(draftName)}`);
    } catch (e) {
      say(`Publication impossible : ${e.message}.`, false);
      busy(false);
    }
  });

  $('discard').addEventListener('click', async () => {
    try {
      await api('DELETE', `/api/v1/prompts/${encodeURIComponent(draftName)}/draft`);
      draftBox.hidden = true;
      $('draft-audio').removeAttribute('src');
      say(`Brouillon de « ${draftName} » abandonné ; le message en service ne change pas.`);
    } catch (e) {
      say(`Abandon impossible : ${e.message}.`, false);
    }
  });

  for (const b of document.querySelectorAll('button.resume')) {
    b.addEventListener('click', async () => {
      try {
        $('name').value = b.dataset.name;
        showDraft(await api('GET', `/api/v1/prompts/${encodeURIComponent(b.dataset.name)}/draft`));
      } catch (e) {
        say(`Brouillon introuvable : ${e.message}.`, false);
      }
    });
  }

  for (const b of document.querySelectorAll('button.restore')) {
    b.addEventListener('click', async () => {
      const { name, version } = b.dataset;
      b.disabled = true;
      try {
        await api('POST', `/api/v1/prompts/${encodeURIComponent(name)}/restore`, { version: Number(version) });
        window.location.assign(`/messages?done=restore&name=${encodeURIComponent(name)}`);
      } catch (e) {
        say(`Restauration impossible : ${e.message}.`, false);
        b.disabled = false;
      }
    });
  }
}

if (form) wire();
