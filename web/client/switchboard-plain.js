// A small client for Switchboard's plain endpoints (docs/client.md): no SDK,
// no build step, no dependencies. One ES module that a page loads with
//   import { PlainClient } from '/client/switchboard-plain.js';
//
// It subscribes to channels over a bare WebSocket (/ws), Server-Sent Events
// (/sse) or long-polling (/poll), whichever works first in that order, keeps
// its position in every channel and resumes from it after any reconnect on
// any transport, so every publication arrives once and in order (or the
// channel says plainly that it cannot: a `reset`). Reconnects wait a
// full-jitter exponential backoff. It also publishes, reads presence and
// reads history over plain HTTP (/publish, /presence, /history).
//
// Everything the server sends is parsed as JSON and handed to callbacks as
// data; nothing is ever evaluated or put into a page as HTML.

export const DEFAULT_TRANSPORTS = Object.freeze(['websocket', 'sse', 'poll']);

const DEFAULT_ENDPOINTS = Object.freeze({ websocket: '/ws', sse: '/sse', poll: '/poll' });

// Centrifugo's rule, which the server's disconnect codes follow: codes
// 3500-3999 and 4500-4999 mean "do not reconnect".
export function isTerminalCode(code) {
  return (code >= 3500 && code <= 3999) || (code >= 4500 && code <= 4999);
}

// The wait before reconnect attempt `attempt` (0 for the first after a
// failure): a uniformly random delay between `minDelay` and a ceiling that
// doubles with every attempt, min(maxDelay, minDelay * 2^(attempt+1)).
// So attempt 0 waits 0.5-1 s, attempt 1 0.5-2 s, ..., and from attempt 5 on
// 0.5-20 s with the defaults. The randomness spreads the clients of a
// restarted server over the window instead of having them all come back at
// once ("full jitter"); the floor keeps a client from hammering a server that
// refuses it at once. `random` is Math.random unless a test passes another.
export function backoffDelay(attempt, { minDelay = 500, maxDelay = 20000, random = Math.random } = {}) {
  const n = Math.max(0, Math.floor(Number(attempt) || 0));
  const ceiling = Math.max(minDelay, Math.min(maxDelay, minDelay * 2 ** Math.min(n + 1, 52)));
  return Math.round(minDelay + random() * (ceiling - minDelay));
}

// The client's position in each of its channels, in the order of the
// `channel` parameters, and the position list the server takes back as
// `since` (/ws, /poll) or `last_event_id` (/sse): "<epoch>:<offset>" for a
// channel with history, "0" for one without, joined by ",".
export class PositionBook {
  constructor(channels) {
    this.channels = [...channels];
    this._at = new Map(this.channels.map((c) => [c, null]));  // channel -> {epoch, offset} | null
  }

  // True once the server has said where every channel starts.
  get known() {
    for (const p of this._at.values()) if (p === null) return false;
    return this.channels.length > 0;
  }

  position(channel) {
    const p = this._at.get(channel);
    return p ? { ...p } : undefined;
  }

  // The `channels` of a subscribed message: [{channel, epoch?, offset}].
  start(entries) {
    for (const e of entries || []) {
      if (this._at.has(e.channel)) this._at.set(e.channel, { epoch: e.epoch || '', offset: Number(e.offset) || 0 });
    }
  }

  // A publication {channel, offset}: true when it is new (and the position
  // moves to it), false for one at or before the position (a duplicate).
  // Offsets of channels without history are 0: always new.
  accept(pub) {
    const p = this._at.get(pub.channel);
    if (p === undefined) return false;
    const offset = Number(pub.offset) || 0;
    if (offset === 0) return true;
    if (p && p.epoch && offset <= p.offset) return false;
    this._at.set(pub.channel, { epoch: (p && p.epoch) || pub.epoch || '', offset });
    return true;
  }

  // A reset {channel, epoch, offset}: the channel goes on from there.
  reset(r) {
    if (this._at.has(r.channel)) this._at.set(r.channel, { epoch: r.epoch || '', offset: Number(r.offset) || 0 });
  }

  // The position list, or '' while some channel's position is unknown.
  toString() {
    if (!this.known) return '';
    return this.channels.map((c) => {
      const p = this._at.get(c);
      return p.epoch ? `${p.epoch}:${p.offset}` : '0';
    }).join(',');
  }

