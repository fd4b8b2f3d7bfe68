// Test OpenID Connect provider (oidc-provider) for integration tests: plain HTTP on 127.0.0.1, fixed users, password login, automatic consent.
//
// Usage: node idp.mjs --port 0 --client-id ID --client-secret SECRET --redirect-uri URI
//                     [--redirect-uri URI2 ...] [--post-logout-redirect-uri URI]
// Prints exactly one line on stdout once listening: "IDP READY http://127.0.0.1:PORT"
// (that URL is also the issuer, without trailing slash). Everything else goes to stderr.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

// oidc-provider prints its NOTICE lines with console.info (stdout): keep stdout for the READY line.
console.info = console.error;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'softswitch' },
    'client-secret': { type: 'string', default: 'softswitch-secret' },
    'redirect-uri': { type: 'string', multiple: true, default: ['http://127.0.0.1:8080/auth/callback'] },
    'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
  },
});

// Fixed test users. `sub` differs from the login name on purpose (RPs must not confuse them).
const USERS = {
  marie: { password: 'marie-pass', sub: 'user-marie', name: 'Marie Dupont', groups: ['softswitch-supervisors'], amr: ['pwd', 'otp'] },
  paul: { password: 'paul-pass', sub: 'user-paul', name: 'Paul Martin', groups: ['softswitch-clients'], amr: ['pwd'] },
  alice: { password: 'alice-pass', sub: 'user-alice', name: 'Alice Bernard', groups: ['softswitch-admins'], amr: ['pwd', 'otp'] },
};
const BY_SUB = Object.fromEntries(Object.entries(USERS).map(([login, u]) => [u.sub, { login, ...u }]));
const ACR_MFA = 'urn:softswitch:acr:mfa';
const ACR_PWD = 'urn:softswitch:acr:pwd';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
const loginForm = (uid, error = '', login = '') => page('Sign in', `
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
  <label for="login">Username</label> <input id="login" name="login" autocomplete="username" value="${esc(login)}" required>
  <label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button id="submit" type="submit">Sign in</button>
</form>`);

// Bind first so that port 0 is resolved before the issuer (which embeds the port) is known.
const server = createServer();
await new Promise((ok, ko) => { server.once('error', ko); server.listen(Number(args.port), '127.0.0.1', ok); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: args['redirect-uri'],
    post_logout_redirect_uris: args['post-logout-redirect-uri'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    // client_secret_post is accepted too: oidc-provider treats basic/post as interchangeable.
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  responseTypes: ['code'],
  scopes: ['openid'], // plus the scopes named in `claims` below; no offline_access / refresh tokens
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  pkce: { methods: ['S256'], required: () => true },
  // Scope -> claims mapping. acr/amr/auth_time (from the login result) are tied to `openid`,
  // otherwise oidc-provider only puts them in the ID token when asked via acr_values/claims.
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'], profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'], groups: ['groups'], sid: null, iss: null,
  },
  // Put the scope-requested claims (groups, email, ...) in the ID token too, not only at userinfo.
  conformIdTokenClaims: false,
  acrValues: [ACR_PWD, ACR_MFA],
  async findAccount(ctx, sub) {
    const u = BY_SUB[sub];
    if (!u) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: u.login, name: u.name, email: `${u.login}@example.test`, email_verified: true, groups: u.groups };
      },
    };
  },
  // Automatic consent (first-party test client): grant whatever OIDC scopes/claims are requested.
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const grant = (grantId && await Grant.find(grantId))
      || new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
    if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: false }, // they accept any login without a password
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => { ctx.body = page('Sign out', `${form}<button id="submit" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`); },
      postLogoutSuccessSource: async (ctx) => { ctx.body = page('Signed out', '<p>You are signed out.</p>'); },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre>${esc(JSON.stringify(out, null, 2))}</pre>`);
  },
  jwks: { keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-rs256' }] },
  // Plain-HTTP friendly cookies: no `secure`, and SameSite=Lax (browsers drop SameSite=None without Secure).
  cookies: { keys: [randomBytes(32).toString('hex')], long: { signed: true, sameSite: 'lax' }, short: { signed: true, sameSite: 'lax' } },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
const oidc = provider.callback();

const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
};

// Interaction routes (login page) in front of the provider; everything else is oidc-provider's.
server.on('request', async (req, res) => {
  const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
  if (!m) return oidc(req, res);
  try {
    const details = await provider.interactionDetails(req, res); // needs the _interaction cookie
    res.setHeader('Cache-Control', 'no-store');
    if (details.prompt.name !== 'login') {
      // Should not happen (consent is automatic): finish with the grant loadExistingGrant made.
      return await provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
    }
    if (req.method === 'GET' && !m[2]) {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      return res.end(loginForm(details.uid));
    }
    if (req.method === 'POST' && m[2]) {
      const form = await readForm(req);
      const login = form.get('login') ?? '';
      const u = Object.hasOwn(USERS, login) ? USERS[login] : undefined;
      if (!u || form.get('password') !== u.password) {
        res.statusCode = 401;
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        return res.end(loginForm(details.uid, 'Invalid username or password.', login));
      }
      const acr = u.amr.includes('otp') ? ACR_MFA : ACR_PWD;
      return await provider.interactionFinished(req, res, { login: { accountId: u.sub, acr, amr: u.amr } }, { mergeWithLastSubmission: false });
    }
    res.statusCode = 405;
    return res.end();
  } catch (err) {
    console.error('interaction error:', err.message, err.error_description ?? '');
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    return res.end(page('Error', `<p>${esc(err.error_description ?? err.message)}</p>`));
  }
});

const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`IDP READY ${issuer}`);
