// An upstream OpenID Provider (npm oidc-provider 9, https on 127.0.0.2) imitating the claim
// shapes of Entra ID (issuer with a path, `tid`/`oid`) and Google Workspace (`hd`).
//   startPresetIdp({ cert, key, clientSecret, path: '/<tid>/v2.0', accounts: { login: claims } })
// The dev-interaction login name picks the account; its claims (plus `sub` = login name unless
// given) land in the ID token (conformIdTokenClaims: false). Unknown login names get
// `defaultClaims`. setRedirectUris() swaps in a new Provider (same keys, same port, same issuer).
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { privateJwk } from './keys.mjs';
for (const k of ['info', 'warn']) { // oidc-provider's NOTICE/WARNING lines about dev helpers
  const orig = console[k];
  console[k] = (...a) => (String(a[0]).includes('oidc-provider ') ? undefined : orig(...a));
}
const { default: Provider } = await import('oidc-provider');

export async function startPresetIdp({ cert, key, clientSecret, path = '', accounts = {}, defaultClaims = {} }) {
  const jwk = privateJwk();
  const cookieKeys = [randomBytes(32).toString('hex')];
  const prefix = path.replace(/\/$/, '');
  let handler = (req, res) => { res.statusCode = 503; res.end('idp not configured'); };
  const server = https.createServer({ cert, key }, (req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  const origin = `https://127.0.0.2:${server.address().port}`;
  const issuer = `${origin}${prefix}`;
  const requests = [];
  const issued = []; // claims handed out, per sign-in (for assertion messages)

  function configure(redirectUris) {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: 'gatehouse',
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
      }],
      jwks: { keys: [jwk] },
      cookies: { keys: cookieKeys },
      claims: { openid: ['sub', 'tid', 'oid', 'hd'], email: ['email', 'email_verified'], profile: ['name'] },
      conformIdTokenClaims: false,
      features: { devInteractions: { enabled: true } },
      async findAccount(ctx, id) {
        const claims = { sub: id, ...(accounts[id] ?? defaultClaims) };
        return { accountId: id, claims: async () => { issued.push(claims); return claims; } };
      },
    });
    const cb = provider.callback();
    handler = (req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (prefix) { // mount under the issuer's path, like express's app.use(prefix, ...)
        if (!req.url.startsWith(`${prefix}/`)) { res.statusCode = 404; res.end('not found'); return; }
        req.originalUrl = req.url;
        req.url = req.url.slice(prefix.length);
      }
      cb(req, res);
    };
  }
  configure(['https://127.0.0.2/placeholder']);

  return {
    issuer, origin, requests, issued,
    setRedirectUris: configure,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

/** An https server on 127.0.0.2 answering fixed JSON documents by path (e.g. a bad discovery doc). */
export async function startStaticJson({ cert, key, docs }) {
  const hits = [];
  const server = https.createServer({ cert, key }, (req, res) => {
    hits.push(req.url);
    const doc = docs[req.url.split('?')[0]];
    res.statusCode = doc ? 200 : 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(doc ?? { error: 'not found' }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  return {
    origin: `https://127.0.0.2:${server.address().port}`, hits,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
