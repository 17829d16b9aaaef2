// The tenant admin console in a real browser: headless Chromium (Debian's `chromium`) driven by
// npm playwright-core against a live Gatehouse node on PostgreSQL, with a real SMTP server (npm
// smtp-server) receiving the invitation, npm oidc-provider as the tenant's IdP, and pysaml2's
// IdP metadata pasted into the console. Screenshots of every console page are saved under
// tests/interop/.run/console-*/screenshots/ (test artifacts).
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database);
// optional CHROMIUM (default /usr/bin/chromium), SAML_IDP_PYTHON.
// Run: node --test tests/interop/console.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { chromium } from 'playwright-core';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startPresetIdp } from './idp-preset.mjs';
import { ensureSamlPython, startSamlIdp } from './saml-idp.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';
import { scimClient, USER_SCHEMA } from './scim-helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 300_000 };
const EXPORT_SCOPE = 'crm:customers:export'; // sensitive tier
const TOOL = 'export_customers';
const ACCOUNTS = {
  'u-admin': { email: 'admin@acme.test', email_verified: true, name: 'Ada Admin' },
  'u-alice': { email: 'alice@acme.test', email_verified: true, name: 'Alice Example' },
  'u-mallory': { email: 'mallory@acme.test', email_verified: true, name: 'Mallory Forward' },
};
const S = { inbox: [] };
const cleanups = [];
let failed = false;

const step = (name, fn, opts = TIMEOUT) => test(name, opts, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);

/** The decoded text parts of a raw RFC 5322 message (quoted-printable or base64 bodies). */
function mailText(raw) {
  const boundary = raw.match(/boundary="?([^";\r\n]+)"?/i)?.[1];
  const parts = boundary ? raw.split(`--${boundary}`).slice(1, -1) : [raw];
  return parts.map((p) => {
    const [head, ...rest] = p.split(/\r?\n\r?\n/);
    const body = rest.join('\n\n');
    const cte = head.match(/Content-Transfer-Encoding:\s*(\S+)/i)?.[1]?.toLowerCase();
    if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (cte === 'quoted-printable') {
      return Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    }
    return body;
  }).join('\n');
}

