// End-to-end check of idp.mjs without a browser: authorization code + PKCE flow with fetch and a hand-made cookie jar.
//
// Usage: node idp-check.mjs                    (starts idp.mjs itself on a free port, stops it with SIGTERM)
//        node idp-check.mjs --issuer URL        (uses a running IdP started with the default client flags)
// Prints every HTTP exchange on stderr and the decoded ID token claims as JSON on stdout; exit 1 on failure.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import assert from 'node:assert/strict';

const CLIENT = { id: 'softswitch-test', secret: 'se:cret/with+chars', redirect: 'http://127.0.0.1:1/callback' };
const { values: args } = parseArgs({ options: { issuer: { type: 'string' } } });
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const log = (...a) => console.error(...a);

// --- IdP process (unless --issuer given) -------------------------------------------------------
let idp;
let issuer = args.issuer;
if (!issuer) {
  idp = spawn(process.execPath, [new URL('idp.mjs', import.meta.url).pathname, '--port', '0',
    '--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--redirect-uri', CLIENT.redirect],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(idp.stdout, 'data');
  issuer = /^IDP READY (\S+)\n$/.exec(line.toString())?.[1];
  assert.ok(issuer, `unexpected first stdout line: ${line}`);
}

// --- Minimal cookie jar: name+path -> value; sent when the request path starts with the cookie path
const jar = new Map();
function storeCookies(res) {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    const attr = Object.fromEntries(attrs.map((a) => [a.split('=')[0].toLowerCase(), a.split('=')[1] ?? true]));
    const key = `${name}|${attr.path ?? '/'}`;
    const gone = !value || (attr.expires && Date.parse(attr.expires) <= Date.now());
    if (gone) jar.delete(key);
    else jar.set(key, { name, value, path: attr.path ?? '/' });
    log(`      Set-Cookie ${name} path=${attr.path ?? '/'}${gone ? ' (deleted)' : ''}; ${attrs.filter((a) => !/^(path|expires)=/i.test(a)).join('; ')}`);
  }
}
const cookieHeader = (url) => [...jar.values()]
  .filter((c) => new URL(url).pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');

// One request, never following redirects; logs the exchange.
async function http(method, url, { headers = {}, form } = {}) {
  const cookie = cookieHeader(url);
  const res = await fetch(url, {
    method, redirect: 'manual',
    headers: { ...headers, ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  log(`${method} ${url}${form ? ` form=${Object.keys(form).join(',')}` : ''}${cookie ? `\n      Cookie: ${cookie.replace(/=[^;]+/g, '=…')}` : ''}`);
  log(`   -> ${res.status}${res.headers.get('location') ? ` Location: ${res.headers.get('location')}` : ''}`);
  storeCookies(res);
  return res;
}

try {
  // 1. Discovery
  const meta = await (await http('GET', `${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(meta.issuer, issuer);

  // 2-7. Authorization request; login only when the IdP asks for it (no SSO session yet).
  async function authorize(login, password) {
    const verifier = b64u(randomBytes(32));
    const state = b64u(randomBytes(16));
    const nonce = b64u(randomBytes(16));
    const authUrl = new URL(meta.authorization_endpoint);
    authUrl.search = new URLSearchParams({
      response_type: 'code', client_id: CLIENT.id, redirect_uri: CLIENT.redirect,
      scope: 'openid profile email groups', state, nonce,
      code_challenge: b64u(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    });
    let res = await http('GET', authUrl.href);
    let location = new URL(res.headers.get('location'), issuer);
    if (location.pathname.startsWith('/interaction/')) {
      res = await http('GET', location.href); // login page
      const html = await res.text();
      const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)[1], issuer).href;
      assert.match(html, /name="login"/);
      assert.match(html, /name="password"/);
      res = await http('POST', action, { form: { login, password: 'wrong' } }); // wrong password refused
      assert.equal(res.status, 401);
      res = await http('POST', action, { form: { login, password } }); // -> 303 to /auth/:uid (resume)
      assert.equal(res.status, 303);
      res = await http('GET', new URL(res.headers.get('location'), issuer).href); // -> 303 to redirect_uri
      location = new URL(res.headers.get('location'), issuer);
    }
    // Do not follow: the code is in the Location of the final redirect to the RP.
    assert.equal(`${location.origin}${location.pathname}`, CLIENT.redirect);
    assert.equal(location.searchParams.get('state'), state);
    assert.equal(location.searchParams.get('iss'), issuer); // RFC 9207 iss parameter
    return { code: location.searchParams.get('code'), verifier, nonce };
  }

  // 8. Token request (client_secret_basic: id and secret are form-urlencoded before base64, RFC 6749 2.3.1)
  async function token({ code, verifier }, auth) {
    const form = { grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect, code_verifier: verifier };
    const headers = {};
    if (auth === 'basic') {
      const enc = (s) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${enc(CLIENT.id)}:${enc(CLIENT.secret)}`).toString('base64')}`;
    } else Object.assign(form, { client_id: CLIENT.id, client_secret: CLIENT.secret });
    const res = await http('POST', meta.token_endpoint, { headers, form });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    return body;
  }

  // 9. Verify the ID token signature against the JWKS and decode its payload.
  const { keys } = await (await http('GET', meta.jwks_uri)).json();
  function idToken(jwt, nonce) {
    const [h, p, s] = jwt.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const key = createPublicKey({ key: keys.find((k) => k.kid === header.kid), format: 'jwk' });
    assert.ok(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')), 'bad signature');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, CLIENT.id);
    assert.equal(claims.nonce, nonce);
    return { header, claims };
  }

  const first = await authorize('marie', 'marie-pass');
  const tokens = await token(first, 'basic');
  const { header, claims } = idToken(tokens.id_token, first.nonce);
  assert.deepEqual(claims.groups, ['softswitch-supervisors']);
  assert.deepEqual(claims.amr, ['pwd', 'otp']);
  assert.equal(claims.preferred_username, 'marie');

  // 10. Userinfo with the access token.
  const userinfo = await (await http('GET', meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  assert.deepEqual(userinfo.groups, ['softswitch-supervisors']);

  // 11. Second authorization with the same cookies: SSO (no login page), and client_secret_post.
  const second = await authorize('marie', 'marie-pass');
  idToken((await token(second, 'post')).id_token, second.nonce);

  // 12. Replaying a code is refused.
  const replay = await http('POST', meta.token_endpoint, { form: { grant_type: 'authorization_code', code: first.code, redirect_uri: CLIENT.redirect, code_verifier: first.verifier, client_id: CLIENT.id, client_secret: CLIENT.secret } });
  assert.equal(replay.status, 400);

  console.log(JSON.stringify({ header, id_token: claims, userinfo, token_response: { ...tokens, access_token: '…', id_token: '…' } }, null, 2));
  log('IDP CHECK OK');
} finally {
  if (idp) {
    idp.kill('SIGTERM');
    const [code, signal] = await once(idp, 'exit');
    log(`idp exited code=${code} signal=${signal}`);
    if (code !== 0) process.exitCode = 1;
  }
}
