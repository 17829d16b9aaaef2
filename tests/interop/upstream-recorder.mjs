// A recording reverse proxy in front of an MCP server: the gateway's `--upstream` points here,
// so the test sees exactly what reached the upstream (method, path, headers, JSON body) and can
// assert that a refused request never did. Responses (SSE included) are piped back unbuffered.
// `target` can be switched between upstreams while running.
import http from 'node:http';

export async function startRecorder(target) {
  const received = [];
  const state = { target: new URL(target) };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let json;
      try { json = raw.length ? JSON.parse(raw) : undefined; } catch { json = undefined; }
      const entry = { at: Date.now(), method: req.method, path: req.url, headers: req.headers, size: raw.length, json, target: state.target.href };
      received.push(entry);
      const t = state.target;
      const up = http.request({
        host: t.hostname, port: t.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: t.host },
      }, (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode, ur.headers);
        res.flushHeaders();
        ur.pipe(res);
      });
      up.on('error', (e) => { entry.error = String(e); if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
      res.on('close', () => up.destroy());
      up.end(raw);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}${state.target.pathname}`;
  return {
    url, received,
    setTarget(u) { state.target = new URL(u); },
    /** JSON-RPC methods (and tool names) received since index `from`. */
    calls: (from = 0) => received.slice(from).flatMap((e) => [e.json ?? []].flat().map((m) => (m.method === 'tools/call' ? `tools/call:${m.params?.name}` : m.method)).filter(Boolean)),
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}
