// Protected MCP server built from the SDK's server pieces. Tokens are checked by RFC 7662
// introspection at a Gatehouse node; every tool call is reported to Gatehouse's audit API.
import express from 'express';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError, ServerError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';

export const TOOL_TEXT = "alice's customers: Initech, Umbrella";
export const SCOPES = ['crm:customers:read', 'crm:customers:export'];

/** cfg is filled in later: { issuer, introspectionBase, clientId, clientSecret }. */
export async function startMcpServer(cfg) {
  const events = []; // introspection results + audit deliveries, for assertions and failure dumps
  const basic = () => `Basic ${Buffer.from(`${cfg.clientId}:${cfg.clientSecret}`).toString('base64')}`;

  const verifier = {
    async verifyAccessToken(token) {
      const res = await fetch(`${cfg.introspectionBase}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token }),
      });
      const text = await res.text();
      events.push({ kind: 'introspect', status: res.status, body: text });
      if (res.status !== 200) throw new ServerError(`introspection HTTP ${res.status}: ${text}`);
      const r = JSON.parse(text);
      if (!r.active) throw new InvalidTokenError('token is not active');
      const aud = Array.isArray(r.aud) ? r.aud[0] : r.aud;
      if (!aud) throw new InvalidTokenError('introspection response has no aud');
      return {
        token, clientId: r.client_id, scopes: (r.scope ?? '').split(' ').filter(Boolean), expiresAt: r.exp,
        resource: new URL(aud), extra: { sub: r.sub, session_id: r.session_id, tenant: r.tenant },
      };
    },
  };

  async function audit(authInfo, parameters) {
    const body = {
      tool: 'list_customers', session_id: authInfo.extra.session_id, sub: authInfo.extra.sub,
      client_id: authInfo.clientId, tenant: authInfo.extra.tenant, scopes: ['crm:customers:read'],
      result: 'success', parameters,
    };
    const res = await fetch(`${cfg.introspectionBase}/audit/v1/events`, {
      method: 'POST', headers: { authorization: basic(), 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).catch((e) => ({ status: 0, text: async () => String(e) }));
    events.push({ kind: 'audit', status: res.status, body: await res.text(), sent: body });
  }

  function mcpServer() {
    const server = new McpServer({ name: 'interop-crm', version: '1.0.0' });
    server.registerTool('list_customers', {
      description: 'List customers', inputSchema: { limit: z.number().int().optional() },
    }, async ({ limit = 10 }, extra) => {
      await audit(extra.authInfo, { limit });
      return { content: [{ type: 'text', text: TOOL_TEXT }] };
    });
    return server;
  }

  const app = express();
  app.use(express.json());
  const httpServer = await new Promise((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
  const url = `http://127.0.0.1:${httpServer.address().port}/mcp`;
  const prmUrl = getOAuthProtectedResourceMetadataUrl(new URL(url));

  app.get(new URL(prmUrl).pathname, (req, res) => res.json({
    resource: url, authorization_servers: [cfg.issuer], scopes_supported: SCOPES,
    bearer_methods_supported: ['header'], resource_name: 'Interop CRM',
  }));
  const auth = requireBearerAuth({ verifier, requiredScopes: ['crm:customers:read'], resourceMetadataUrl: prmUrl, expectedResource: new URL(url) });
  app.post('/mcp', auth, async (req, res) => { // stateless: one server + transport per request
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  app.all('/mcp', auth, (req, res) => res.status(405).set('allow', 'POST').end());

  return {
    url, prmUrl, events,
    close: () => { httpServer.closeAllConnections(); return new Promise((r) => httpServer.close(r)); },
  };
}
