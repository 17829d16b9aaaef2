// Upstream OpenID Provider: npm oidc-provider 9 over https on 127.0.0.2, dev interactions enabled.
// The client's redirect_uri is only known after Gatehouse created the connection, so
// setRedirectUris() swaps in a new Provider (same keys, same port) with the updated client.
import https from 'node:https';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
// oidc-provider prints NOTICE/WARNING lines about dev interactions and default helpers: mute them.
for (const k of ['info', 'warn']) {
  const orig = console[k];
  console[k] = (...a) => (String(a[0]).includes('oidc-provider ') ? undefined : orig(...a));
}
const { default: Provider } = await import('oidc-provider'); // after muting: it warns at import time

export const ALICE = { sub: 'u-alice', email: 'alice@acme.test', name: 'Alice Example' };

export async function startIdp({ cert, key, clientSecret }) {
  const jwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
  const cookieKeys = [randomBytes(32).toString('hex')];
  let handler = (req, res) => { res.statusCode = 503; res.end('idp not configured'); };
  const server = https.createServer({ cert, key }, (req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  const issuer = `https://127.0.0.2:${server.address().port}`;
  const requests = [];

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
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      conformIdTokenClaims: false, // email/name also land in the ID token, not only at userinfo
      features: { devInteractions: { enabled: true } },
      async findAccount(ctx, id) {
        return { accountId: id, claims: async () => ({ ...ALICE, sub: id, email_verified: true }) };
      },
    });
    const cb = provider.callback();
    handler = (req, res) => { requests.push(`${req.method} ${req.url}`); cb(req, res); };
  }
  configure(['https://127.0.0.2/placeholder']);

  return {
    issuer, requests,
    setRedirectUris: configure,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