async function waitForMail(to, since) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = S.inbox.slice(since).find((x) => x.to.includes(to));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no mail to ${to} within 30s\n${tail(S.node.logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Invite `email` with the operator CLI and return the link from the delivered message. */
async function invite(email) {
  const since = S.inbox.length;
  const out = await cli(S.gh, ['admin', 'invite', '--tenant', 'acme', '--email', email]);
  assert.ok(out.invitation_id, JSON.stringify(out));
  assert.ok(!JSON.stringify(out).includes('/admin/invitations/'), 'the CLI does not print the link');
  const m = await waitForMail(email, since);
  writeFileSync(join(S.runDir, `invitation-${email}.eml`), m.raw);
  const unfolded = m.raw.replace(/\r?\n[ \t]+/g, ' ');
  assert.match(unfolded, /^Subject: \[Gatehouse\] You are invited to administer Acme Corp$/m);
  assert.deepEqual(m.to, [email]);
  const text = mailText(m.raw);
  const link = text.match(new RegExp(`${S.issuer.replace(/[.]/g, '\\.')}/admin/invitations/[A-Za-z0-9_-]+`))?.[0];
  assert.ok(link, `the message carries a link under ${S.issuer}:\n${text}`);
  return link;
}

/** Save a screenshot of the current page as an artifact. */
async function shot(page, name) {
  await page.screenshot({ path: join(S.shots, `${String(++S.shotNo).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** After following a link to the IdP: at the oidc-provider dev interaction log in as `login` and
 *  approve, until back at Gatehouse (no-op when the IdP's session answers at once). */
async function idpLogin(page, login) {
  for (let i = 0; i < 6 && page.url().startsWith(S.idp.origin); i++) {
    const loginBox = page.locator('input[name=login]');
    if (await loginBox.count()) {
      await loginBox.fill(login);
      await page.locator('input[name=password]').fill('any-password');
    }
    await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').first().click()]);
  }
  assert.ok(page.url().startsWith(S.issuer), `back at Gatehouse after the IdP: ${page.url()}\n${await page.locator('body').innerText()}`);
}

/** The console's sign-in page: Gatehouse never leaves for an IdP by itself (a third party can
 *  start any GET: login CSRF), so the person presses its button. Returns the click. */
function pressSignIn(page) {
  assert.match(new URL(page.url()).pathname, /^\/admin\/t\/[^/]+\/login$/, `at the console's sign-in page: ${page.url()}`);
  return page.locator('form[action$="/login"] button[type=submit]').first().click();
}

/** Click `target` (a form's submit button) and expect to land on `pathname`; else show the page. */
async function submit(page, target, pathname) {
  await Promise.all([page.waitForNavigation(), target.click()]);
  const u = new URL(page.url());
  if (u.pathname !== pathname) {
    assert.fail(`expected ${pathname}, at ${page.url()}:\n${await page.locator('body').innerText()}`);
  }
}

const console_ = (path = '/') => `${S.issuer}/admin/t/acme${path}`;

async function introspect(token) {
  const basic = Buffer.from(`${S.introspection.id}:${S.introspection.secret}`).toString('base64');
  const res = await fetch(`${S.issuer}/oauth/introspect`, {
    method: 'POST', body: new URLSearchParams({ token }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
  });
  assert.equal(res.status, 200);
  return res.json();
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `console-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    S.shots = join(S.runDir, 'screenshots');
    S.shotNo = 0;
    mkdirSync(S.shots, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);

    S.smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, done) {
        let raw = '';
        stream.on('data', (d) => { raw += d; });
        stream.on('end', () => { S.inbox.push({ to: session.envelope.rcptTo.map((r) => r.address), raw }); done(); });
      },
    });
    const smtpPort = await freePort();
    await new Promise((resolve) => S.smtp.listen(smtpPort, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => S.smtp.close(resolve)));

    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const port = await freePort();
    S.issuer = `http://127.0.0.1:${port}`;
    S.gh = {
      bin, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: S.issuer, GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        // The console fetches what tenant admins type through the public fetcher (review F3):
        // the test IdP on 127.0.0.2 stands in for a public one.
        GATEHOUSE_CONSOLE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_CONSOLE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, GATEHOUSE_MAIL_FROM: 'Gatehouse <no-reply@gatehouse.test>',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    await cli(S.gh, ['migrate']);
    S.tenantId = (await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test'])).tenant_id;
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"
display_name = "Acme CRM"
[[scopes]]
name = "crm:customers:read"
description = "Read customers"
tier = "routine"
[[scopes]]
name = "${EXPORT_SCOPE}"
description = "Export the customer list"
tier = "sensitive"
[[scopes]]
name = "crm:billing:write"
description = "Change billing"
tier = "critical"
[[tools]]
name = "${TOOL}"
scopes = ["${EXPORT_SCOPE}"]
`);
    const res = await cli(S.gh, ['resource', 'register', '--file', toml]);
    S.introspection = { id: res.introspection_client_id, secret: res.introspection_client_secret };

    S.idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startPresetIdp({ ...S.pki, clientSecret: S.idpSecret, accounts: ACCOUNTS });
    cleanups.push(() => S.idp.close());
    const python = ensureSamlPython((l) => appendFileSync(join(S.runDir, 'venv-saml.log'), `${l}\n`));
    S.samlIdp = await startSamlIdp({ python, port: await freePort(), dir: join(tmp, 'saml'), preset: 'okta', logFile: join(S.runDir, 'saml-idp.log') });
    cleanups.push(() => S.samlIdp.close());

    S.node = await startNode(S.gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerPublicClient(S.issuer, S.redirectUri);

    const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
    assert.ok(existsSync(executablePath), `Chromium is needed at ${executablePath} (apt-get install -y chromium)`);
    S.browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    cleanups.push(() => S.browser.close());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs and screenshots: ${S.runDir}`, tail(join(S.runDir, 'node.log'), 80), tail(join(S.runDir, 'cli.log'), 40)].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('an invited admin sets up SSO, SAML, SCIM and grants, audits and revokes in the console', async (t) => {
  const ctx = await S.browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept()); // the console's confirmations
  const text = () => page.locator('body').innerText();

  // 1. The invitation, from the SMTP server's inbox. Opening it consumes nothing.
  const link = await invite('admin@acme.test');
  await page.goto(link);
  await shot(page, 'invitation');
  assert.match(await text(), /Administer Acme Corp/);
  assert.equal(sql(`SELECT count(*) FROM admin_invitations WHERE accepted_at IS NOT NULL`), '0', 'a GET does not accept');
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await page.waitForURL(console_('/'));
  assert.match(await text(), /Setup-only session/);
  await shot(page, 'setup-overview');

  // 2. In the setup-only session: the tenant's OIDC IdP (oidc-provider).
  await page.goto(console_('/connections/new?kind=oidc'));
  await page.fill('#name', 'Acme SSO');
  await page.fill('#issuer', S.idp.issuer);
  await page.fill('#client_id', 'gatehouse');
  await page.fill('#client_secret', S.idpSecret);
  await shot(page, 'connection-new-oidc');
  await submit(page, page.getByRole('button', { name: 'Add connection' }), '/admin/t/acme/connections');
  const redirectUri = await page.locator('input[value*="/federation/oidc/"]').first().inputValue();
  assert.match(redirectUri, new RegExp(`^${S.issuer}/federation/oidc/[^/]+/callback$`));
  S.idp.setRedirectUris([redirectUri]);
  assert.match(await page.locator('section.panel', { hasText: 'Acme SSO' }).innerText(), /pending: for the invitee's sign-in only/);
  await shot(page, 'connections-setup');

  // 3. Sign in through it as the invited address: the admin role is bound.
  await page.goto(console_('/'));
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Sign in through your identity provider' }).click()]);
  await shot(page, 'console-sign-in-page');
  await Promise.all([page.waitForNavigation(), pressSignIn(page)]);
  assert.ok(page.url().startsWith(S.idp.origin), `at the IdP: ${page.url()}`);
  await idpLogin(page, 'u-admin');
  await page.waitForURL(console_('/'));
  const overview = await text();
  assert.doesNotMatch(overview, /Setup-only session/);
  assert.match(overview, /admin@acme\.test · explicit \(invitation\)/);
  await shot(page, 'overview');
  const signIn1 = sql(`SELECT count(*) FROM audit_events WHERE action = 'user.signed_in'`);

  // 3b. The connection added during setup signs in nobody else until the admin enables it.
  const early = await signIn({ base: S.issuer, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri,
    resource: S.resource, scope: EXPORT_SCOPE, email: 'alice@acme.test', login: 'u-alice' });
  assert.equal(early.end.params, undefined, `a pending connection serves no end user: ${describeEnd(early.end)}`);
  assert.match(early.end.text, /has no sign-in method configured yet/);
  await page.goto(console_('/connections'));
  const sso = page.locator('section.panel', { hasText: 'Acme SSO' });
  await submit(page, sso.getByRole('button', { name: 'Enable' }), '/admin/t/acme/connections');
  assert.match(await sso.innerText(), /enabled/);

  // 3c. "Test sign-in" on the connection: the claims as received, no session, audited.
  await Promise.all([page.waitForNavigation(), sso.getByRole('link', { name: 'Test sign-in' }).click()]);
  await Promise.all([page.waitForNavigation(), pressSignIn(page)]);
  await idpLogin(page, 'u-admin');
  const claims = await text();
  assert.match(claims, /Test sign-in succeeded/, claims);
  assert.match(claims, /admin@acme\.test/);
  assert.match(claims, /u-admin/);
  await shot(page, 'connection-test');
  assert.equal(sql(`SELECT count(*) FROM audit_events WHERE action = 'connection.tested'`), '1');
  assert.equal(sql(`SELECT count(*) FROM audit_events WHERE action = 'user.signed_in'`), signIn1, 'a test starts no session');

  // 4. A SAML connection by pasting the IdP's metadata; then disabled, so users keep one way in.
  await page.goto(console_('/connections/new?kind=saml'));
  await page.fill('#name', 'Okta SAML');
  await page.selectOption('#preset', 'okta');
  await page.fill('#metadata', S.samlIdp.metadata());
  await shot(page, 'connection-new-saml');
  await submit(page, page.getByRole('button', { name: 'Add connection' }), '/admin/t/acme/connections');
  const saml = page.locator('section.panel', { hasText: 'Okta SAML' });
  assert.match(await saml.innerText(), /SAML[\s\S]*enabled[\s\S]*acs url/i);
  assert.ok(await saml.locator('input[value*="/federation/saml/"]').count() >= 2, 'the SP values are shown');
  await shot(page, 'connections');
  await submit(page, saml.getByRole('button', { name: 'Disable' }), '/admin/t/acme/connections');
  assert.match(await page.locator('section.panel', { hasText: 'Okta SAML' }).innerText(), /disabled/);
  assert.equal(sql(`SELECT enabled FROM connections WHERE name = 'Okta SAML'`), 'f');

  // 5. A SCIM token (shown once), used by the "IdP" to push Alice and the Sales group.
  await page.goto(console_('/scim'));
  await page.fill('#name', 'Directory sync');
  await page.getByRole('button', { name: 'Create token' }).click();
  const scimToken = await page.locator('#secret').inputValue();
  assert.match(scimToken, /^ghscim_/);
  const scim = scimClient({ base: S.issuer, slug: 'acme', token: scimToken, logFile: join(S.runDir, 'scim-http.log') });
  const alice = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'alice@acme.test', externalId: 'u-alice', active: true, emails: [{ value: 'alice@acme.test', primary: true }] });
  assert.equal(alice.status, 201, alice.text);
  const sales = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Sales', members: [{ value: alice.json.id }] });
  assert.equal(sales.status, 201, sales.text);
  const bob = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'bob@acme.test', externalId: 'u-bob', active: true, displayName: 'Bob Provisioned' });
  assert.equal(bob.status, 201, bob.text);
  const bad = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'alice@acme.test' });
  assert.equal(bad.status, 409, 'a duplicate userName is refused');
  await page.goto(console_('/scim'));
  const scimPage = await text();
  assert.match(scimPage, /Directory sync\s+active/);
  assert.doesNotMatch(scimPage, /Last sync: never/);
  assert.match(scimPage, /POST \/scim\/v2\/acme\/Users\s+409/, 'the failed request is listed');
  await shot(page, 'scim');

  // 6. The sensitive export scope, to the Sales group.
  await page.goto(console_('/apps'));
  const crm = page.locator('section.panel', { hasText: 'Acme CRM' });
  await crm.locator(`input[value="${EXPORT_SCOPE}"]`).check();
  await crm.locator('select[name=group]').selectOption({ label: 'Group: Sales' });
  await submit(page, crm.getByRole('button', { name: 'Grant' }), '/admin/t/acme/apps');
  const row = page.locator('tr', { hasText: EXPORT_SCOPE }).first();
  assert.match(await row.innerText(), /Sales/);
  assert.ok(await page.locator('.badge.tier-sensitive').count() >= 1, 'tier badges');
  await shot(page, 'apps');

  // 7. Alice signs in with an MCP client and gets the export scope; the resource server reports
  //    a tool call to /audit/v1/events.
  const r = await signIn({ base: S.issuer, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri,
    resource: S.resource, scope: EXPORT_SCOPE, email: 'alice@acme.test', login: 'u-alice' });
  assert.equal(r.tokenStatus, 200, `alice's sign-in: ${r.end.params ? JSON.stringify(r.token) : describeEnd(r.end)}`);
  assert.equal(r.token.scope, EXPORT_SCOPE);
  const active = await introspect(r.token.access_token);
  assert.equal(active.active, true);
  const basic = Buffer.from(`${S.introspection.id}:${S.introspection.secret}`).toString('base64');
  const call = await fetch(`${S.issuer}/audit/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${basic}` },
    body: JSON.stringify({ tenant: S.tenantId, sub: active.sub, client_id: S.clientId, tool: TOOL, scopes: [EXPORT_SCOPE], result: 'success', parameters: { format: 'csv' } }),
  });
  assert.equal(call.status, 202, await call.text());

  // 8. The audit log: the tool call and the token record, their details, the chain status.
  await page.goto(console_(`/audit?tool=${TOOL}`));
  assert.match(await text(), /Chain verified/);
  const toolRow = page.locator('tbody tr', { hasText: 'tool.called' });
  assert.equal(await toolRow.count(), 1, await text());
  assert.match(await toolRow.innerText(), new RegExp(`tool ${TOOL}`));
  await shot(page, 'audit-tool-calls');
  await toolRow.locator('a').first().click();
  await page.waitForURL(/\/audit\/events\/\d+$/);
  const detail = await text();
  assert.match(detail, new RegExp(TOOL));
  assert.match(detail, /"format": "csv"/);
  assert.match(detail, new RegExp(`resource:${S.introspection.id}`));
  await shot(page, 'audit-record');
  await page.goto(console_('/audit?action=token.'));
  assert.ok(await page.locator('tbody tr', { hasText: 'token.issued' }).count() >= 1, await text());
  await shot(page, 'audit-tokens');

  // 9. Export the filtered result as CSV (streamed), and as JSON Lines.
  await page.goto(console_('/audit?action=tool.'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  const csvFile = join(S.runDir, 'audit-export.csv');
  await download.saveAs(csvFile);
  const csv = readFileSync(csvFile, 'utf8').trim().split('\n');
  assert.equal(csv[0], 'id,seq,occurred_at,action,result,actor,user_id,client_id,session_id,resource,scope,source_ip,user_agent,details,hash');
  assert.equal(csv.length, 2, `one tool call exported:\n${csv.join('\n')}`);
  assert.match(csv[1], new RegExp(`tool\\.called,success,resource:${S.introspection.id},${active.sub},`));
  const jsonlRes = await page.request.get(console_('/audit/export.jsonl?action=token.')); // the browser's cookies
  assert.equal(jsonlRes.status(), 200);
  assert.match(jsonlRes.headers()['content-type'], /application\/x-ndjson/);
  const jsonl = await jsonlRes.text();
  const lines = jsonl.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.action === 'token.issued' && l.user_id === active.sub), jsonl);

  // 10. Revoke Alice's app from her user page: her token is inactive at the next introspection.
  await page.goto(console_('/users'));
  const users = await text();
  assert.match(users, /alice@acme\.test\s+Alice Example\s+Acme SSO\s+active/, 'signed-in users, with their connection');
  assert.match(users, /Provisioned by SCIM, not signed in yet[\s\S]*bob@acme\.test\s+Bob Provisioned\s+u-bob\s+active/);
  assert.doesNotMatch(users.split('Provisioned by SCIM')[1], /alice@acme\.test/, 'a linked SCIM user is listed once');
  await shot(page, 'users');
  await page.goto(console_('/users?q=alice'));
  await page.getByRole('link', { name: 'alice@acme.test' }).click();
  await page.waitForURL(/\/users\/[^/]+$/);
  const appRow = page.locator('tr', { hasText: 'Acme CRM' });
  assert.match(await appRow.innerText(), new RegExp(EXPORT_SCOPE));
  assert.ok(await page.locator('tr', { hasText: 'Acme SSO' }).count() >= 1, 'an active session is listed');
  await shot(page, 'user');
  await appRow.getByRole('button', { name: 'Revoke' }).click();
  await page.waitForURL(/\/users\/[^/]+$/);
  assert.match(await text(), /No connected app\./);
  assert.equal((await introspect(r.token.access_token)).active, false, 'revoked in the console: inactive at once');

  // 11. Block the MCP client: its next authorization is refused with access_denied.
  await page.goto(console_('/clients'));
  const clientRow = page.locator('tr', { hasText: S.clientId });
  assert.match(await clientRow.innerText(), /dynamic \(DCR\)[\s\S]*permitted/);
  await shot(page, 'clients');
  await submit(page, clientRow.getByRole('button', { name: 'Block' }), '/admin/t/acme/clients');
  assert.match(await page.locator('tr', { hasText: S.clientId }).innerText(), /blocked/);
  const blocked = await signIn({ base: S.issuer, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri,
    resource: S.resource, scope: EXPORT_SCOPE, email: 'alice@acme.test', login: 'u-alice' });
  assert.equal(blocked.end.params?.error, 'access_denied', describeEnd(blocked.end));

  // 12. The remaining pages, for the record.
  for (const [path, name, expect] of [
    ['/domains', 'domains', /acme\.test\s+verified/],
    ['/settings', 'settings', /admin@acme\.test/],
  ]) {
    await page.goto(console_(path));
    assert.match(await text(), expect, `${path}`);
    await shot(page, name);
  }
  t.diagnostic(`screenshots: ${S.shots}`);
  await ctx.close();
});

