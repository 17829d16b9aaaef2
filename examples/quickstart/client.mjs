// The quick start's MCP client: the MCP TypeScript SDK's Client with an OAuth provider, as an MCP
// app uses it. It connects to the resource (default http://127.0.0.1:8090/mcp, the gateway),
// gets a 401, finds Gatehouse through the resource's RFC 9728 metadata, registers itself
// (RFC 7591), prints the sign-in URL for you to open in a browser, receives the authorization
// code on http://127.0.0.1:$CALLBACK_PORT/callback (default 8091), then lists the tools and
// calls two of them.
//   node examples/quickstart/client.mjs [resource URL]
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const RESOURCE = process.argv[2] ?? 'http://127.0.0.1:8090/mcp';
const CALLBACK_PORT = Number(process.env.CALLBACK_PORT ?? 8091);
const REDIRECT_URL = `http://127.0.0.1:${CALLBACK_PORT}/callback`;

// The browser comes back here with the authorization code (RFC 8252 §7.3, loopback redirect).
let delivered;
const callback = new Promise((resolve) => { delivered = resolve; });
const callbackServer = http.createServer((req, res) => {
  const url = new URL(req.url, REDIRECT_URL);
  if (url.pathname !== '/callback') { res.writeHead(404).end(); return; }
  const ok = url.searchParams.has('code');
  res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' })
    .end(ok ? 'Signed in. Go back to the terminal.\n' : `Sign-in failed: ${url.searchParams.get('error')}\n`);
  delivered(url.searchParams);
});
await new Promise((resolve) => callbackServer.listen(CALLBACK_PORT, '127.0.0.1', resolve));

// Everything the SDK's OAuth flow keeps, in memory (a real app would keep it in a keychain).
const store = {};
const provider = {
  get redirectUrl() { return REDIRECT_URL; },
  get clientMetadata() {
    return {
      client_name: 'Gatehouse quick-start client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() { return (store.state = randomBytes(16).toString('base64url')); },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; },
  codeVerifier() { return store.verifier; },
  saveCodeVerifier(verifier) { store.verifier = verifier; },
  redirectToAuthorization(url) {
    console.log('Open this URL in your browser and sign in (alice@example.com / alice-dev-password):');
    console.log(`  ${url.href}`);
  },
};

const connect = async () => {
  const transport = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider });
  const client = new Client({ name: 'gatehouse-quickstart-client', version: '1.0.0' });
  await client.connect(transport);
  return client;
};

let client;
try {
  client = await connect();
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
  const params = await callback;
  if (!params.has('code')) throw new Error(`sign-in failed: ${params.get('error')} ${params.get('error_description') ?? ''}`);
  if (params.get('state') !== store.state) throw new Error('the callback state does not match this sign-in');
  const transport = new StreamableHTTPClientTransport(new URL(RESOURCE), { authProvider: provider });
  await transport.finishAuth(params.get('code'));
  client = await connect();
}
const text = (result) => result.content.map((c) => c.text).join('\n');
const { tools } = await client.listTools();
console.log(`tools: ${tools.map((t) => t.name).join(' ')}`);
console.log(`add_note: ${text(await client.callTool({ name: 'add_note', arguments: { text: 'signed in through Gatehouse' } }))}`);
console.log(`list_notes: ${text(await client.callTool({ name: 'list_notes', arguments: {} })).replace(/\n/g, ' | ')}`);
await client.close();
callbackServer.close();
