// An MCP server (TypeScript SDK) that runs behind `gatehouse gateway` and trusts only the
// gateway's short-lived JWT. The gateway never forwards the client's access token (the MCP spec
// forbids token passthrough); it sends `Authorization: Bearer <JWT>` signed by Gatehouse (EdDSA)
// whose claims say who calls: sub, tenant, client_id, scope, sid, and email/name when shared.
//
//   npm install && \
//   GATEHOUSE_ISSUER=https://auth.example.com UPSTREAM_URL=http://127.0.0.1:4000/mcp PORT=4000 \
//   node server.mjs
//
// UPSTREAM_URL is exactly the URL the gateway was started with (`--upstream`): the gateway puts
// it in `aud`, so a JWT minted for another upstream is refused here.
import express from 'express';
import { createRemoteJWKSet, jwtVerify, errors } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};
const ISSUER = env('GATEHOUSE_ISSUER').replace(/\/$/, '');
const AUDIENCE = env('UPSTREAM_URL');
const PORT = Number(env('PORT', '4000'));
const MAX_AGE_S = 60; // the gateway's JWTs live 60 s at most

// Gatehouse's signing keys, fetched once and again whenever a JWT names an unknown `kid`
// (key rotation), at most every 30 s.
const JWKS = createRemoteJWKSet(new URL(`${ISSUER}/.well-known/jwks.json`), { cooldownDuration: 30_000 });

// `jti`s seen and not yet expired: a JWT is good for one request. With several instances of
// this server, keep this set in a shared store (Redis SET NX with a TTL) instead.
const seen = new Map(); // jti -> exp (seconds)
function firstUse(jti, exp) {
  const now = Date.now() / 1000;
  for (const [k, e] of seen) if (e < now - 5) seen.delete(k);
  if (seen.has(jti)) return false;
  seen.set(jti, exp);
  return true;
}

const verifier = {
  async verifyAccessToken(jwt) {
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt, JWKS, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['EdDSA'],
        maxTokenAge: `${MAX_AGE_S}s`, // also refuses a JWT without `iat`
        clockTolerance: 5,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'tenant', 'client_id'],
      }));
    } catch (e) {
      if (e instanceof errors.JOSEError) throw new InvalidTokenError(`gateway JWT refused: ${e.code}: ${e.message}`);
      throw e;
    }
    if (payload.exp - payload.iat > MAX_AGE_S) throw new InvalidTokenError('gateway JWT refused: lifetime over 60 s');
    if (!firstUse(payload.jti, payload.exp)) throw new InvalidTokenError('gateway JWT refused: jti already used (replay)');
    return {
      token: jwt,
      clientId: payload.client_id,
      scopes: (payload.scope ?? '').split(' ').filter(Boolean),
      expiresAt: payload.exp,
      extra: { claims: payload },
    };
  },
};

function mcpServer() {
  const server = new McpServer({ name: 'upstream-jwt-example', version: '1.0.0' });
  // Who is calling, as the gateway vouched for it.
  server.registerTool('whoami', { description: 'The caller, from the gateway JWT' }, async (extra) => {
    const c = extra.authInfo.extra.claims;
    const who = { sub: c.sub, tenant: c.tenant, client_id: c.client_id, scope: c.scope, sid: c.sid, email: c.email, name: c.name };
    return { content: [{ type: 'text', text: JSON.stringify(who) }] };
  });
  return server;
}

const app = express();
app.use(express.json({ limit: '1mb' }));
const auth = requireBearerAuth({ verifier });
const path = new URL(AUDIENCE).pathname;
app.post(path, auth, async (req, res) => {
  // Stateless: one server and transport per request (each request carries its own JWT).
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.all(path, auth, (req, res) => res.status(405).set('allow', 'POST').end());
app.listen(PORT, '127.0.0.1', () => console.log(`upstream listening on http://127.0.0.1:${PORT}${path}`));
