// Command-line options shared by the peer servers in bench/peers/: --host
// and --port (loopback only, the same rule as the load generator) plus any
// extra string options a peer declares. Exits with status 2 and the usage
// line on bad input.
'use strict';

function parseServerOptions(name, usage, extra = {}) {
  const opts = { host: '127.0.0.1', port: 0, ...extra };
  try {
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i++) {
      const [key, inline] = argv[i].split('=', 2);
      const value = inline !== undefined ? inline : argv[++i];
      if (value === undefined) throw new Error(`missing value for ${key}`);
      const field = key.replace(/^--/, '');
      if (field === 'port') opts.port = Number(value);
      else if (key.startsWith('--') && Object.prototype.hasOwnProperty.call(opts, field)) opts[field] = value;
      else throw new Error(`unknown option ${key}`);
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('bad --port');
    if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(opts.host)) throw new Error('--host must be a loopback address');
  } catch (e) {
    console.error(`${name}: ${e.message}`);
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return opts;
}

module.exports = { parseServerOptions };
