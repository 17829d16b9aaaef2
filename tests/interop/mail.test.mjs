// Email through a real SMTP server: npm `smtp-server` on loopback receives what a Gatehouse node
// sends for a security alert (a critical scope granted through the admin API), with the right
// envelope recipients, subject, and a link to the audit log under the node's issuer URL.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/mail.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { cli, startNode, tail } from './gatehouse.mjs';
import { freePort, createDatabase } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const S = { inbox: [] };
const cleanups = [];

before(async () => {
  const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
  assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
  S.runDir = join(HERE, '.run', `mail-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(S.runDir, { recursive: true });
  // The SMTP server: plain loopback (no TLS offered, so the client does not upgrade).
  S.smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, done) {
      let raw = '';
      stream.on('data', (d) => { raw += d; });
      stream.on('end', () => { S.inbox.push({ to: session.envelope.rcptTo.map((r) => r.address), from: session.envelope.mailFrom.address, raw }); done(); });
    },
  });
  const smtpPort = await freePort();
  await new Promise((resolve) => S.smtp.listen(smtpPort, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => S.smtp.close(resolve)));
  S.db = createDatabase(DATABASE_URL);
  cleanups.push(() => S.db.drop());
  const port = await freePort();
  S.issuer = `http://127.0.0.1:${port}`;
  const gh = {
    bin, logDir: S.runDir,
    env: {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, GATEHOUSE_MAIL_FROM: 'Gatehouse <alerts@gatehouse.test>',
    },
  };
  await cli(gh, ['migrate']);
  await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
  await cli(gh, ['tenant', 'set-alert-recipients', '--tenant', 'acme', '--email', 'secops@acme.test']);
  const toml = join(S.runDir, 'resource.toml');
  writeFileSync(toml, `uri = "https://crm.acme.test/mcp"
display_name = "CRM"
[[scopes]]
name = "crm:billing:write"
description = "Change billing"
tier = "critical"
[[tools]]
name = "bill"
scopes = ["crm:billing:write"]
`);
  await cli(gh, ['resource', 'register', '--file', toml]);
  S.adminKey = (await cli(gh, ['admin-key', 'create', '--tenant', 'acme'])).key;
  S.node = await startNode(gh, 'node', `127.0.0.1:${port}`);
  cleanups.push(() => S.node.stop());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('a critical grant by a tenant admin reaches the alert recipients over SMTP', { timeout: 60_000 }, async () => {
  const res = await fetch(`${S.issuer}/admin/api/v1/tenants/acme/grants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resource: 'https://crm.acme.test/mcp', scopes: ['crm:billing:write'], allow_critical: true }),
  });
  assert.equal(res.status, 201, await res.text());
  const deadline = Date.now() + 30_000;
  while (S.inbox.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(S.inbox.length, 1, `no message arrived\n${tail(S.node.logFile)}`);
  const [m] = S.inbox;
  writeFileSync(join(S.runDir, 'received.eml'), m.raw);
  assert.deepEqual(m.to, ['secops@acme.test']);
  assert.equal(m.from, 'alerts@gatehouse.test');
  const unfolded = m.raw.replace(/\r?\n[ \t]+/g, ' ');
  assert.match(unfolded, /^Subject: \[Gatehouse\] Critical permission granted in Acme Corp$/m);
  assert.ok(unfolded.includes('crm:billing:write'), 'the scope is named');
  assert.ok(unfolded.includes(`${S.issuer}/admin/t/acme/audit?action=`), 'the link points at the console audit log under the issuer');
  assert.match(unfolded, /Content-Type: text\/plain/);
  assert.match(unfolded, /Content-Type: text\/html/);
  // Sent once: the outbox row is marked, no second delivery.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(S.inbox.length, 1);
});
