// Login CSRF and session swap across tenants (security review F1), end to end in Debian's
// Chromium (playwright-core). A victim signed in to `acme` visits pages of an attacker who runs
// the `mallory` tenant with an auto-approving IdP (crafted-idp.mjs: it answers every
// authorization at once, as an attacker's IdP can). The attacker's pages try every way in
// that the review found: /oauth/authorize?login_hint=…, a cross-site POST to /admin, and
// /admin/t/mallory/login. Expected: no request reaches any IdP, the victim's session cookie is
// untouched, a sign-in the victim does complete asks before replacing the session, and the
// victim's MCP client keeps getting tokens for the victim's own account.
// Env: GATEHOUSE_BIN, DATABASE_URL.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startCraftedIdp } from './crafted-idp.mjs';
import { freePort, createDatabase, registerPublicClient } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 240_000 };
const READ = 'crm:customers:read';
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

async function introspect(token) {
  const basic = Buffer.from(`${S.rs.id}:${S.rs.secret}`).toString('base64');
  const res = await fetch(`${S.issuer}/oauth/introspect`, {
    method: 'POST', body: new URLSearchParams({ token }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
  });
  assert.equal(res.status, 200);
  return res.json();
}

/** An authorization request of the MCP client, with its PKCE verifier. */
function authorizeUrl(extra = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const url = `${S.issuer}/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: S.clientId, redirect_uri: S.clientCb, scope: READ, resource: S.resource,
    state: randomBytes(8).toString('base64url'), code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), ...extra,
  })}`;
  return { url, verifier };
}

const newContext = () => S.browser.newContext({ ignoreHTTPSErrors: true });

async function tokenFor(code, verifier) {
  const res = await fetch(`${S.issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: S.clientId, redirect_uri: S.clientCb, resource: S.resource }),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

/** The person signs in on Gatehouse's login page with `email` and allows the client. */
async function signInAndAllow(page, email) {
  const { url, verifier } = authorizeUrl();
  await page.goto(url);
  await page.locator('input[name=email]').fill(email);
  await Promise.all([page.waitForURL(/\/consent\?tx=/), page.getByRole('button', { name: 'Continue' }).click()]);
  await Promise.all([page.waitForURL(`${S.clientCb}**`), page.getByRole('button', { name: 'Allow' }).click()]);
  const got = S.codes.at(-1);
  assert.ok(got?.code, `a code for ${email}: ${JSON.stringify(got)}`);
  return tokenFor(got.code, verifier);
}

const sessionCookie = async (ctx) => (await ctx.cookies(S.issuer)).find((c) => c.name === 'gh_session')?.value;

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `login-csrf-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-login-csrf-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const port = await freePort();
    S.issuer = `http://127.0.0.1:${port}`;
    S.gh = {
      bin, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: S.issuer, GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    // The victim's organisation and its IdP (which, with a live IdP session, also answers at once).
    const acmeSecret = randomBytes(24).toString('base64url');
    S.acmeIdp = await startCraftedIdp({ ...S.pki, clientSecret: acmeSecret });
    cleanups.push(() => S.acmeIdp.close());
    // The attacker's organisation: its IdP approves anything and asserts the victim's address.
    const evilSecret = randomBytes(24).toString('base64url');
    S.evilIdp = await startCraftedIdp({ ...S.pki, clientSecret: evilSecret });
    S.evilIdp.idToken = (ctx) => ctx.sign({ ...ctx.claims, sub: 'u-attacker', email: 'victim@acme.test', name: 'Attacker' });
    cleanups.push(() => S.evilIdp.close());

    await cli(S.gh, ['migrate']);
    S.acmeId = (await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test'])).tenant_id;
    S.evilId = (await cli(S.gh, ['tenant', 'create', '--slug', 'mallory', '--name', 'Mallory Inc', '--domain', 'mallory.test'])).tenant_id;
    await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.acmeIdp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], acmeSecret);
    await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'mallory', '--issuer', S.evilIdp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], evilSecret);
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"\ndisplay_name = "CRM"\n[[scopes]]\nname = "${READ}"\ndescription = "Read customers"\ntier = "routine"\n`);
    const res = await cli(S.gh, ['resource', 'register', '--file', toml]);
    S.rs = { id: res.introspection_client_id, secret: res.introspection_client_secret };
    for (const t of ['acme', 'mallory']) await cli(S.gh, ['grant', 'add', '--tenant', t, '--resource', S.resource, '--scopes', READ]);
    S.node = await startNode(S.gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    // The MCP client's https redirect URI (an https redirect: the client's identity is assured,
    // so remembered consent may be silent), served on 127.0.0.2 with the test PKI.
    S.codes = [];
    S.client = https.createServer({ cert: S.pki.cert, key: S.pki.key }, (req, res) => {
      const u = new URL(req.url, 'https://x');
      if (u.pathname === '/cb') S.codes.push(Object.fromEntries(u.searchParams));
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<title>client</title><p>back at the client</p>');
    });
    await new Promise((r) => S.client.listen(0, '127.0.0.2', r));
    cleanups.push(() => { S.client.closeAllConnections(); return new Promise((r) => S.client.close(r)); });
    S.clientCb = `https://127.0.0.2:${S.client.address().port}/cb`;
    S.clientId = await registerPublicClient(S.issuer, S.clientCb);

    // The attacker's web site, on another site (127.0.0.3): three pages, one per way in.
    S.attacker = http.createServer((req, res) => {
      const hint = authorizeUrl({ login_hint: 'anyone@mallory.test' }).url;
      const pages = {
        '/hint': `<script>location.href = ${JSON.stringify(hint)}</script>`,
        '/front-door': `<form method="post" action="${S.issuer}/admin"><input name="email" value="anyone@mallory.test"></form><script>document.forms[0].submit()</script>`,
        '/console': `<script>location.href = ${JSON.stringify(`${S.issuer}/admin/t/mallory/login`)}</script>`,
      };
      const body = pages[new URL(req.url, 'http://x').pathname];
      res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' });
      res.end(body ?? 'not found');
    });
    await new Promise((r) => S.attacker.listen(0, '127.0.0.3', r));
    S.attackerOrigin = `http://127.0.0.3:${S.attacker.address().port}`;
    cleanups.push(() => new Promise((r) => S.attacker.close(r)));

    const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
    assert.ok(existsSync(executablePath), `Chromium is needed at ${executablePath}`);
    S.browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    cleanups.push(() => S.browser.close());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, tail(join(S.runDir, 'node.log'), 80),
      `==> attacker IdP requests <==\n${(S.evilIdp?.requests ?? []).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('an attacker-run IdP cannot plant its session in a victim browser or capture the victim\'s MCP client', async () => {
  // The attacker consents once for the same client, in their own browser.
  const attackerCtx = await newContext();
  const evilToken = await signInAndAllow(await attackerCtx.newPage(), 'anyone@mallory.test');
  assert.equal((await introspect(evilToken.access_token)).tenant, S.evilId);
  await attackerCtx.close();
  const evilAuthorizations = S.evilIdp.authRequests.length;

  // The victim signs in to acme and connects the client.
  const ctx = await newContext();
  const page = await ctx.newPage();
  const first = await signInAndAllow(page, 'alice@acme.test');
  const victim = await introspect(first.access_token);
  assert.equal(victim.tenant, S.acmeId);
  const cookie = await sessionCookie(ctx);
  assert.ok(cookie, 'the victim has a Gatehouse session');

  // 1. /oauth/authorize?login_hint=…@mallory.test from another site: the login page, pre-filled.
  await page.goto(`${S.attackerOrigin}/hint`);
  await page.waitForURL(/\/login\?tx=/);
  assert.equal(await page.locator('input[name=email]').inputValue(), 'anyone@mallory.test');
  // 2. A cross-site POST to the console's front door, and 3. the tenant's console sign-in URL:
  // each stops at a Gatehouse page with a button.
  await page.goto(`${S.attackerOrigin}/front-door`);
  await page.waitForURL(`${S.issuer}/admin/t/mallory/login`);
  assert.match(await page.locator('h1').innerText(), /Mallory Inc admin console/);
  await page.goto(`${S.attackerOrigin}/console`);
  await page.waitForURL(`${S.issuer}/admin/t/mallory/login`);
  assert.equal(S.evilIdp.authRequests.length, evilAuthorizations, 'no request reached the attacker\'s IdP');
  assert.equal(await sessionCookie(ctx), cookie, 'the victim\'s session cookie is untouched');

  // 4. Had the victim pressed Continue on the pre-filled page, the completed sign-in would still
  // ask before replacing the live session; the victim stays.
  await page.goto(`${S.attackerOrigin}/hint`);
  await page.waitForURL(/\/login\?tx=/);
  await Promise.all([page.waitForURL(/\/federation\/oidc\/.*\/callback/), page.getByRole('button', { name: 'Continue' }).click()]);
  const ask = await page.locator('body').innerText();
  assert.match(ask, /Switch account\?/);
  assert.match(ask, /alice@acme\.test at Acme Corp/);
  assert.match(ask, /victim@acme\.test at Mallory Inc/);
  await Promise.all([page.waitForURL(`${S.issuer}/account`), page.getByRole('button', { name: /Stay signed in as/ }).click()]);
  assert.equal(await sessionCookie(ctx), cookie, 'still the victim\'s own session');

  // The victim's MCP client authorizes again (no hint): silent, for the victim's own account.
  const { url, verifier } = authorizeUrl();
  await page.goto(url);
  await page.waitForURL(`${S.clientCb}**`);
  const again = await tokenFor(S.codes.at(-1).code, verifier);
  const after = await introspect(again.access_token);
  assert.equal(after.active, true);
  assert.equal(after.tenant, S.acmeId, 'a token of the victim\'s tenant, not the attacker\'s');
  assert.equal(after.sub, victim.sub, 'for the victim\'s own account');
  await ctx.close();
});
