// MCP client side: an in-memory OAuthClientProvider driven by the scripted browser, a fetch that
// records all JSON traffic, and an https host for Client ID Metadata Documents.
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

export class MemoryProvider {
  constructor({ redirectUrl, clientName, browser, clientMetadataUrl }) {
    Object.assign(this, { _redirectUrl: redirectUrl, clientName, browser, store: {}, authorizations: [], callback: null, blockAuthorization: false });
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
  }
  get redirectUrl() { return this._redirectUrl; }
  get clientMetadata() {
    return {
      client_name: this.clientName, redirect_uris: [this._redirectUrl], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none',
    };
  }
  state() { return (this.lastState = randomBytes(16).toString('base64url')); }
  clientInformation() { return this.store.client; }
  saveClientInformation(info) { this.store.client = info; }
  tokens() { return this.store.tokens; }
  saveTokens(tokens) { this.store.tokens = tokens; }
  codeVerifier() { return this.store.verifier; }
  saveCodeVerifier(v) { this.store.verifier = v; }
  invalidateCredentials(scope) {
    const drop = { all: ['client', 'tokens', 'verifier'], client: ['client'], tokens: ['tokens'], verifier: ['verifier'], discovery: [] }[scope];
    for (const k of drop) delete this.store[k];
  }
  async redirectToAuthorization(url) {
    this.authorizations.push(url);
    if (this.blockAuthorization) throw new Error('interactive re-authorization requested (blocked in this phase)');
    this.callback = await this.browser.authorize(url, this._redirectUrl);
  }
}

const bodyText = (b) => (b == null ? undefined : typeof b === 'string' ? b : b instanceof URLSearchParams ? b.toString() : '[body]');

/** fetch wrapper recording { method, origin, path, status, request, json } of every request. */
export function recordingFetch(traffic) {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const res = await fetch(input, init);
    const entry = { method: init.method ?? 'GET', origin: url.origin, path: url.pathname, status: res.status, request: bodyText(init.body) };
    if ((res.headers.get('content-type') ?? '').includes('json')) entry.json = await res.clone().json().catch(() => undefined);
    traffic.push(entry);
    return res;
  };
}

/** The standard SDK pattern: connect → UnauthorizedError → browser → finishAuth → connect again. */
export async function connectWithAuth(mcpUrl, provider, traffic) {
  const opts = { authProvider: provider, fetch: recordingFetch(traffic) };
  const first = new StreamableHTTPClientTransport(new URL(mcpUrl), opts);
  const c1 = new Client({ name: 'interop-client', version: '1.0.0' });
  const err = await c1.connect(first).then(() => null, (e) => e);
  if (!(err instanceof UnauthorizedError)) {
    throw new Error(`first connect: expected UnauthorizedError, got ${err?.stack ?? 'success'}`);
  }
  if (!provider.callback) throw new Error('browser did not reach the redirect URI');
  await first.finishAuth(provider.callback.code);
  await c1.close().catch(() => {});
  const client = new Client({ name: 'interop-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), opts));
  return client;
}

/** https host on 127.0.0.2 serving CIMD documents (Cache-Control: max-age=60) and redirects. */
export async function startCimdHost({ cert, key }) {
  const docs = new Map(), redirects = new Map(), hits = [];
  const server = https.createServer({ cert, key }, (req, res) => {
    const path = new URL(req.url, 'https://x').pathname;
    hits.push(path);
    if (redirects.has(path)) { res.writeHead(302, { location: redirects.get(path) }).end(); return; }
    if (!docs.has(path)) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(docs.get(path)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  return {
    base: `https://127.0.0.2:${server.address().port}`, docs, redirects, hits,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
