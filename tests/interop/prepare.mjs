// Prepares the interop peers' Python venvs (pysaml2, scim2-tester, schemathesis, the MCP Python SDK) before the
// suite runs. scripts/test.sh starts this in the background while the Rust tests build and run,
// so the downloads overlap the compile; the tests find the venvs ready (each would otherwise
// create its own on first use, see venv.mjs). Exit status: non-zero if any venv failed.
import { ensureSamlPython } from './saml-idp.mjs';
import { ensureScimTesterPython } from './scim-helpers.mjs';
import { adminPeersPython } from './venv.mjs';
import { mcpPython } from './mcp-examples.mjs';

const log = (name) => (l) => process.stdout.write(`[${name}] ${l}\n`);
const jobs = {
  saml: async () => ensureSamlPython(log('saml')),
  scim: () => ensureScimTesterPython(log('scim')),
  admin: () => adminPeersPython(log('admin')),
  'mcp-py': () => mcpPython(log('mcp-py')),
};
const results = await Promise.allSettled(Object.values(jobs).map((f) => f()));
let failed = 0;
Object.keys(jobs).forEach((name, i) => {
  const r = results[i];
  if (r.status === 'fulfilled') console.log(`${name}: ${r.value}`);
  else { failed++; console.error(`${name}: ${r.reason?.message ?? r.reason}`); }
});
process.exit(failed ? 1 : 0);
