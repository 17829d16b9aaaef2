// The console's guided connection set-up in a real browser (issue 16 §3): headless Chromium
// (Debian's `chromium`) driven by npm playwright-core against a live Gatehouse node on
// PostgreSQL. For every IdP (Entra ID, Okta, Google Workspace, other) and protocol (OIDC, SAML)
// it walks step 1 → step 2 → step 3, checking that the values to paste and the must-have box come
// before any secret is asked for; it completes an Okta OIDC set-up against npm oidc-provider and
// an Okta SAML one against pysaml2 using only the values step 2 showed, with "Test sign-in"
// succeeding; it checks a refused form shows the error at its field with the input kept; and it
// crawls every console page reachable from the navigation for bare UUIDs (allowed only inside
// elements marked `class="id"` or `data-id`: the labelled id of a detail view).
// Screenshots: tests/interop/.run/console-guided-*/screenshots/ (test artifacts).
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database);
// optional CHROMIUM (default /usr/bin/chromium).
// Run: node --test tests/interop/console-guided.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { chromium } from 'playwright-core';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startPresetIdp } from './idp-preset.mjs';
import { ensureSamlPython, startSamlIdp } from './saml-idp.mjs';
import { freePort, psql, createDatabase, registerPublicClient } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const ACCOUNTS = {
  'u-admin': { email: 'admin@acme.test', email_verified: true, name: 'Ada Admin' },
};
const IDPS = [['entra', 'Microsoft Entra ID'], ['okta', 'Okta'], ['google', 'Google Workspace'], ['generic', 'Other provider']];
const MUST_HAVE = {
  'entra-oidc': /auth_time/, 'entra-saml': /objectidentifier/, 'okta-oidc': /Refresh Token/,
  'okta-saml': /Persistent[\s\S]*user\.getInternalProperty\("id"\)/, 'google-oidc': /Internal/,
  'google-saml': /Employee ID/, 'generic-oidc': /sub/, 'generic-saml': /persistent NameID/,
};
const S = { inbox: [] };
const cleanups = [];
let failed = false;

