// GET /metrics against the real binary: the body must parse with a strict
// reader of the Prometheus text exposition format 0.0.4, and the counters must
// move when clients connect, publish, receive and get disconnected.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { request, redisMode } = require('./lib/server');
const {
  startCentrifugo, api, apiCall, apiDisconnect, rawConnect, connectionToken, waitFor, cleanupStack,
} = require('./lib/centrifuge');

// ------------------------------------------------------------ strict parser

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text, where) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: bad value '${text}'`);
  return Number(text);
}

// Labels after '{' at `i`; returns [labels object, index after '}'].
function parseLabels(line, i, where) {
  const labels = {};
  if (line[i] === '}') return [labels, i + 1];
  for (;;) {
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without '='`);
    const name = line.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label '${name}' twice`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value must be quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      if (j >= line.length) throw new Error(`${where}: unterminated label value`);
      const c = line[j];
      if (c === '"') break;
      if (c === '\\') {
        const n = line[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`${where}: bad escape '\\${n}' in label value`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    labels[name] = value;
    j++;
    if (line[j] === '}') return [labels, j + 1];
    if (line[j] !== ',') throw new Error(`${where}: expected ',' or '}' after a label`);
    i = j + 1;
  }
}

// Parses the whole exposition. Returns Map(family name → {type, help,
// samples: [{name, labels, value}]}). Throws on anything format 0.0.4 forbids
// or that a well-formed exposition should not contain (samples before their
// TYPE, a family split in two, duplicate samples, broken histograms).
function parseExposition(text) {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map();
  const seen = new Set();
  let current = null;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, n) => {
    const where = `line ${n + 1} '${line.slice(0, 80)}'`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return;  // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let fam = families.get(name);
      if (!fam) {
        fam = { name, type: 'untyped', help: null, samples: [], typed: false };
        families.set(name, fam);
      } else if (current !== fam) {
        throw new Error(`${where}: family '${name}' appears twice`);
      }
      if (kind === 'HELP') {
        if (fam.help !== null) throw new Error(`${where}: second HELP`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        fam.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      } else {
        if (fam.typed) throw new Error(`${where}: second TYPE`);
        if (fam.samples.length) throw new Error(`${where}: TYPE after samples`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`);
        fam.type = rest;
        fam.typed = true;
      }
      current = fam;
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: no sample name`);
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`${where}: bad sample name`);
    let labels = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1, where);
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2) throw new Error(`${where}: expected 'value [timestamp]'`);
    const value = parseValue(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    const base = current && current.type === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    if (!current || current.name !== base) throw new Error(`${where}: sample outside its family (no TYPE before it)`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seen.has(key)) throw new Error(`${where}: duplicate sample`);
    seen.add(key);
    if (current.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
    current.samples.push({ name, labels, value });
  });
  for (const fam of families.values()) {
    if (fam.type === 'histogram') checkHistogram(fam);
  }
  return families;
}

// Buckets cumulative, ascending le, +Inf present and equal to _count.
function checkHistogram(fam) {
  const series = new Map();
  for (const s of fam.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, { buckets: [], sum: null, count: null });
    const ser = series.get(key);
    if (s.name === `${fam.name}_bucket`) {
      if (le === undefined) throw new Error(`${fam.name}: bucket without le`);
      ser.buckets.push({ le: parseValue(le, fam.name), value: s.value });
    } else if (s.name === `${fam.name}_sum`) ser.sum = s.value;
    else if (s.name === `${fam.name}_count`) ser.count = s.value;
  }
  for (const [key, ser] of series) {
    const where = `${fam.name}${key}`;
    if (ser.count === null || ser.sum === null) throw new Error(`${where}: _sum or _count missing`);
    if (!ser.buckets.length || ser.buckets[ser.buckets.length - 1].le !== Infinity) throw new Error(`${where}: no +Inf bucket last`);
    for (let i = 1; i < ser.buckets.length; i++) {
      if (!(ser.buckets[i].le > ser.buckets[i - 1].le)) throw new Error(`${where}: le not ascending`);
      if (ser.buckets[i].value < ser.buckets[i - 1].value) throw new Error(`${where}: buckets not cumulative`);
    }
    if (ser.buckets[ser.buckets.length - 1].value !== ser.count) throw new Error(`${where}: +Inf bucket != _count`);
  }
}

// The value of one sample (0 when absent, like a counter not yet moved).
function value(families, family, labels = {}, sampleName = family) {
  const fam = families.get(family);
  if (!fam) throw new Error(`no metric family ${family}`);
  const s = fam.samples.find((x) => x.name === sampleName &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : 0;
}

async function scrape(srv) {
  const res = await request(`${srv.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body);
}

// ------------------------------------------------------------ tests

test('the strict parser refuses what the format forbids', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n';
  assert.equal(value(parseExposition(ok), 'a_total', { x: '1' }), 2);
  assert.throws(() => parseExposition(ok.slice(0, -1)), /newline/);
  assert.throws(() => parseExposition('a 1\n'), /outside its family/);
  assert.throws(() => parseExposition('# TYPE a counter\na{x="\\t"} 1\n'), /bad escape/);
  assert.throws(() => parseExposition('# TYPE a counter\na 1\na 2\n'), /duplicate/);
  assert.throws(() => parseExposition('# TYPE a counter\na -1\n'), /negative/);
  assert.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    /cumulative/);
  assert.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'), /\+Inf/);
  assert.throws(() => parseExposition('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a again\n'), /twice/);
});

