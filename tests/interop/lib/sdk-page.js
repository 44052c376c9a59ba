// The official SDK inside Debian's Chromium for the browser interop tests:
// bundles tests/interop/browser/centrifuge-page.js (the window.sbCentrifuge
// harness) with esbuild, serves it from a loopback HTTP server of the test's
// own (another origin than switchboard's), and launches Chromium through
// playwright-core.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('./server');

const CHROMIUM = '/usr/bin/chromium';
const skip = process.env.SB_SKIP_BROWSER ? 'SB_SKIP_BROWSER is set' :
  (!fs.existsSync(CHROMIUM) ? 'Debian chromium is not installed' : false);

// Bundles tests/interop/browser/centrifuge-page.js into a temporary directory
// and returns the script text.
async function bundlePage() {
  const esbuild = require('esbuild');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-centrifuge-bundle-'));
  const outfile = path.join(outDir, 'centrifuge-page.js');
  try {
    await esbuild.build({
      entryPoints: [path.join(__dirname, '../browser/centrifuge-page.js')],
      bundle: true, format: 'iife', platform: 'browser', target: 'es2020',
      outfile, absWorkingDir: ROOT, logLevel: 'silent', legalComments: 'none',
    });
    return fs.readFileSync(outfile, 'utf8');
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

// Serves an empty HTML page that loads the bundle, on a free loopback port.
function servePage(bundle) {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>centrifuge interop</title>' +
    '<script src="/centrifuge-page.js"></script></head><body></body></html>';
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    } else if (req.url === '/centrifuge-page.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(bundle);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function launch() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

module.exports = { CHROMIUM, skip, bundlePage, servePage, launch };
