// SIP over WebSocket from Chromium (RFC 7118): the upgrade needs the "sip" subprotocol; OPTIONS
// over ws:// and wss://; agent1 registers over ws:// with digest, then is rung over its own
// connection when the test (asked with WAIT) sends a caller to its queue, and declines with 486.
import { launch, ask, stopAsking } from './lib.mjs';
import { createHash } from 'node:crypto';

const { WS, WSS } = process.env;
const md5 = (s) => createHash('md5').update(s).digest('hex');
const browser = await launch(['--ignore-certificate-errors']);
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const page = await context.newPage();
page.on('console', (m) => console.log(`page: ${m.text()}`));
await page.exposeFunction('md5', md5);
await page.exposeFunction('askTest', ask);

const fail = (why) => { throw new Error(why); };
const out = await page.evaluate(async ({ WS, WSS }) => {
  // A SIP connection: every message kept; `next` waits for one matching.
  const connect = (url, protocols) => new Promise((resolve) => {
    const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
    const conn = { ws, inbox: [], waiters: [] };
    ws.onmessage = (e) => {
      conn.inbox.push(e.data);
      conn.waiters.forEach((w) => w());
    };
    ws.onopen = () => resolve(conn);
    ws.onerror = () => resolve(null);
  });
  const next = (conn, pred, ms = 5000) => new Promise((resolve, reject) => {
    const look = () => {
      const i = conn.inbox.findIndex(pred);
      if (i >= 0) { resolve(conn.inbox.splice(i, 1)[0]); return true; }
      return false;
    };
    if (look()) return;
    const timer = setTimeout(() => reject(new Error(`nothing matching within ${ms} ms`)), ms);
    conn.waiters.push(() => { if (look()) clearTimeout(timer); });
  });
  const header = (msg, name) => {
    const head = msg.split('\r\n\r\n')[0];
    const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line ? line.slice(line.indexOf(':') + 1).trim() : null;
  };
  const token = () => Math.random().toString(36).slice(2, 12);
  const host = `${token()}.invalid`;
  const report = {};

  // Without the subprotocol: refused at the upgrade.
  report.noSubprotocol = (await connect(WS)) === null;

  for (const [name, url, via] of [['ws', WS, 'WS'], ['wss', WSS, 'WSS']]) {
    const c = await connect(url, 'sip');
    if (!c) return { ...report, [name]: 'no connection' };
    report[`${name}Protocol`] = c.ws.protocol;
    const callId = token();
    c.ws.send(`OPTIONS sip:${new URL(url).host} SIP/2.0\r\nVia: SIP/2.0/${via} ${host};branch=z9hG4bK${token()}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@${host}>;tag=${token()}\r\nTo: <sip:${new URL(url).host}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
    const r = await next(c, (m) => m.startsWith('SIP/2.0 ') && m.includes(callId));
    report[`${name}Options`] = r.split('\r\n')[0];
    report[`${name}Via`] = header(r, 'Via');
    c.ws.close();
  }

  // agent1 registers over ws:// (digest), then is rung on this connection.
  const c = await connect(WS, 'sip');
  const server = new URL(WS).host;
  const callId = token();
  const fromTag = token();
  let cseq = 1;
  const register = (auth) => `REGISTER sip:${server} SIP/2.0\r\nVia: SIP/2.0/WS ${host};branch=z9hG4bK${token()}\r\nMax-Forwards: 70\r\nFrom: <sip:agent1@${server}>;tag=${fromTag}\r\nTo: <sip:agent1@${server}>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq++} REGISTER\r\nContact: <sip:agent1@${host};transport=ws>\r\nExpires: 600\r\n${auth}User-Agent: chromium-ws-test\r\nContent-Length: 0\r\n\r\n`;
  c.ws.send(register(''));
  const challenge = await next(c, (m) => m.startsWith('SIP/2.0 401'));
  const ch = header(challenge, 'WWW-Authenticate');
  const realm = /realm="([^"]*)"/.exec(ch)[1];
  const nonce = /nonce="([^"]*)"/.exec(ch)[1];
  const uri = `sip:${server}`;
  const cnonce = token();
  const ha1 = await window.md5(`agent1:${realm}:agent1`);
  const ha2 = await window.md5(`REGISTER:${uri}`);
  const response = await window.md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${ha2}`);
  c.ws.send(register(`Authorization: Digest username="agent1", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"\r\n`));
  const ok = await next(c, (m) => m.startsWith('SIP/2.0 ') && !m.startsWith('SIP/2.0 100'));
  report.register = ok.split('\r\n')[0];
  await window.askTest('registered');
  const invite = await next(c, (m) => m.startsWith('INVITE '), 10000);
  report.inviteLine = invite.split('\r\n')[0];
  report.inviteVia = header(invite, 'Via');
  const reply = (code, reason) => {
    const head = invite.split('\r\n\r\n')[0].split('\r\n').slice(1);
    const keep = head.filter((l) => /^(via|from|call-id|cseq):/i.test(l));
    const to = head.find((l) => /^to:/i.test(l));
    return `SIP/2.0 ${code} ${reason}\r\n${keep.join('\r\n')}\r\n${to};tag=br${token()}\r\nContent-Length: 0\r\n\r\n`;
  };
  c.ws.send(reply(180, 'Ringing'));
  c.ws.send(reply(486, 'Busy Here'));
  await next(c, (m) => m.startsWith('ACK '));
  report.acked = true;
  c.ws.close();
  return report;
}, { WS, WSS });
stopAsking();
console.log(`REPORT ${JSON.stringify(out)}`);
if (!out.noSubprotocol) fail('an upgrade without the sip subprotocol was accepted');
for (const n of ['ws', 'wss']) {
  if (out[`${n}Protocol`] !== 'sip') fail(`${n}: subprotocol ${out[`${n}Protocol`]}`);
  if (out[`${n}Options`] !== 'SIP/2.0 200 OK') fail(`${n}: OPTIONS got ${out[`${n}Options`]}`);
}
if (out.register !== 'SIP/2.0 200 OK') fail(`REGISTER got ${out.register}`);
if (!/^SIP\/2\.0\/WS /.test(out.inviteVia)) fail(`the INVITE's Via: ${out.inviteVia}`);
await browser.close();
