// A minimal OAuth client for Gatehouse: DCR, one authorization-code flow driven by a fresh
// scripted browser, and the token call. Unlike Browser.authorize() it does not throw on an
// error page: it returns where the browser stopped, so tests can assert on refusals.
import { createHash, randomBytes } from 'node:crypto';
import { Browser, parseForm, pageText } from './browser.mjs';

export async function registerClient(issuer, redirectUri, name = 'idtoken-test') {
  const res = await fetch(`${issuer}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      client_name: name, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    }),
  });
  const json = await res.json().catch(() => null);
  if (res.status !== 201 || !json?.client_id) throw new Error(`DCR answered ${res.status}: ${JSON.stringify(json)}`);
  return json.client_id;
}

const inner = (html, tag) => (html.match(new RegExp(`<${tag}\\b[^>]*>([\\s\\S]*?)</${tag}>`, 'i'))?.[1] ?? '').replace(/<[^>]+>/g, '').trim();

/**
 * Runs one flow. `tickScopes`: scope checkboxes the user ticks on the consent page. with a cookie-less browser. Returns
 *   { ok: true, params, token: { status, json }, pages, log }      when the client got a code, or
 *   { ok: false, status, title, h1, text, url, pages, log }        when a page stopped the browser.
 * `pages` lists the HTML pages seen ({ url, status, text, form }), `log` every request.
 */
export async function runFlow({ issuer, clientId, redirectUri, resource, scope, ca, email, tickScopes = [], maxHops = 30 }) {
  const browser = new Browser({ ca, fill: { email } });
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const start = `${issuer}/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, resource, state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  })}`;
  let req = { url: start, method: 'GET' };
  const pages = []; // every HTML page the browser saw: { url, status, text, form }
  for (let hop = 0; hop < maxHops; hop++) {
    const res = await browser.go(req.url, req);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      const next = new URL(res.headers.location, req.url).href;
      if (next.startsWith(redirectUri)) {
        const params = Object.fromEntries(new URL(next).searchParams);
        if (params.error || params.state !== state || !params.code) {
          return { ok: false, status: res.status, title: 'redirect', text: next, url: next, params, pages, log: browser.log };
        }
        const tr = await fetch(`${issuer}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: params.code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId, resource }),
        });
        return { ok: true, params, token: { status: tr.status, json: await tr.json().catch(() => null) }, pages, log: browser.log };
      }
      req = [307, 308].includes(res.status) ? { ...req, url: next } : { url: next, method: 'GET' };
      continue;
    }
    const form = res.status === 200 && parseForm(res.body, req.url, browser.fill);
    // The user ticks these scope checkboxes if the page offers them (unticked boxes are not sent).
    const offered = new Set([...res.body.matchAll(/<input\b[^>]*\bname="scope"[^>]*>/gi)].map(([tag]) => tag.match(/\bvalue="([^"]*)"/i)?.[1]));
    if (form) for (const s of tickScopes) if (offered.has(s) && !form.fields.some(([k, v]) => k === 'scope' && v === s)) form.fields.unshift(['scope', s]);
    pages.push({ url: req.url, status: res.status, text: pageText(res.body), form, offeredScopes: [...offered] });
    if (!form) {
      return { ok: false, status: res.status, title: inner(res.body, 'title'), h1: inner(res.body, 'h1'), text: pageText(res.body), url: req.url, pages, log: browser.log };
    }
    const qs = new URLSearchParams(form.fields).toString();
    req = form.method === 'POST'
      ? { url: form.action, method: 'POST', body: qs, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(req.url).origin } }
      : { url: `${form.action.split('?')[0]}?${qs}`, method: 'GET' };
  }
  throw new Error(`more than ${maxHops} hops:\n${browser.log.join('\n')}`);
}