  // Takes a position list from the server (/poll's "position", an SSE id).
  // Returns the entries it set; throws on a list for other channels.
  parse(list) {
    const parts = String(list).split(',');
    if (parts.length !== this.channels.length) {
      throw new Error(`position list "${list}" has ${parts.length} part(s) for ${this.channels.length} channel(s)`);
    }
    return parts.map((part, i) => {
      const colon = part.lastIndexOf(':');
      const entry = {
        channel: this.channels[i],
        epoch: colon < 0 ? '' : part.slice(0, colon),
        offset: Number(colon < 0 ? part : part.slice(colon + 1)) || 0,
      };
      this._at.set(entry.channel, { epoch: entry.epoch, offset: entry.offset });
      return entry;
    });
  }
}

// The `exp` claim of a JWT (unix seconds), or 0 when it has none or cannot
// be read. The signature is the server's business; this only avoids sending
// a token that has certainly expired.
export function tokenExpiry(token) {
  try {
    const payload = String(token).split('.')[1];
    const b64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const claims = JSON.parse(atob(b64));
    return typeof claims.exp === 'number' ? claims.exp : 0;
  } catch (e) {
    return 0;
  }
}

function errorMessage(body, status) {
  return body && body.error && typeof body.error.message === 'string' ? body.error.message : `HTTP ${status}`;
}

// ---------------------------------------------------------------- transports
//
// Each opener starts one connection and reports through `h`:
//   h.subscribed(msg)            {channels, client?}
//   h.publication(pub)           {channel, offset, data, info?, tags?}
//   h.reset(r)                   {channel, epoch, offset, reason}
//   h.joinLeave(kind, ev)        'join' | 'leave', {channel, info}
//   h.closed(info)               {reason, code?, expired?, terminal?, fatal?}
// and returns { close() } to end it from the client side (no h.closed then).

function openWebSocket(client, h) {
  const Ctor = client._env.WebSocket;
  if (typeof Ctor !== 'function') throw new Error('WebSocket is not available here');
  const ws = new Ctor(client._streamUrl('websocket', 'since'));
  let ended = false;
  const end = (info) => {
    if (ended) return;
    ended = true;
    h.closed(info);
  };
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch (err) { end({ reason: 'the server sent a message that is not JSON' }); return; }
    if (m.type === 'subscribed') h.subscribed(m);
    else if (m.type === 'reset') h.reset(m);
    else if (m.type === 'join' || m.type === 'leave') h.joinLeave(m.type, m);
    else if (m.type === undefined) h.publication(m);
  };
  ws.onerror = () => { /* onclose follows with the code */ };
  ws.onclose = (e) => {
    const reason = e.reason || (e.code === 1006 ? 'WebSocket closed abnormally' : `WebSocket closed (${e.code})`);
    end({ reason, code: e.code, expired: e.code === 1008 && /expired/i.test(e.reason || ''), terminal: isTerminalCode(e.code) });
  };
  return {
    close() {
      ended = true;
      ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, 'client closed'); } catch (e) { /* not open yet */ }
    },
  };
}

function openEventSource(client, h) {
  const Ctor = client._env.EventSource;
  if (typeof Ctor !== 'function') throw new Error('EventSource is not available here');
  // The position goes into the URL (last_event_id), not the browser's own
  // Last-Event-ID: this client reconnects itself, on any transport.
  const es = new Ctor(client._streamUrl('sse', 'last_event_id'));
  let ended = false;
  const end = (info) => {
    if (ended) return;
    ended = true;
    es.close();
    h.closed(info);
  };
  const json = (e, fn) => {
    if (ended) return;
    let m;
    try { m = JSON.parse(e.data); } catch (err) { end({ reason: 'the server sent an event that is not JSON' }); return; }
    fn(m);
  };
  es.addEventListener('subscribed', (e) => json(e, (m) => h.subscribed(m)));
  es.addEventListener('reset', (e) => json(e, (m) => h.reset(m)));
  es.addEventListener('join', (e) => json(e, (m) => h.joinLeave('join', m)));
  es.addEventListener('leave', (e) => json(e, (m) => h.joinLeave('leave', m)));
  es.addEventListener('expired', () => end({ reason: 'token expired', expired: true }));
  es.addEventListener('disconnect', (e) => json(e, (m) => end({
    reason: m.reason || `disconnected (${m.code})`, code: m.code, terminal: isTerminalCode(m.code),
  })));
  es.onmessage = (e) => json(e, (m) => h.publication(m));
  // EventSource would reconnect by itself; this client decides instead.
  es.onerror = () => end({ reason: 'SSE stream failed or ended' });
  return { close() { ended = true; es.close(); } };
}

