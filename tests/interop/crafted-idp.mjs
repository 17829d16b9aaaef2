// A hand-rolled OpenID Provider over https on 127.0.0.2 whose ID tokens each test scenario
// builds itself (wrong iss/aud/nonce, alg none, HS256, expired, rotated keys, auth_time, ...).
//
//   const idp = await startCraftedIdp({ cert, key, clientSecret });
//   idp.idToken = async (ctx) => ctx.sign({ ...ctx.claims, aud: 'someone-else' });
//
// `ctx` = { issuer, clientId, clientSecret, nonce, now, claims (the default, valid claim set),
//           sign(claims, { alg, kid, key, header }) (RS256 with the current key by default),
//           unsigned(claims) (alg none), hs256(claims) (HMAC with the client secret) }.
import https from 'node:https';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, exportJWK } from 'jose';
import { keyPair } from './keys.mjs';

export const SUBJECT = { sub: 'u-crafted-alice', email: 'alice@acme.test', name: 'Alice Crafted' };

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

async function newKey(kid) {
  const { publicKey, privateKey } = keyPair();
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
  return { kid, publicKey, privateKey, jwk };
}

export const defaultIdToken = (ctx) => ctx.sign(ctx.claims);

export async function startCraftedIdp({ cert, key, clientSecret, clientId = 'gatehouse' }) {
  const state = {
    keys: [await newKey('k1')], // the first key signs; all are published
    codes: new Map(),
    authRequests: [], // URLSearchParams of every /authorize call
    tokenRequests: [], // { params, ok, error }
    requests: [], // "METHOD path -> status"
    idToken: defaultIdToken,
    expiresIn: 300,
  };

  const send = (res, status, body, headers = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(text);
  };

  async function token(req, res, body) {
    const params = new URLSearchParams(body);
    const rec = { params: Object.fromEntries(params), ok: false };
    state.tokenRequests.push(rec);
    const fail = (status, error, description) => { rec.error = `${error}: ${description}`; send(res, status, { error, error_description: description }); };
    // client_secret_basic (RFC 6749 §2.3.1: form-urlencoded id and secret inside Basic).
    const m = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return fail(401, 'invalid_client', 'client_secret_basic required');
    const decoded = Buffer.from(m[1], 'base64').toString();
    const i = decoded.indexOf(':');
    const [id, secret] = [decoded.slice(0, i), decoded.slice(i + 1)].map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    const a = Buffer.from(secret), b = Buffer.from(clientSecret);
    if (id !== clientId || a.length !== b.length || !timingSafeEqual(a, b)) return fail(401, 'invalid_client', 'bad client credentials');
    if (params.get('grant_type') !== 'authorization_code') return fail(400, 'unsupported_grant_type', String(params.get('grant_type')));
    const auth = state.codes.get(params.get('code'));
    state.codes.delete(params.get('code'));
    if (!auth) return fail(400, 'invalid_grant', 'unknown or used code');
    if (params.get('redirect_uri') !== auth.get('redirect_uri')) return fail(400, 'invalid_grant', 'redirect_uri mismatch');
    if (auth.get('code_challenge_method') !== 'S256') return fail(400, 'invalid_grant', 'PKCE S256 was not used');
    const verifier = params.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== auth.get('code_challenge')) return fail(400, 'invalid_grant', 'PKCE verifier mismatch');

    const now = Math.floor(Date.now() / 1000);
    const issuer = server.issuer;
    const nonce = auth.get('nonce');
    const current = state.keys[0];
    const ctx = {
      issuer, clientId, clientSecret, nonce, now, authRequest: auth,
      claims: { iss: issuer, aud: clientId, sub: SUBJECT.sub, email: SUBJECT.email, email_verified: true, name: SUBJECT.name, nonce, iat: now, exp: now + 300, auth_time: now },
      sign: (claims, { alg = 'RS256', kid = current.kid, key: k = current.privateKey, header = {} } = {}) =>
        new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(k),
      unsigned: (claims) => `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claims)}.`,
      hs256: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(clientSecret)),
    };
    const idToken = await state.idToken(ctx);
    rec.ok = true;
    rec.idToken = idToken;
    const out = { access_token: randomBytes(24).toString('base64url'), token_type: 'Bearer', expires_in: state.expiresIn };
    if (idToken !== undefined) out.id_token = idToken;
    send(res, 200, out);
  }

  async function handle(req, res) {
    const u = new URL(req.url, server.issuer);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString();
    const issuer = server.issuer;
    if (req.method === 'GET' && u.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'email', 'profile'],
      });
    }
    if (req.method === 'GET' && u.pathname === '/jwks') return send(res, 200, { keys: state.keys.map((k) => k.jwk) });
    if (req.method === 'GET' && u.pathname === '/authorize') {
      const q = u.searchParams;
      state.authRequests.push(q);
      const redirect = q.get('redirect_uri');
      if (!redirect || q.get('client_id') !== clientId || q.get('response_type') !== 'code') return send(res, 400, 'bad authorization request');
      const code = randomBytes(16).toString('base64url');
      state.codes.set(code, q);
      const to = new URL(redirect);
      to.searchParams.set('code', code);
      if (q.has('state')) to.searchParams.set('state', q.get('state'));
      return send(res, 302, '', { location: to.href });
    }
    if (req.method === 'POST' && u.pathname === '/token') return token(req, res, body);
    return send(res, 404, 'not found');
  }

  const server = https.createServer({ cert, key }, (req, res) => {
    handle(req, res)
      .catch((e) => { if (!res.headersSent) send(res, 500, String(e?.stack ?? e)); })
      .finally(() => state.requests.push(`${req.method} ${req.url} -> ${res.statusCode}`));
  });
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  server.issuer = `https://127.0.0.2:${server.address().port}`;

  return {
    issuer: server.issuer,
    get authRequests() { return state.authRequests; },
    get tokenRequests() { return state.tokenRequests; },
    get requests() { return state.requests; },
    get currentKid() { return state.keys[0].kid; },
    /** The function that builds each ID token (see the header); `defaultIdToken` when null. */
    set idToken(fn) { state.idToken = fn ?? defaultIdToken; },
    /** Replace the signing key by a new one with a new kid; the JWKS then serves only it. */
    async rotateKey(kid = `k${Date.now().toString(36)}`) { state.keys = [await newKey(kid)]; return kid; },
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
