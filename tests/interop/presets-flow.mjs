// Helpers for presets.test.mjs: a private database per test file, psql queries, DCR, and a
// sign-in driver that reports where the browser ended instead of throwing on error pages.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { Browser, parseForm, pageText } from './browser.mjs';

// A port free now, for a server another process opens later. It is drawn below the kernel's
// ephemeral range (32768-60999 here): a port the kernel handed out (listen(0)) could be taken,
// before the server opens it, as the local port of any outgoing connection of the tests running
// beside this one (a quick-start client once failed with EADDRINUSE that way).
const probe = (port) => new Promise((resolve) => {
  const s = net.createServer().once('error', () => resolve(false))
    .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});
export const freePort = async () => {
  for (let i = 0; i < 100; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await probe(port)) return port;
  }
  throw new Error('no free port found in 20000-31999');
};

const withDb = (url, db) => { const u = new URL(url); u.pathname = `/${db}`; return u.href; };

/** psql -tAc: one row per line, columns separated by '|'. */
export const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
export const sqlQuote = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** A fresh database on the server of `serverUrl` (whose own database is left alone). */
export function createDatabase(serverUrl) {
  const name = `gh_interop_${randomBytes(6).toString('hex')}`;
  const admin = withDb(serverUrl, 'postgres');
  psql(admin, `CREATE DATABASE ${name}`);
  return {
    name, url: withDb(serverUrl, name),
    drop: () => psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

export async function registerPublicClient(base, redirectUri) {
  const res = await fetch(`${base}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ client_name: 't', redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }),
  });
  const json = await res.json().catch(() => ({}));
  if (res.status !== 201) throw new Error(`DCR: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json.client_id;
}

/**
 * Drive a fresh browser from Gatehouse's /oauth/authorize until it reaches redirectUri
 * ({ params }) or stops on a page without a form / a non-2xx page ({ status, url, body, text }).
 */
export async function drive(browser, startUrl, redirectUri, maxHops = 30) {
  let req = { url: startUrl, method: 'GET' };
  for (let hop = 0; hop < maxHops; hop++) {
    const res = await browser.go(req.url, req);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      const next = new URL(res.headers.location, req.url).href;
      if (next.startsWith(redirectUri)) return { params: Object.fromEntries(new URL(next).searchParams), log: browser.log };
      req = [307, 308].includes(res.status) ? { ...req, url: next } : { url: next, method: 'GET' };
      continue;
    }
    const form = res.status === 200 && parseForm(res.body, req.url, browser.fill);
    if (!form) return { status: res.status, url: req.url, body: res.body, text: pageText(res.body), log: browser.log };
    const qs = new URLSearchParams(form.fields).toString();
    req = form.method === 'POST'
      ? { url: form.action, method: 'POST', body: qs, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(req.url).origin } }
      : { url: `${form.action.split('?')[0]}?${qs}`, method: 'GET' };
  }
  throw new Error(`more than ${maxHops} hops:\n${browser.log.join('\n')}`);
}

/**
 * One sign-in: authorize (PKCE S256) with a fresh browser typing `email` at Gatehouse and
 * `login` at the IdP; if a code comes back, redeem it. Returns { end, token?, tokenStatus? }.
 */
export async function signIn({ base, ca, clientId, redirectUri, resource, scope, email, login }) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('hex');
  const url = `${base}/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, state, resource,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  })}`;
  const browser = new Browser({ ca, fill: { email, login, password: 'any-password' } });
  const end = await drive(browser, url, redirectUri);
  if (!end.params) return { end };
  if (end.params.error || end.params.state !== state) return { end };
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: end.params.code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId }),
  });
  return { end, tokenStatus: res.status, token: await res.json().catch(() => null) };
}

export const describeEnd = (end) => end.params
  ? `redirected to client with ${JSON.stringify(end.params)}`
  : `stopped on HTTP ${end.status} at ${end.url}: ${end.text}\n${end.log.join('\n')}`;
