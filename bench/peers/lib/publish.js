// The HTTP side every Node peer in bench/peers/ shares: GET /health, and
// POST /pub?channel=NAME whose body (at most 1 MiB) is the message to
// broadcast. `broadcast(channel, body)` returns how many subscribers got it.
'use strict';

const MAX_BODY = 1024 * 1024;

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// Answers `req` (a request node:http handed over), calling `broadcast` for a publication.
function handlePublishRequest(req, res, broadcast) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') return reply(res, 200, '{"ok":true}');
  if (req.method !== 'POST' || url.pathname !== '/pub') return reply(res, 404, '{"error":"not found"}');
  const channel = url.searchParams.get('channel');
  if (!channel) return reply(res, 400, '{"error":"channel required"}');
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      reply(res, 413, '{"error":"body too large"}');
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return;
    const n = broadcast(channel, Buffer.concat(chunks).toString('utf8'));
    reply(res, 200, `{"subscribers":${n}}`);
  });
}

module.exports = { handlePublishRequest };
