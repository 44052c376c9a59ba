// Helpers shared by the tests of the plain endpoints (/sse, /ws, /poll): a
// config file for the server, API publishes, polling for a condition.
'use strict';
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { request } = require('./server');

// Writes `text` to a fresh switchboard.toml and returns its path.
function writeConfig(text, prefix = 'sb-plain-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'switchboard.toml');
  fs.writeFileSync(file, text);
  return file;
}

// POST /api/publish with `key`; asserts 200 and returns the result object.
async function publish(srv, key, channel, data) {
  const r = await request(`${srv.url}/api/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
    body: JSON.stringify({ channel, data }),
  });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).result;
}

// Resolves with check()'s first truthy value, polling every 10 ms; rejects
// naming `what` after `ms`.
function waitFor(check, what, ms = 5000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

module.exports = { writeConfig, publish, waitFor };