const step = (name, fn, opts = TIMEOUT) => test(name, opts, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const console_ = (path = '/') => `${S.issuer}/admin/t/acme${path}`;

async function shot(page, name) {
  await page.screenshot({ path: join(S.shots, `${String(++S.shotNo).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function waitForMail(to, since) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = S.inbox.slice(since).find((x) => x.to.includes(to));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no mail to ${to} within 30s\n${tail(S.node.logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The invitation link mailed to `email` (quoted-printable soft breaks undone). */
async function invite(email) {
  const since = S.inbox.length;
  await cli(S.gh, ['admin', 'invite', '--tenant', 'acme', '--email', email]);
  const raw = (await waitForMail(email, since)).raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const link = raw.match(new RegExp(`${S.issuer.replace(/[.]/g, '\\.')}/admin/invitations/[A-Za-z0-9_-]+`))?.[0];
  assert.ok(link, `the invitation carries a link:\n${raw}`);
  return link;
}

/** Click `target` and expect to land on `pathname`; else show the page. */
async function submit(page, target, pathname) {
  await Promise.all([page.waitForNavigation(), target.click()]);
  const u = new URL(page.url());
  if (u.pathname !== pathname) assert.fail(`expected ${pathname}, at ${page.url()}:\n${await page.locator('body').innerText()}`);
}

/** At oidc-provider's dev interaction: log in as `login` and approve, until back at Gatehouse. */
async function idpLogin(page, login) {
  for (let i = 0; i < 6 && page.url().startsWith(S.idp.origin); i++) {
    const box = page.locator('input[name=login]');
    if (await box.count()) {
      await box.fill(login);
      await page.locator('input[name=password]').fill('any-password');
    }
    await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').first().click()]);
  }
  assert.ok(page.url().startsWith(S.issuer), `back at Gatehouse: ${page.url()}\n${await page.locator('body').innerText()}`);
}

/** Steps 1 and 2 of the guide for (idp, kind): returns the values shown, by key. */
async function guide(page, idp, kind, label) {
  await page.goto(console_('/connections/new'));
  assert.match(await page.locator('h1').innerText(), /Step 1 of 3/);
  await page.locator(`input[name=idp][value=${idp}]`).check();
  await page.locator(`input[name=kind][value=${kind}]`).check();
  if (S.firstChoice !== false) { await shot(page, 'step1-choose'); S.firstChoice = false; }
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: /^Next/ }).click()]);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('idp'), idp);
  const id = url.searchParams.get('id');
  assert.match(id, UUID, `step 2 carries the allocated id: ${page.url()}`);
  assert.match(await page.locator('h1').innerText(), new RegExp(`Step 2 of 3 · Set up ${label}`));
  await shot(page, `${idp}-${kind}-step2`);
  // The values come first, and no secret is asked for yet.
  assert.equal(await page.locator('input[type=password], textarea, input[name=client_secret]').count(), 0, 'no secret on step 2');
  const values = {};
  for (const input of await page.locator('input[data-value]').all()) values[await input.getAttribute('data-value')] = await input.inputValue();
  const first = kind === 'oidc' ? 'redirect_uri' : 'sp_entity_id';
  assert.equal(Object.keys(values)[0], first, `${first} is the first value: ${JSON.stringify(values)}`);
  if (kind === 'oidc') assert.equal(values.redirect_uri, `${S.issuer}/federation/oidc/${id}/callback`);
  else assert.equal(values.acs_url, `${S.issuer}/federation/saml/${id}/acs`);
  assert.ok(await page.locator('button[data-copy]').count() >= 2, 'copy buttons');
  const must = await page.locator('[data-must-have]').innerText();
  assert.match(must, MUST_HAVE[`${idp}-${kind}`], `${idp} ${kind} must-have box: ${must}`);
  // A reload keeps the id (values already pasted into the IdP stay right).
  await page.reload();
  assert.equal(new URL(page.url()).searchParams.get('id'), id);
  // Step 3: only now the credentials.
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: /^Next/ }).click()]);
  assert.match(await page.locator('h1').innerText(), /Step 3 of 3/);
  assert.equal(await page.locator('input[name=id]').inputValue(), id);
  assert.equal(await page.locator(kind === 'oidc' ? '#client_secret' : '#metadata').count(), 1);
  await shot(page, `${idp}-${kind}-step3`);
  return { id, values };
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `console-guided-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    S.shots = join(S.runDir, 'screenshots');
    S.shotNo = 0;
    mkdirSync(S.shots, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-guided-'));
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
        GATEHOUSE_CONSOLE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_CONSOLE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, GATEHOUSE_MAIL_FROM: 'Gatehouse <no-reply@gatehouse.test>',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"\ndisplay_name = "Acme CRM"\n[[scopes]]\nname = "crm:customers:read"\ndescription = "Read customers"\ntier = "routine"\n`);
    await cli(S.gh, ['resource', 'register', '--file', toml]);
    S.idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startPresetIdp({ ...S.pki, clientSecret: S.idpSecret, accounts: ACCOUNTS });
    cleanups.push(() => S.idp.close());
    const python = ensureSamlPython((l) => appendFileSync(join(S.runDir, 'venv-saml.log'), `${l}\n`));
    S.samlIdp = await startSamlIdp({ python, port: await freePort(), dir: join(tmp, 'saml'), preset: 'okta', logFile: join(S.runDir, 'saml-idp.log') });
    cleanups.push(() => S.samlIdp.close());
    S.node = await startNode(S.gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
    assert.ok(existsSync(executablePath), `Chromium is needed at ${executablePath} (apt-get install -y chromium)`);
    S.browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    cleanups.push(() => S.browser.close());
    S.ctx = await S.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    S.page = await S.ctx.newPage();
    S.page.on('dialog', (d) => d.accept());
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

step('the invitee completes the guided Okta OIDC set-up with the values of step 2, then signs in', async () => {
  const page = S.page;
  await page.goto(await invite('admin@acme.test'));
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await page.waitForURL(console_('/'));
  const { id, values } = await guide(page, 'okta', 'oidc', 'Okta');
  // The IdP admin pastes the redirect URI of step 2, before Gatehouse stored anything.
  assert.equal(psql(S.db.url, 'SELECT count(*) FROM connections'), '0', 'nothing stored before step 3');
  S.idp.setRedirectUris([values.redirect_uri]);
  // A wrong issuer first: the error at the issuer field, the other input kept, not the secret.
  await page.fill('#name', 'Acme Okta');
  await page.fill('#issuer', 'https://127.0.0.2:1');
  await page.fill('#client_id', 'gatehouse');
  await page.fill('#client_secret', S.idpSecret);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add connection' }).click()]);
  assert.equal(await page.locator('#issuer').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#issuer-error[role=alert]').innerText(), /discovery document could not be fetched/);
  assert.equal(await page.locator('#client_id').inputValue(), 'gatehouse');
  assert.equal(await page.locator('#name').inputValue(), 'Acme Okta');
  assert.equal(await page.locator('#client_secret').inputValue(), '', 'the secret is never sent back');
  assert.equal(await page.locator('input[name=id]').inputValue(), id, 'still the same set-up');
  await shot(page, 'okta-oidc-inline-error');
  await page.fill('#issuer', S.idp.issuer);
  await page.fill('#client_secret', S.idpSecret);
  await submit(page, page.getByRole('button', { name: 'Add connection' }), '/admin/t/acme/connections');
  assert.match(await page.locator('.flash[role=status]').innerText(), /Acme Okta.*added/);
  assert.equal(psql(S.db.url, `SELECT name FROM connections WHERE id = '${id}'`), 'Acme Okta', 'created with the id of step 2');
  assert.equal(await page.locator(`#c-${id} input[value="${values.redirect_uri}"]`).count(), 1);
  await shot(page, 'okta-oidc-added');
  // Sign in through it as the invited address: the admin role is bound.
  await page.goto(console_('/'));
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Sign in through your identity provider' }).click()]);
  await Promise.all([page.waitForNavigation(), page.locator('form[action$="/login"] button[type=submit]').first().click()]);
  await idpLogin(page, 'u-admin');
  await page.waitForURL(console_('/'));
  assert.doesNotMatch(await page.locator('body').innerText(), /Setup-only session/);
  await page.goto(console_('/connections'));
  const sso = page.locator(`#c-${id}`);
  await submit(page, sso.getByRole('button', { name: 'Enable' }), '/admin/t/acme/connections');
  await Promise.all([page.waitForNavigation(), sso.getByRole('link', { name: 'Test sign-in' }).click()]);
  await Promise.all([page.waitForNavigation(), page.locator('form[action$="/login"] button[type=submit]').first().click()]);
  await idpLogin(page, 'u-admin');
  assert.match(await page.locator('body').innerText(), /Test sign-in succeeded/);
  await shot(page, 'okta-oidc-test-sign-in');
});

step('the guided SAML set-up (Okta) works with the values of step 2; Test sign-in succeeds', async () => {
  const page = S.page;
  const { id, values } = await guide(page, 'okta', 'saml', 'Okta');
  await page.fill('#metadata', S.samlIdp.metadata());
  await submit(page, page.getByRole('button', { name: 'Add connection' }), '/admin/t/acme/connections');
  assert.equal(psql(S.db.url, `SELECT kind FROM connections WHERE id = '${id}'`), 'saml');
  // The IdP gets the SP metadata from the metadata URL step 2 showed.
  const res = await fetch(values.metadata_url);
  const sp = await res.text();
  assert.equal(res.status, 200, sp);
  assert.ok(sp.includes(values.acs_url) && sp.includes(`entityID="${values.sp_entity_id}"`), sp);
  await S.samlIdp.setSpMetadata(sp);
  await Promise.all([page.waitForNavigation(), page.locator(`#c-${id}`).getByRole('link', { name: 'Test sign-in' }).click()]);
  // To the IdP (no login form: it answers at once), its auto-posted response, then Gatehouse.
  await page.locator('form[action$="/login"] button[type=submit]').first().click();
  await page.waitForURL(/\/federation\/saml\/[^/]+\/complete/, { timeout: 20_000 });
  await page.waitForLoadState();
  assert.match(await page.locator('body').innerText(), /Test sign-in succeeded/);
  await shot(page, 'okta-saml-test-sign-in');
});

step('every other IdP × protocol: steps 1 to 3, values and must-have settings before any secret', async () => {
  for (const [idp, label] of IDPS) {
    for (const kind of ['oidc', 'saml']) {
      if (idp === 'okta') continue; // walked above, to the end
      await guide(S.page, idp, kind, label);
    }
  }
  // An abandoned set-up left nothing behind.
  assert.equal(psql(S.db.url, 'SELECT count(*) FROM connections'), '2');
});

step('no console page shows a bare UUID where a name exists', async () => {
  const page = S.page;
  // Some objects to list: a service account (its page shows the secret once) and an MCP client.
  await page.goto(console_('/service-accounts'));
  await page.fill('#name', 'nightly-report');
  await page.fill('#grants', `${S.resource} crm:customers:read`);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create service account' }).click()]);
  await shot(page, 'service-account-created');
  await registerPublicClient(S.issuer, `http://127.0.0.1:${await freePort()}/cb`);
  await page.goto(console_('/'));
  const nav = await page.locator('nav.side a').evaluateAll((as) => as.map((a) => a.href));
  const seen = new Set();
  const problems = [];
  const queue = [...nav];
  const skip = /\/(login|logout)|export\.|\/connections\/new\?/;
  while (queue.length) {
    const url = queue.shift().split('#')[0];
    if (seen.has(url) || skip.test(url)) continue;
    seen.add(url);
    const res = await page.goto(url);
    assert.equal(res.status(), 200, url);
    await shot(page, `crawl-${new URL(url).pathname.replace(/^\/admin\/t\/acme\/?/, '').replace(/[^a-z0-9]+/gi, '-') || 'overview'}`);
    const visible = await page.evaluate(() => {
      const body = document.querySelector('main.content').cloneNode(true);
      for (const el of body.querySelectorAll('.id, [data-id]')) el.remove();
      return body.innerText;
    });
    // Result and action cells do not break mid-word.
    const wrapping = await page.evaluate(() => [...document.querySelectorAll('main.content td button, main.content td .status-on, main.content td .status-off')]
      .filter((el) => getComputedStyle(el).whiteSpace !== 'nowrap').map((el) => el.textContent.trim()));
    for (const w of wrapping) problems.push(`${new URL(url).pathname}: "${w}" may wrap`);
    for (const line of visible.split('\n').filter((l) => UUID.test(l))) problems.push(`${new URL(url).pathname}: ${line.trim().slice(0, 200)}`);
    if (nav.includes(url)) {
      const links = await page.locator('main.content a[href^="/admin/t/acme/"]').evaluateAll((as) => as.map((a) => a.href));
      queue.push(...links.filter((l) => !seen.has(l.split('#')[0])));
    }
  }
  assert.ok(seen.size >= 10, `crawled ${seen.size} pages`);
  assert.deepEqual(problems, [], `pages showing a bare UUID where a name exists:\n${problems.join('\n')}`);
});
