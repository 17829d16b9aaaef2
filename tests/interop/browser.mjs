// A scripted headless "browser": cookie jar, manual redirects, and auto-submission of the first
// <form> on every HTML page, until the user agent is sent to the OAuth client's redirect URI.
import http from 'node:http';
import https from 'node:https';

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x2F': '/', '#47': '/' };
const decode = (s) => s.replace(/&(#x?[0-9a-f]+|\w+);/gi, (m, e) =>
  ENTITIES[e] ?? (e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : +e.slice(1)) : m));
const attrs = (tag) => Object.fromEntries([...tag.matchAll(/([\w:-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?/g)]
  .slice(1).map(([, k, v]) => [k.toLowerCase(), v === undefined ? '' : decode(v.replace(/^["']|["']$/g, ''))]));
export const pageText = (html) => html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, '').replace(/<[^>]+>/g, ' ')
  .replace(/\s+/g, ' ').trim().slice(0, 2000);

/** Raw HTTP(S) request without any redirect handling. Like a browser, it sends a request once
 * more on a fresh connection when a reused keep-alive connection turns out to have been closed
 * by the server before it read anything (Node's documented `reusedSocket` pattern); nothing
 * else is retried. */
export function request(url, { method = 'GET', headers = {}, body, ca, localAddress } = {}, retried = false) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, ca, localAddress }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => {
      if (!retried && req.reusedSocket && e.code === 'ECONNRESET') {
        resolve(request(url, { method, headers, body, ca, localAddress }, true));
      } else reject(e);
    });
    req.end(body);
  });
}

/** Parse the first form of a page into { action, method, fields: [[name, value]] }. */
export function parseForm(html, pageUrl, fill) {
  const m = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  if (!m) return null;
  const f = attrs(`<form ${m[1]}>`);
  const fields = [];
  const buttons = [];
  for (const [tag, name] of m[2].matchAll(/<(input|button|textarea|select)\b[^>]*>/gi)) {
    const a = attrs(tag);
    const type = (a.type ?? (name.toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
    if (!a.name && type !== 'submit') continue;
    if (type === 'submit' || type === 'image') { if (a.name) buttons.push([a.name, a.value ?? '']); continue; }
    if ((type === 'checkbox' || type === 'radio') && !('checked' in a)) continue;
    if (type === 'button' || type === 'reset' || 'disabled' in a) continue;
    fields.push([a.name, fill[a.name] ?? a.value ?? (type === 'checkbox' ? 'on' : '')]);
  }
  const preferred = buttons.find(([, v]) => /^(allow|approve|confirm|continue|accept|yes)$/i.test(v)) ?? buttons[0];
  if (preferred) fields.push(preferred);
  return { action: new URL(f.action || pageUrl, pageUrl).href, method: (f.method || 'GET').toUpperCase(), fields };
}

export class Browser {
  /** `localAddress`: the source address of its connections (a loopback address of its own is a
   * network of its own to per-source limits). */
  constructor({ ca, fill = {}, maxHops = 30, localAddress } = {}) {
    Object.assign(this, { ca, fill, maxHops, localAddress, jar: new Map(), log: [], pages: [] });
  }

  cookieHeader(u) {
    const jar = this.jar.get(u.host) ?? new Map();
    return [...jar.values()].filter((c) => u.pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
  }

  storeCookies(u, setCookie = []) {
    if (!this.jar.has(u.host)) this.jar.set(u.host, new Map());
    const jar = this.jar.get(u.host);
    for (const line of setCookie) {
      const [nv, ...params] = line.split(';').map((s) => s.trim());
      const i = nv.indexOf('=');
      const c = { name: nv.slice(0, i), value: nv.slice(i + 1), path: '/' };
      let expired = false;
      for (const p of params) {
        const [k, v = ''] = p.split('=');
        if (/^path$/i.test(k)) c.path = v || '/';
        if (/^max-age$/i.test(k) && +v <= 0) expired = true;
        if (/^expires$/i.test(k) && Date.parse(v) < Date.now()) expired = true;
      }
      const key = `${c.name};${c.path}`;
      if (expired || c.value === '') jar.delete(key); else jar.set(key, c);
    }
  }

  async go(url, { method = 'GET', body, headers = {} } = {}) {
    const u = new URL(url);
    const cookie = this.cookieHeader(u);
    const h = { 'user-agent': 'gatehouse-interop-browser', accept: 'text/html', ...headers, ...(cookie && { cookie }) };
    const res = await request(u, { method, body, headers: h, ca: this.ca, localAddress: this.localAddress });
    this.storeCookies(u, res.headers['set-cookie']);
    this.log.push(`${method} ${u.href} -> ${res.status}${res.headers.location ? ` ${res.headers.location}` : ''}`);
    return res;
  }

  /** Drive the user agent from startUrl until it is redirected to redirectUrl; return that URL's params. */
  async authorize(startUrl, redirectUrl) {
    let req = { url: startUrl, method: 'GET' };
    for (let hop = 0; hop < this.maxHops; hop++) {
      const res = await this.go(req.url, req);
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        const next = new URL(res.headers.location, req.url).href;
        if (next.startsWith(String(redirectUrl))) {
          const params = Object.fromEntries(new URL(next).searchParams);
          if (params.error) throw new Error(`authorization error at redirect: ${next}\n${this.log.join('\n')}`);
          return params;
        }
        req = [307, 308].includes(res.status) ? { ...req, url: next } : { url: next, method: 'GET' };
        continue;
      }
      if (res.status === 200) this.pages.push({ url: req.url, text: pageText(res.body) });
      const form = res.status === 200 && parseForm(res.body, req.url, this.fill);
      if (!form) throw new Error(`unexpected page (HTTP ${res.status}) at ${req.url}: ${pageText(res.body)}\n${this.log.join('\n')}`);
      const qs = new URLSearchParams(form.fields).toString();
      req = form.method === 'POST'
        ? { url: form.action, method: 'POST', body: qs, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(req.url).origin } }
        : { url: `${form.action.split('?')[0]}?${qs}`, method: 'GET' };
    }
    throw new Error(`more than ${this.maxHops} hops:\n${this.log.join('\n')}`);
  }
}
