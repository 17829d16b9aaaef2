// An MCP server (TypeScript SDK, Streamable HTTP) protected by Gatehouse without the gateway:
// it checks every bearer token by RFC 7662 introspection at Gatehouse, enforces the scopes of
// each tool itself, and reports each tool call to Gatehouse's audit API
// (POST /audit/v1/events), so the call lands in the tenant's audit log.
//
//   npm install && \
//   GATEHOUSE_ISSUER=https://auth.example.com MCP_PUBLIC_URL=https://crm.example.com/mcp \
//   INTROSPECTION_CLIENT_ID=rs_... INTROSPECTION_CLIENT_SECRET_FILE=./secret PORT=3000 \
//   node server.mjs
//
// MCP_PUBLIC_URL must equal the resource's `uri` in its Gatehouse catalogue (resource.toml):
// Gatehouse binds each token to that URI (RFC 8707) and answers `active: false` to any other
// resource server that introspects it.
import { readFileSync } from 'node:fs';
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError, ServerError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};
const ISSUER = env('GATEHOUSE_ISSUER');
// Where this server reaches Gatehouse (defaults to the issuer; any node of the cluster will do).
const GATEHOUSE_URL = env('GATEHOUSE_URL', ISSUER).replace(/\/$/, '');
const PUBLIC_URL = new URL(env('MCP_PUBLIC_URL'));
const CLIENT_ID = env('INTROSPECTION_CLIENT_ID');
// Secrets come from a file (or the environment), never from the command line.
const CLIENT_SECRET = process.env.INTROSPECTION_CLIENT_SECRET_FILE
  ? readFileSync(process.env.INTROSPECTION_CLIENT_SECRET_FILE, 'utf8').trim()
  : env('INTROSPECTION_CLIENT_SECRET');
const PORT = Number(env('PORT', '3000'));
const BASIC = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;

// The scopes each tool needs: the same map as the `[[tools]]` of resource.toml.
const TOOL_SCOPES = {
  list_customers: ['crm:customers:read'],
  export_customers: ['crm:customers:read', 'crm:customers:export'],
};
const ALL_SCOPES = [...new Set(Object.values(TOOL_SCOPES).flat())];

/** RFC 7662: ask Gatehouse whether the token is active, and for whom. */
const verifier = {
  async verifyAccessToken(token) {
    const res = await fetch(`${GATEHOUSE_URL}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ token }),
    });
    if (res.status !== 200) throw new ServerError(`introspection failed: HTTP ${res.status}`);
    const r = await res.json();
    // Inactive: revoked, expired, unknown, or issued for another resource.
    if (!r.active) throw new InvalidTokenError('token is not active');
    return {
      token,
      clientId: r.client_id,
      scopes: (r.scope ?? '').split(' ').filter(Boolean),
      expiresAt: r.exp,
      resource: r.aud ? new URL([r.aud].flat()[0]) : undefined,
      // Gatehouse's own claims: who, in which organisation, in which sign-in session.
      extra: { sub: r.sub, tenant: r.tenant, session_id: r.session_id, email: r.email, name: r.name },
    };
  },
};

/** Report a tool call to the tenant's audit log (format: docs/mcp-server-integration.md). */
async function audit(auth, req, tool, scopes, result, parameters, error) {
  const event = {
    tenant: auth.extra.tenant, sub: auth.extra.sub, client_id: auth.clientId, session_id: auth.extra.session_id,
    tool, scopes, result, parameters, error,
    source_ip: req.ip, user_agent: req.get('user-agent') ?? undefined,
    occurred_at: Date.now() * 1000, // microseconds
  };
  try {
    const res = await fetch(`${GATEHOUSE_URL}/audit/v1/events`, {
      method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/json' }, body: JSON.stringify(event),
    });
    if (res.status !== 202) console.error(`audit event refused: HTTP ${res.status} ${await res.text()}`);
  } catch (e) {
    console.error(`audit event not delivered: ${e.message}`); // a real server would queue and retry
  }
}

function mcpServer(req) {
  const server = new McpServer({ name: 'crm-example', version: '1.0.0' });
  server.registerTool('list_customers', {
    description: 'List customers', inputSchema: { limit: z.number().int().min(1).max(100).optional() },
  }, async ({ limit = 10 }, extra) => {
    await audit(extra.authInfo, req, 'list_customers', TOOL_SCOPES.list_customers, 'success', { limit });
    return { content: [{ type: 'text', text: `customers of ${extra.authInfo.extra.email ?? extra.authInfo.extra.sub}: Initech, Umbrella` }] };
  });
  server.registerTool('export_customers', {
    description: 'Export all customers as CSV', inputSchema: { format: z.enum(['csv']).optional() },
  }, async ({ format = 'csv' }, extra) => {
    await audit(extra.authInfo, req, 'export_customers', TOOL_SCOPES.export_customers, 'success', { format });
    return { content: [{ type: 'text', text: 'name\nInitech\nUmbrella\n' }] };
  });
  return server;
}

/**
 * Per-tool scopes, checked before the call reaches the SDK: a `tools/call` whose token lacks a
 * scope is answered 403 `insufficient_scope` naming every scope needed, so that MCP clients step
 * up (RFC 6750 §3.1; MCP 2025-11-25 "Authorization", scope challenge handling).
 */
function requireToolScopes(metadataUrl) {
  return async (req, res, next) => {
    const calls = [req.body].flat().filter((m) => m?.method === 'tools/call');
    for (const call of calls) {
      const tool = call.params?.name;
      const needed = TOOL_SCOPES[tool];
      if (!needed) continue; // unknown tools: the SDK answers with a JSON-RPC error
      const missing = needed.filter((s) => !req.auth.scopes.includes(s));
      if (missing.length) {
        await audit(req.auth, req, tool, needed, 'denied', call.params?.arguments ?? {}, `missing scope ${missing.join(' ')}`);
        const scope = [...new Set([...req.auth.scopes, ...needed])].join(' ');
        res.set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${metadataUrl}"`);
        return res.status(403).json({ error: 'insufficient_scope', error_description: `${tool} needs ${needed.join(' ')}` });
      }
    }
    next();
  };
}

const oauthMetadata = await (await fetch(`${GATEHOUSE_URL}/.well-known/oauth-authorization-server`)).json();
const metadataUrl = getOAuthProtectedResourceMetadataUrl(PUBLIC_URL);
const app = express();
app.set('trust proxy', 'loopback'); // req.ip from X-Forwarded-For when behind a local proxy
app.use(express.json({ limit: '1mb' }));
// RFC 9728 protected resource metadata: tells MCP clients which authorization server to use.
app.use(mcpAuthMetadataRouter({ oauthMetadata, resourceServerUrl: PUBLIC_URL, scopesSupported: ALL_SCOPES, resourceName: 'CRM example' }));
const auth = requireBearerAuth({ verifier, resourceMetadataUrl: metadataUrl, expectedResource: PUBLIC_URL });
app.post(PUBLIC_URL.pathname, auth, requireToolScopes(metadataUrl), async (req, res) => {
  // Stateless: one server and transport per request.
  const server = mcpServer(req);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.all(PUBLIC_URL.pathname, auth, (req, res) => res.status(405).set('allow', 'POST').end());
app.listen(PORT, '127.0.0.1', () => console.log(`MCP server listening on http://127.0.0.1:${PORT}${PUBLIC_URL.pathname}`));
