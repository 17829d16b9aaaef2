// The comparison peer for bench/run.sh: npm oidc-provider 9 (tests/interop/node_modules) with its
// default in-memory adapter, plain http on 127.0.0.1. Configured like Gatehouse: opaque access
// tokens for one resource (RFC 8707 resource indicators), introspection and revocation enabled,
// a confidential resource-server client for introspection, a public client with
// authorization_code + refresh_token, refresh-token rotation, PKCE required, and a confidential
// machine client for the client_credentials grant (`features.clientCredentials`).
//
// Tokens are minted without a browser through the provider's own models (Grant, AccessToken,
// RefreshToken -- the same objects its authorization_code grant saves), then HTTP is served.
// Writes OUT (same JSON shape as bench/setup.mjs) and keeps serving until SIGTERM.
// Env: PORT, OUT, CHAINS (64).
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { privateJwk } from '../tests/interop/keys.mjs';
import { writeFileSync } from 'node:fs';
for (const k of ['info', 'warn']) { // mute oidc-provider's NOTICE/WARNING lines about defaults
  const orig = console[k];
  console[k] = (...a) => (String(a[0]).includes('oidc-provider ') ? undefined : orig(...a));
}
const { default: Provider, errors } = await import('../tests/interop/node_modules/oidc-provider/lib/index.js');

const PORT = +process.env.PORT;
const CHAINS = +(process.env.CHAINS ?? 64);
const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = 'https://crm.bench.test/mcp';
const SCOPE = 'crm:customers:read crm:customers:export';
const RS_SECRET = randomBytes(24).toString('base64url');
const CC_SECRET = randomBytes(24).toString('base64url');
const RS_INFO = { scope: SCOPE, accessTokenFormat: 'opaque', accessTokenTTL: 900 };

const jwk = privateJwk();
const provider = new Provider(ISSUER, {
  clients: [
    { client_id: 'bench-public', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: ['http://127.0.0.1:9/callback'] },
    { client_id: 'bench-rs', client_secret: RS_SECRET, token_endpoint_auth_method: 'client_secret_basic', grant_types: [], response_types: [], redirect_uris: [] },
    // The client_credentials phase: a machine client with a secret (client_secret_basic), like a
    // Gatehouse service account granted SCOPE on RESOURCE.
    { client_id: 'bench-cc', client_secret: CC_SECRET, token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: SCOPE },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', 'crm:customers:read', 'crm:customers:export'],
  rotateRefreshToken: true,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => { if (resource !== RESOURCE) throw new errors.InvalidTarget(); return RS_INFO; },
    },
  },
  async findAccount(ctx, id) { return { accountId: id, claims: async () => ({ sub: id }) }; },
});

const client = await provider.Client.find('bench-public');
const chains = [];
for (let i = 0; i < CHAINS; i++) {
  const accountId = `u-${i}`;
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addResourceScope(RESOURCE, SCOPE);
  const grantId = await grant.save();
  const authTime = Math.floor(Date.now() / 1000);
  const rt = new provider.RefreshToken({ accountId, client, grantId, scope: SCOPE, resource: RESOURCE, gty: 'authorization_code', authTime, iiat: authTime });
  const at = new provider.AccessToken({ accountId, client, grantId, scope: SCOPE, gty: 'authorization_code' });
  at.resourceServer = new provider.ResourceServer(RESOURCE, RS_INFO);
  chains.push({ access_token: await at.save(), refresh_token: await rt.save() });
}

const server = http.createServer(provider.callback());
server.keepAliveTimeout = 65_000;
await new Promise((r) => server.listen(PORT, '127.0.0.1', r));
writeFileSync(process.env.OUT, JSON.stringify({
  token_url: `${ISSUER}/token`, introspect_url: `${ISSUER}/token/introspection`, client_id: client.clientId,
  introspection_client_id: 'bench-rs', introspection_client_secret: RS_SECRET,
  client_credentials: { client_id: 'bench-cc', client_secret: CC_SECRET, resource: RESOURCE, scope: SCOPE }, chains,
}, null, 1));
console.error(`[peer] oidc-provider listening on ${ISSUER}, ${chains.length} chains minted`);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
