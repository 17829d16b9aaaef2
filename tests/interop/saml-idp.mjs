// The pysaml2 IdP (saml_idp.py) as a child process: venv bootstrap, start, admin API, stop.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { venvDir } from './venv.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const VENV = venvDir('saml', join(HERE, 'requirements-saml.txt'));

/**
 * The Python that runs saml_idp.py: $SAML_IDP_PYTHON, else the `saml` venv (venv.mjs; created and
 * filled from requirements-saml.txt when it is missing or lacks the pinned pysaml2).
 * pysaml2 signs through the xmlsec1 program, which must be on PATH.
 */
export function ensureSamlPython(log = () => {}) {
  const xmlsec = spawnSync('xmlsec1', ['--version'], { encoding: 'utf8' });
  if (xmlsec.status !== 0) throw new Error('the SAML IdP needs the xmlsec1 program: apt-get install -y xmlsec1');
  if (process.env.SAML_IDP_PYTHON) return process.env.SAML_IDP_PYTHON;
  const py = join(VENV, 'bin', 'python');
  const pin = readFileSync(join(HERE, 'requirements-saml.txt'), 'utf8').match(/^pysaml2==(\S+)/m)?.[1];
  const have = () => existsSync(py) && spawnSync(py, ['-c', 'import saml2, importlib.metadata as m; print(m.version("pysaml2"))'], { encoding: 'utf8' }).stdout.trim() === pin;
  if (have()) return py;
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    log(`$ ${cmd} ${args.join(' ')}\n[exit ${r.status}]\n${r.stdout}${r.stderr}`);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}${r.error ?? ''}`);
  };
  if (!existsSync(py)) run('python3', ['-m', 'venv', VENV]); // Debian: needs python3-venv
  run(py, ['-m', 'pip', 'install', '-q', '-r', join(HERE, 'requirements-saml.txt')]);
  if (!have()) throw new Error(`pysaml2==${pin} is still not importable from ${py}`);
  return py;
}

/**
 * Start saml_idp.py on 127.0.0.1:port with a preset (entra | okta | google). Key, certificate,
 * IdP metadata (metadataFile) and SP metadata live in dir. Resolves once it printed READY.
 */
export async function startSamlIdp({ python, port, dir, preset, logFile, extraArgs = [] }) {
  mkdirSync(dir, { recursive: true });
  const metadataFile = join(dir, 'idp-metadata.xml');
  const child = spawn(python, [join(HERE, 'saml_idp.py'), '--port', String(port), '--keydir', dir,
    '--metadata-out', metadataFile, '--preset', preset, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stderr.pipe(log);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let exited = null;
  const gone = new Promise((r) => child.once('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; process.off('exit', killOnExit); r(); }));
  const origin = `http://127.0.0.1:${port}`;
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`SAML IdP (${preset}) did not start within 30s; see ${logFile}`)), 30_000);
    child.once('error', (e) => { clearTimeout(t); reject(e); });
    gone.then(() => { clearTimeout(t); reject(new Error(`SAML IdP (${preset}) ${exited} before READY; see ${logFile}`)); });
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.write(`[stdout] ${line}\n`);
      if (line === `READY ${origin}`) { clearTimeout(t); resolve(); }
    });
  });
  const json = async (path, init) => {
    const res = await fetch(`${origin}${path}`, init);
    const body = await res.text();
    if (!res.ok) throw new Error(`SAML IdP ${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${body}`);
    return JSON.parse(body);
  };
  return {
    origin, preset, metadataFile, ssoUrl: `${origin}/sso`, certFile: join(dir, 'idp.crt'),
    metadata: () => readFileSync(metadataFile, 'utf8'),
    /** Give the IdP the SP's metadata (it answers only SPs it knows, at their metadata's ACS). */
    setSpMetadata: (xml) => json('/admin/sp-metadata', { method: 'POST', body: xml, headers: { 'content-type': 'application/samlmetadata+xml' } }),
    requests: () => json('/admin/requests'),
    lastResponse: () => json('/admin/last-response'),
    errors: () => json('/admin/errors'),
    user: () => json('/admin/user'),
    async close() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone; clearTimeout(t); log.end();
    },
  };
}