function openPoll(client, h) {
  const fetchFn = client._env.fetch;
  if (typeof fetchFn !== 'function') throw new Error('fetch is not available here');
  const abort = typeof AbortController === 'function' ? new AbortController() : null;
  let stopped = false;
  const run = async () => {
    let first = true;
    while (!stopped) {
      const since = client._positions.toString();
      // The first poll answers at once (catch-up or nothing), so the client
      // knows it is connected; the next ones wait for publications.
      const url = client._streamUrl('poll', 'since', { timeout: first ? 0 : client._opts.pollTimeout }, false);
      let res;
      let body = null;
      try {
        res = await fetchFn(url, { headers: await client._authHeaders(), signal: abort ? abort.signal : undefined, cache: 'no-store' });
        body = await res.json().catch(() => null);
      } catch (e) {
        if (!stopped) h.closed({ reason: `poll request failed (${e && e.message ? e.message : e})` });
        return;
      }
      if (stopped) return;
      if (!res.ok) {
        const reason = errorMessage(body, res.status);
        // 400/403, and a 401 for a missing or invalid token, say the request
        // itself is wrong: retrying cannot help. An expired token can be renewed.
        const expired = res.status === 401 && /expired/i.test(reason);
        h.closed({ reason, status: res.status, expired, fatal: [400, 401, 403].includes(res.status) && !expired });
        return;
      }
      if (!body || !Array.isArray(body.publications) || typeof body.position !== 'string') {
        h.closed({ reason: 'the poll answer is not what /poll sends' });
        return;
      }
      const resets = Array.isArray(body.resets) ? body.resets : [];
      if (first) {
        // A poll has no subscribed message: build it from the answer.
        const resumed = since !== '';
        const channels = since ? new PositionBook(client.channels).parse(since) : new PositionBook(client.channels).parse(body.position);
        if (resumed) {
          for (const c of channels) {
            if (!c.epoch) continue;
            const reset = resets.some((r) => r.channel === c.channel);
            c.recovered = !reset;
            if (!reset) c.missed = body.publications.filter((p) => p.channel === c.channel).length;
          }
        }
        h.subscribed({ channels, resumed });
        first = false;
      }
      for (const r of resets) h.reset(r);
      for (const p of body.publications) h.publication(p);
      if (stopped) return;
      client._positions.parse(body.position);
    }
  };
  run();
  return {
    close() {
      stopped = true;
      if (abort) abort.abort();
    },
  };
}

const OPENERS = { websocket: openWebSocket, sse: openEventSource, poll: openPoll };

// ---------------------------------------------------------------- client

export class PlainClient {
  // options:
  //   url          the server's base URL ('' = this page's origin)
  //   channels     the channels to subscribe to (1 to 16)
  //   token        a connection JWT ('' = anonymous)
  //   getToken     async () => a fresh token, called when the token has
  //                expired (by its exp claim, or the server says so)
  //   transports   the order to try them in (default websocket, sse, poll)
  //   endpoints    paths per transport (default /ws, /sse, /poll)
  //   joinLeave    ask for join/leave events (namespaces with join_leave)
  //   minReconnectDelay, maxReconnectDelay   the backoff (ms, 500 and 20000)
  //   openTimeout  ms a transport may take to say `subscribed` (10000)
  //   stableAfter  ms connected after which the backoff starts over (10000;
  //                the first publication received does the same)
  //   pollTimeout  seconds a long poll waits (25)
  //   WebSocket, EventSource, fetch   replacements (tests, Node)
  constructor(options = {}) {
    const channels = Array.isArray(options.channels) ? options.channels.map(String) : [];
    if (channels.length === 0) throw new TypeError('PlainClient: channels must list at least one channel');
    const transports = options.transports ? [...options.transports] : [...DEFAULT_TRANSPORTS];
    for (const t of transports) {
      if (!OPENERS[t]) throw new TypeError(`PlainClient: unknown transport "${t}" (websocket, sse or poll)`);
    }
    if (transports.length === 0) throw new TypeError('PlainClient: transports must name at least one');
    this.channels = channels;
    this.transports = transports;
    this._opts = {
      minReconnectDelay: options.minReconnectDelay ?? 500,
      maxReconnectDelay: options.maxReconnectDelay ?? 20000,
      openTimeout: options.openTimeout ?? 10000,
      stableAfter: options.stableAfter ?? 10000,
      pollTimeout: options.pollTimeout ?? 25,
      joinLeave: Boolean(options.joinLeave),
    };
    this._base = String(options.url ?? '').replace(/\/+$/, '')
      || (typeof location !== 'undefined' && location.origin ? location.origin : '');
    this._endpoints = { ...DEFAULT_ENDPOINTS, ...(options.endpoints || {}) };
    this._token = options.token || '';
    this._getToken = typeof options.getToken === 'function' ? options.getToken : null;
    this._env = {
      WebSocket: 'WebSocket' in options ? options.WebSocket : globalThis.WebSocket,
      EventSource: 'EventSource' in options ? options.EventSource : globalThis.EventSource,
      fetch: 'fetch' in options ? options.fetch : (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined),
    };
    this._positions = new PositionBook(channels);
    this._listeners = new Map();
    this._state = 'disconnected';
    this._transport = null;   // the transport of the current connection
    this._clientId = null;    // from the subscribed message (streams with a token)
    this._conn = null;
    this._generation = 0;     // events of older connections are ignored
    this._opened = false;
    this._attempts = 0;       // failed rounds since the last stable connection
    this._best = -1;          // lowest index in `transports` that ever worked
    this._index = 0;          // transport being tried in this round
    this._timers = new Set();
    this._lastReason = '';
    this._closed = true;
  }

