// The MCP TypeScript SDK client against a protected MCP server, with MCP step-up authorization
// (MCP 2025-11-25 "Authorization", scope challenge handling) done the way a real client app
// must do it with this SDK version.
//
// Why the provider drops its refresh token on `insufficient_scope`: on a 403
// `insufficient_scope` the SDK's transport (client/streamableHttp.js, send()) calls auth() with
// the challenged scope, and auth() (client/auth.js, authInternal) *refreshes* whenever it holds a
// refresh token; a refresh cannot widen a grant (RFC 6749 §6), so the retry gets the same 403 and
// the transport gives up ("Server returned 403 after trying upscoping"). A client that wants the
// step-up to succeed must make auth() start a new authorization instead: the provider forgets
// the refresh token as soon as the fetch sees the challenge. Nothing else is changed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { MemoryProvider } from './client.mjs';

/** `WWW-Authenticate: Bearer k="v", ...` → { k: v } (RFC 6750 §3). */
export function bearerParams(header) {
  if (!header) return {};
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
}

export class StepUpProvider extends MemoryProvider {
  constructor(opts) { super(opts); this.challenges = []; }
  /** Called by stepUpFetch when the server asks for more scope. */
  insufficientScope(params) {
    this.challenges.push(params);
    if (this.store.tokens) {
      const { refresh_token: _dropped, ...rest } = this.store.tokens;
      this.store.tokens = rest;
    }
  }
}

/**
 * A fetch recording { method, origin, path, status, request, json, wwwAuthenticate } of every
 * request, that tells the provider of a scope challenge (403 insufficient_scope).
 */
export function stepUpFetch(traffic, provider) {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const entry = { method: init.method ?? 'GET', origin: url.origin, path: url.pathname, request: typeof init.body === 'string' || init.body instanceof URLSearchParams ? String(init.body) : undefined };
    traffic.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    entry.wwwAuthenticate = res.headers.get('www-authenticate') ?? undefined;
    if ((res.headers.get('content-type') ?? '').includes('application/json')) entry.json = await res.clone().json().catch(() => undefined);
    const p = bearerParams(entry.wwwAuthenticate);
    if (res.status === 403 && p.error === 'insufficient_scope') provider.insufficientScope(p);
    return res;
  };
}

/**
 * An MCP session at `url` through the standard SDK pattern: connect → UnauthorizedError →
 * the scripted browser signs in → finishAuth → connect again. Returns { client, transport }.
 */
export async function connect(url, provider, traffic) {
  const opts = { authProvider: provider, fetch: stepUpFetch(traffic, provider) };
  let transport = new StreamableHTTPClientTransport(new URL(url), opts);
  let client = new Client({ name: 'gateway-interop-client', version: '1.0.0' });
  const err = await client.connect(transport).then(() => null, (e) => e);
  if (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    if (!provider.callback) throw new Error('browser did not reach the redirect URI');
    await transport.finishAuth(provider.callback.code);
    await client.close().catch(() => {});
    transport = new StreamableHTTPClientTransport(new URL(url), opts);
    client = new Client({ name: 'gateway-interop-client', version: '1.0.0' });
    await client.connect(transport);
  }
  return { client, transport };
}

/**
 * One tool call, with the application's half of the redirect flow: when the SDK had to send the
 * user to the authorization server (UnauthorizedError after a 401 or a step-up), finish the
 * authorization with the code the browser brought back and call again. Returns
 * { result, reauthorized }.
 */
export async function callTool(session, provider, name, args = {}, opts = {}) {
  const call = () => session.client.callTool({ name, arguments: args }, undefined, opts);
  const before = provider.authorizations.length;
  try {
    return { result: await call(), reauthorized: false };
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || provider.authorizations.length === before) throw e;
    await session.transport.finishAuth(provider.callback.code);
    return { result: await call(), reauthorized: true };
  }
}