test('/metrics parses strictly and its counters follow connections, publishes and disconnects', async (t) => {
  const cleanup = cleanupStack(t);
  const srv = await startCentrifugo({
    namespaces: [{ name: 'chat', history_size: 10, history_ttl: '60s', allow_subscribe_for_client: true }],
  });
  cleanup(() => srv.stop());

  const before = await scrape(srv);
  for (const family of [
    'switchboard_build_info', 'switchboard_draining', 'switchboard_connections', 'switchboard_clients',
    'switchboard_client_connections', 'switchboard_client_connections_total', 'switchboard_client_disconnects_total',
    'switchboard_subscriptions', 'switchboard_channels', 'switchboard_publications_total', 'switchboard_deliveries_total',
    'switchboard_client_messages_received_total', 'switchboard_client_replies_sent_total',
    'switchboard_transport_bytes_received_total', 'switchboard_transport_bytes_sent_total',
    'switchboard_slow_consumer_disconnects_total', 'switchboard_connections_refused_total',
    'switchboard_api_calls_total', 'switchboard_broker_operation_duration_seconds',
    // The memory broker's own gauge; the history of the Redis broker is in Redis.
    ...(redisMode ? [] : ['switchboard_history_publications']),
    'process_resident_memory_bytes', 'process_open_fds', 'process_cpu_seconds_total',
  ]) {
    assert.ok(before.has(family), `missing ${family}`);
    assert.ok(before.get(family).help, `${family} has no HELP`);
  }
  assert.equal(before.get('switchboard_broker_operation_duration_seconds').type, 'histogram');
  assert.equal(value(before, 'switchboard_draining'), 0);
  assert.equal(value(before, 'switchboard_clients'), 0);
  assert.ok(value(before, 'process_resident_memory_bytes') > 1e6);
  assert.ok(value(before, 'process_open_fds') >= 4);

  // Three clients of user "alice" subscribed to chat:room.
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const { client, reply } = await rawConnect(srv, { token: connectionToken('alice') });
    assert.ok(reply.connect, JSON.stringify(reply));
    cleanup(() => client.close());
    const sub = await client.call({ id: 2, subscribe: { channel: 'chat:room' } });
    assert.ok(sub.subscribe, JSON.stringify(sub));
    clients.push(client);
  }
  await api(srv, 'publish', { channel: 'chat:room', data: { n: 1 } });
  await api(srv, 'publish', { channel: 'chat:room', data: { n: 2 } });
  const bad = await apiCall(srv, 'publish', { channel: 'chat:room' });  // no data
  assert.equal(bad.status, 400);
  const unauthorized = await apiCall(srv, 'publish', { channel: 'chat:room', data: {} }, { key: 'wrong' });
  assert.equal(unauthorized.status, 401);
  await waitFor(() => clients.every((c) => c.pushes().length >= 2), { label: 'two pushes per client' });
  const history = await api(srv, 'history', { channel: 'chat:room', limit: -1 });
  assert.equal(history.publications.length, 2);

  const during = await scrape(srv);
  const delta = (fam, labels, name) => value(during, fam, labels, name) - value(before, fam, labels, name);
  assert.equal(value(during, 'switchboard_clients'), 3);
  assert.equal(value(during, 'switchboard_client_connections', { transport: 'websocket' }), 3);
  assert.equal(delta('switchboard_client_connections_total', { transport: 'websocket' }), 3);
  assert.equal(value(during, 'switchboard_subscriptions'), 3);
  // One channel, counted once per worker holding subscribers of it (2 workers).
  assert.ok([1, 2].includes(value(during, 'switchboard_channels')), String(value(during, 'switchboard_channels')));
  assert.ok(value(during, 'switchboard_connections') >= 3);
  assert.equal(delta('switchboard_publications_total'), 2);
  assert.equal(delta('switchboard_deliveries_total'), 6);
  assert.equal(delta('switchboard_client_messages_received_total'), 6);  // connect + subscribe per client
  assert.equal(delta('switchboard_client_replies_sent_total'), 6);
  assert.ok(delta('switchboard_transport_bytes_received_total') > 0);
  assert.ok(delta('switchboard_transport_bytes_sent_total') > 0);
  assert.equal(delta('switchboard_api_calls_total', { method: 'publish', result: 'ok' }), 2);
  assert.equal(delta('switchboard_api_calls_total', { method: 'publish', result: 'bad_request' }), 1);
  assert.equal(delta('switchboard_api_calls_total', { method: 'publish', result: 'unauthorized' }), 1);
  const hist = 'switchboard_broker_operation_duration_seconds';
  assert.equal(delta(hist, { op: 'publish' }, `${hist}_count`), 2);
  assert.equal(delta(hist, { op: 'history' }, `${hist}_count`), 1);
  assert.equal(delta('switchboard_api_calls_total', { method: 'history', result: 'ok' }), 1);
  assert.ok(value(during, hist, { op: 'publish' }, `${hist}_sum`) > 0);
  if (!redisMode) assert.equal(value(during, 'switchboard_history_publications'), 2);

  // The API disconnects alice everywhere with code 3011.
  await apiDisconnect(srv, 'alice', 3011, 'force reconnect');
  for (const c of clients) assert.equal((await c.waitClose()).code, 3011);
  const after = await waitFor(async () => {
    const m = await scrape(srv);
    return value(m, 'switchboard_clients') === 0 ? m : null;
  }, { label: 'switchboard_clients back to 0' });
  assert.equal(value(after, 'switchboard_client_disconnects_total', { code: '3011' }) -
    value(before, 'switchboard_client_disconnects_total', { code: '3011' }), 3);
  assert.equal(value(after, 'switchboard_client_connections', { transport: 'websocket' }), 0);
  assert.equal(value(after, 'switchboard_subscriptions'), 0);
  assert.equal(value(after, 'switchboard_channels'), 0);
  assert.equal(value(after, 'switchboard_api_calls_total', { method: 'disconnect', result: 'ok' }), 1);
});

module.exports = { parseExposition, value };