  get state() { return this._state; }
  get transport() { return this._transport; }
  get clientId() { return this._clientId; }
  // The position list a reconnect resumes from ('' before the first).
  get positions() { return this._positions.toString(); }

  // Subscribes `fn` to `event`: state, subscribed, publication, reset,
  // join, leave, error. Returns a function that unsubscribes it.
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this._listeners.get(event).delete(fn);
  }

  _emit(event, payload) {
    const fns = this._listeners.get(event);
    if (!fns) return;
    for (const fn of [...fns]) {
      try { fn(payload); } catch (e) { setTimeout(() => { throw e; }); }  // a listener's bug is not ours
    }
  }

  _setState(state, details = {}) {
    this._state = state;
    this._emit('state', { state, ...details });
  }

  // Starts connecting (no-op when already started).
  connect() {
    if (!this._closed) return;
    this._closed = false;
    this._attempts = 0;
    this._index = Math.max(this._best, 0);
    this._attempt();
  }

  // Ends the connection for good; `state` becomes disconnected.
  close(reason = 'closed by the client') {
    if (this._closed) return;
    this._closed = true;
    this._endConnection();
    this._setState('disconnected', { reason });
  }

  _later(fn, ms) {
    const t = setTimeout(() => { this._timers.delete(t); fn(); }, ms);
    this._timers.add(t);
    return t;
  }

  _clearTimers() {
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
  }

  _endConnection() {
    this._clearTimers();
    this._generation += 1;
    if (this._conn) {
      const conn = this._conn;
      this._conn = null;
      conn.close();
    }
    this._transport = null;
    this._clientId = null;
  }

  async _attempt() {
    if (this._closed) return;
    const transport = this.transports[this._index];
    const generation = ++this._generation;
    this._opened = false;
    this._setState('connecting', { transport, reason: this._lastReason || undefined });
    try {
      await this._freshToken();
    } catch (e) {
      if (generation === this._generation) this._failed({ reason: `could not renew the token (${e && e.message ? e.message : e})` });
      return;
    }
    if (this._closed || generation !== this._generation) return;
    const h = this._handlers(generation, transport, this._positions.known);
    try {
      this._conn = OPENERS[transport](this, h);
    } catch (e) {
      this._failed({ reason: e.message });
      return;
    }
    this._later(() => {
      if (generation === this._generation && !this._opened) this._failed({ reason: `${transport} did not open within ${this._opts.openTimeout} ms` });
    }, this._opts.openTimeout);
  }

  // The callbacks of connection `generation`; `resumed`: it was opened
  // with a position to resume from.
  _handlers(generation, transport, resumed) {
    const live = () => generation === this._generation && !this._closed;
    return {
      subscribed: (m) => {
        if (!live()) return;
        this._opened = true;
        this._transport = transport;
        this._clientId = typeof m.client === 'string' ? m.client : null;
        this._positions.start(m.channels);
        const index = this.transports.indexOf(transport);
        if (this._best < 0 || index < this._best) this._best = index;
        this._lastReason = '';
        this._later(() => { if (live()) this._attempts = 0; }, this._opts.stableAfter);
        this._setState('connected', { transport });
        this._emit('subscribed', { transport, client: this._clientId, resumed, channels: (m.channels || []).map((c) => ({ ...c })) });
      },
      publication: (p) => {
        if (!live() || !this._positions.accept(p)) return;
        this._attempts = 0;
        this._emit('publication', p);
      },
      reset: (r) => {
        if (!live()) return;
        this._positions.reset(r);
        this._emit('reset', r);
      },
      joinLeave: (kind, ev) => {
        if (live()) this._emit(kind, ev);
      },
      closed: (info) => {
        if (!live()) return;
        this._conn = null;  // already ended by the other side
        this._failed(info);
      },
    };
  }

  // The current connection failed or ended: try the next transport, wait,
  // or stop, as `info` says.
  _failed(info) {
    if (this._closed) return;
    const transport = this.transports[this._index];
    const opened = this._opened;
    this._endConnection();
    this._lastReason = info.reason || 'connection lost';
    if (!opened) this._emit('error', { transport, message: this._lastReason });
    if (info.expired) {
      if (!this._getToken) {
        this._closed = true;
        this._setState('disconnected', { reason: 'token expired' });
        return;
      }
      this._token = '';  // _freshToken asks for a new one
    }
    if (info.fatal || info.terminal) {
      this._closed = true;
      this._setState('disconnected', { reason: this._lastReason, code: info.code });
      return;
    }
    // A transport that never opened: the next one, at once.
    if (!opened && this._index + 1 < this.transports.length) {
      this._index += 1;
      this._attempt();
      return;
    }
    const delay = backoffDelay(this._attempts, {
      minDelay: this._opts.minReconnectDelay, maxDelay: this._opts.maxReconnectDelay,
    });
    this._attempts += 1;
    // The next round starts from the best transport that has worked.
    this._index = Math.max(this._best, 0);
    this._setState('reconnecting', { delay, reason: this._lastReason });
    this._later(() => this._attempt(), delay);
  }

  async _freshToken() {
    const exp = this._token ? tokenExpiry(this._token) : 0;
    const expired = exp > 0 && exp * 1000 <= Date.now() + 5000;
    if ((this._token === '' || expired) && this._getToken) this._token = String(await this._getToken());
  }

  async _authHeaders() {
    await this._freshToken();
    return this._token ? { Authorization: `Bearer ${this._token}` } : {};
  }

  // The URL of a stream endpoint with the channels, the position to resume
  // from as `sinceName`, and (for /ws and /sse, which cannot send headers)
  // the token.
  _streamUrl(transport, sinceName, extra = {}, tokenInQuery = true) {
    let base = this._base;
    if (transport === 'websocket') base = base.replace(/^http(s?):/i, 'ws$1:');
    const q = new URLSearchParams();
    for (const c of this.channels) q.append('channel', c);
    const since = this._positions.toString();
    if (since) q.set(sinceName, since);
    if (tokenInQuery && this._token) q.set('token', this._token);
    if (this._opts.joinLeave && transport !== 'poll') q.set('join_leave', 'true');
    for (const [k, v] of Object.entries(extra)) q.set(k, String(v));
    return `${base}${this._endpoints[transport]}?${q}`;
  }

  async _call(method, path, params, body) {
    const fetchFn = this._env.fetch;
    if (typeof fetchFn !== 'function') throw new Error('fetch is not available here');
    const q = new URLSearchParams(params);
    if (this._clientId) q.set('client', this._clientId);
    const headers = await this._authHeaders();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetchFn(`${this._base}${path}?${q}`, { method, headers, body, cache: 'no-store' });
    let json = null;
    try { json = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw Object.assign(new Error(errorMessage(json, res.status)), { status: res.status });
    return json;
  }

  // Publishes `data` (any JSON value) to `channel` through POST /publish.
  // Resolves with {offset, epoch?}; rejects with an Error whose message is
  // the server's reason and whose `status` is the HTTP status.
  publish(channel, data) {
    return this._call('POST', '/publish', { channel }, JSON.stringify(data === undefined ? null : data));
  }

  // Who is in `channel` (GET /presence): {<client id>: {user, client, conn_info?}}.
  async presence(channel) {
    return (await this._call('GET', '/presence', { channel })).presence;
  }

  // The newest `limit` publications of `channel` (GET /history), oldest
  // first, and the channel's position: {publications, epoch, offset}.
  history(channel, { limit } = {}) {
    const params = { channel };
    if (limit !== undefined) params.limit = String(limit);
    return this._call('GET', '/history', params);
  }
}