step('the first admin of a new organisation signs in through a SAML connection added in the setup session', async () => {
  await cli(S.gh, ['tenant', 'create', '--slug', 'globex', '--name', 'Globex', '--domain', 'globex.test']);
  const python = ensureSamlPython(() => {});
  const idp = await startSamlIdp({ python, port: await freePort(), dir: join(S.runDir, 'saml-globex'), preset: 'okta',
    logFile: join(S.runDir, 'saml-idp-globex.log'), extraArgs: ['--email', 'it@globex.test'] });
  cleanups.push(() => idp.close());
  const since = S.inbox.length;
  await cli(S.gh, ['admin', 'invite', '--tenant', 'globex', '--email', 'it@globex.test']);
  const m = await waitForMail('it@globex.test', since);
  const link = mailText(m.raw).match(/http:\/\/127\.0\.0\.1:\d+\/admin\/invitations\/[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link, 'the invitation carries its link');
  const ctx = await S.browser.newContext();
  const page = await ctx.newPage();
  await page.goto(link);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Accept invitation' }).click()]);
  await page.goto(`${S.issuer}/admin/t/globex/connections/new?kind=saml`);
  await page.fill('#name', 'Globex Okta');
  await page.selectOption('#preset', 'okta');
  await page.fill('#metadata', idp.metadata());
  await submit(page, page.getByRole('button', { name: 'Add connection' }), '/admin/t/globex/connections');
  const metadataUrl = await page.locator('input[value$="/metadata"]').first().inputValue();
  const sp = await fetch(metadataUrl);
  assert.equal(sp.status, 200);
  await idp.setSpMetadata(await sp.text());
  // The IdP answers at once (auto-posted form): ACS → completion → the console.
  await page.goto(`${S.issuer}/admin/t/globex/`);
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Sign in through your identity provider' }).click()]);
  await Promise.all([page.waitForURL(`${S.issuer}/admin/t/globex/`, { waitUntil: 'load' }), pressSignIn(page)]);
  await page.waitForLoadState('load');
  const body = await page.locator('body').innerText();
  assert.doesNotMatch(body, /Setup-only session/, body);
  assert.match(body, /it@globex\.test · explicit \(invitation\)/);
  const [ar] = (await idp.requests()).slice(-1);
  assert.equal(ar.force_authn_bool, true, `a console sign-in asks for a fresh authentication (ForceAuthn): ${ar.force_authn}`);
  await shot(page, 'globex-overview-after-saml');
  // The connection is still pending for users until this admin enables it.
  assert.equal(sql(`SELECT enabled FROM connections WHERE name = 'Globex Okta'`), 'f');
  // Signing in again (as after the 15-minute window) still works through the pending
  // connection (its invitation is bound to this admin), and comes back to the page asked for.
  const requestsBefore = (await idp.requests()).length;
  await page.goto(`${S.issuer}/admin/t/globex/login?step_up=1&return=/admin/t/globex/connections`);
  assert.equal((await idp.requests()).length, requestsBefore, 'no AuthnRequest before the person presses the button');
  await Promise.all([page.waitForURL(`${S.issuer}/admin/t/globex/connections`), pressSignIn(page)]);
  assert.equal((await idp.requests()).length, requestsBefore + 1, 'one more AuthnRequest');
  const globex = page.locator('section.panel', { hasText: 'Globex Okta' });
  await submit(page, globex.getByRole('button', { name: 'Enable' }), '/admin/t/globex/connections');
  assert.equal(sql(`SELECT enabled FROM connections WHERE name = 'Globex Okta'`), 't');
  // A return path outside this tenant's console is ignored (no open redirect).
  await page.goto(`${S.issuer}/admin/t/globex/login?step_up=1&return=https://evil.example/`);
  await Promise.all([page.waitForURL(`${S.issuer}/admin/t/globex/`), pressSignIn(page)]);
  await ctx.close();
});

step('a forwarded invitation used by someone with another IdP email grants no admin role', async () => {
  const ctx = await S.browser.newContext({ ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  const link = await invite('carol@acme.test');
  await page.goto(link);
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await page.waitForURL(console_('/'));
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Sign in through your identity provider' }).click()]);
  await Promise.all([page.waitForNavigation(), pressSignIn(page)]);
  await idpLogin(page, 'u-mallory');
  await page.waitForURL(console_('/'));
  const body = await page.locator('body').innerText();
  assert.match(body, /You signed in as mallory@acme\.test/);
  assert.match(body, /Setup-only session/);
  await shot(page, 'forwarded-invitation');
  const settings = await page.goto(console_('/settings'));
  assert.equal(settings.status(), 403, 'no admin page for the forwarded link');
  const mallory = sql(`SELECT id FROM users WHERE email = 'mallory@acme.test'`);
  assert.equal(sql(`SELECT count(*) FROM tenant_admins WHERE user_id = ${q(mallory)}`), '0');
  assert.equal(sql(`SELECT count(*) FROM audit_events WHERE action = 'admin.invitation_email_mismatch'`), '1');
  // The used link cannot be accepted again.
  const again = await page.goto(link);
  assert.equal(again.status(), 410);
  await ctx.close();
});
