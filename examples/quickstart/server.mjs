// The quick start's MCP server: two tools, no auth code at all. `gatehouse gateway` stands in
// front of it, answers 401/403 with the RFC 9728 metadata, checks each tool's scopes and audits
// every call; this server only does its job. Streamable HTTP, stateless, on 127.0.0.1:$PORT/mcp
// (default 3001): reach it only through the gateway.
import http from 'node:http';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

const PORT = Number(process.env.PORT ?? 3001);
const notes = ['Gatehouse quick start: the first note.'];

function notesServer() {
  const server = new McpServer({ name: 'quickstart-notes', version: '1.0.0' });
  server.registerTool('list_notes', { description: 'List the notes' }, async () => ({
    content: [{ type: 'text', text: notes.join('\n') }],
  }));
  server.registerTool('add_note', {
    description: 'Add a note',
    inputSchema: { text: z.string().min(1).max(500) },
  }, async ({ text }) => {
    notes.push(text);
    return { content: [{ type: 'text', text: `added note ${notes.length}: ${text}` }] };
  });
  return server;
}

http.createServer(async (req, res) => {
  if (new URL(req.url, 'http://localhost').pathname !== '/mcp') {
    res.writeHead(404).end();
    return;
  }
  // Stateless: one server and transport per request.
  const server = notesServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res);
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500).end();
  }
}).listen(PORT, '127.0.0.1', () => {
  console.log(`quick-start MCP server listening on http://127.0.0.1:${PORT}/mcp (put gatehouse gateway in front)`);
});
