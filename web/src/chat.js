// The demo chat served at / (web/index.html), bundled with the official
// `centrifuge` SDK and our plain client (web/client/switchboard-plain.js,
// used with ?transport=plain) into web/dist/chat.js by scripts/bundle-web.
//
// Rooms are channels "chat:<room>" (history, recovery, presence, join/leave);
// typing notices go to "typing:<room>" (live only). Names come from the
// connection token that POST /demo/token mints: its `info` is {"name": ...},
// which presence, join/leave and publications carry. User text is only ever
// put into the page with textContent.
import { Centrifuge } from 'centrifuge';
import { PlainClient } from '../client/switchboard-plain.js';

const ROOM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
// What the server refuses in a nickname (app/DemoTokens.cpp): C0, DEL, C1,
// line/paragraph separators, bidirectional overrides and isolates.
const NICKNAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const NICKNAME_MAX = 32;
const MESSAGE_MAX = 2000;
const HISTORY_LIMIT = 100;        // the chat namespace keeps 100 (config/demo.toml)
const TIMELINE_MAX = 500;         // older entries are dropped from the page
const TYPING_SEND_EVERY_MS = 1500;
const TYPING_SHOW_MS = 3000;

const TRANSPORTS = {
  websocket: { label: 'WebSocket', path: '/connection/websocket' },
  http_stream: { label: 'HTTP streaming', path: '/connection/http_stream' },
  sse: { label: 'SSE', path: '/connection/sse' },
  plain: { label: 'plain (no SDK)', path: null },
};
// The plain client's own transports (docs/client.md).
const PLAIN_LABELS = { websocket: 'WebSocket', sse: 'SSE', poll: 'long-polling' };

const $ = (id) => document.getElementById(id);

const ui = {
  banner: $('banner'), bannerText: $('banner-text'), roomTitle: $('room-title'),
  joinView: $('join-view'), joinForm: $('join-form'), nickname: $('nickname'), room: $('room'),
  joinError: $('join-error'), joinButton: $('join-button'),
  chatView: $('chat-view'), timeline: $('timeline'), typing: $('typing'),
  composer: $('composer'), message: $('message'), sendError: $('send-error'),
  people: $('people'), peopleCount: $('people-count'), leave: $('leave'), transports: $('transports'),
};

// Everything about the current session; reset by leaveRoom().
let session = null;

// A record of what the banner said, for tests and for debugging in the console.
const debug = { banner: [] };
window.sbChat = debug;

// ---------------------------------------------------------------- banner

let countdown = null;

function stopCountdown() {
  if (countdown) clearInterval(countdown);
  countdown = null;
}

// state: idle | connecting | connected | reconnecting | recovered | lost | error | disconnected
function setBanner(state, text) {
  if (state !== 'reconnecting') stopCountdown();
  ui.banner.dataset.state = state;
  ui.bannerText.textContent = text;
  const last = debug.banner[debug.banner.length - 1];
  if (!last || last.state !== state || last.text !== text) debug.banner.push({ state, text, at: Date.now() });
}

// "Reconnecting in N s" counting down to the SDK's next attempt.
function showReconnecting(delayMs, reason) {
  stopCountdown();
  const due = Date.now() + delayMs;
  const suffix = reason ? ` (${reason})` : '';
  const tick = () => {
    const left = Math.ceil((due - Date.now()) / 1000);
    if (left > 0) {
      setBanner('reconnecting', `Connection lost${suffix}: reconnecting in ${left} s…`);
    } else {
      setBanner('reconnecting', `Connection lost${suffix}: reconnecting…`);
      stopCountdown();
    }
  };
  tick();
  if (delayMs > 0) countdown = setInterval(tick, 250);
}

// ---------------------------------------------------------------- transport choice

function transportChoice() {
  const asked = new URLSearchParams(location.search).get('transport') || 'websocket';
  if (!Object.prototype.hasOwnProperty.call(TRANSPORTS, asked)) {
    return { name: asked, error: `Unknown transport "${asked}": use websocket, http_stream, sse or plain.` };
  }
  return { name: asked, ...TRANSPORTS[asked] };
}

function renderTransportLinks(current) {
  for (const name of Object.keys(TRANSPORTS)) {
    const a = document.createElement('a');
    const params = new URLSearchParams(location.search);
    params.set('transport', name);
    a.href = `?${params}`;
    a.textContent = name;
    if (name === current) a.setAttribute('aria-current', 'true');
    ui.transports.append(a);
  }
}

function endpointUrl(path) {
  const secure = location.protocol === 'https:';
  if (path === TRANSPORTS.websocket.path) return `${secure ? 'wss' : 'ws'}://${location.host}${path}`;
  return `${location.origin}${path}`;
}

// ---------------------------------------------------------------- validation

function checkNickname(raw) {
  const name = raw.trim();
  if (name === '') return { error: 'Please enter a name.' };
  if ([...name].length > NICKNAME_MAX) return { error: `A name can have at most ${NICKNAME_MAX} characters.` };
  if (NICKNAME_FORBIDDEN.test(name)) return { error: 'A name cannot contain control characters.' };
  return { name };
}

function checkRoom(raw) {
  const room = raw.trim().replace(/^#/, '');
  if (!ROOM_PATTERN.test(room)) {
    return { error: 'A room name has 1 to 32 letters, digits, "-" or "_", and starts with a letter or digit.' };
  }
  return { room };
}

// ---------------------------------------------------------------- tokens

// Asks the server for a demo token for `name`. Throws an Error whose message
// is fit for the page.
async function fetchToken(name) {
  let res;
  try {
    res = await fetch('/demo/token', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
    });
  } catch (e) {
    throw new Error('The server cannot be reached.');
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  if (res.ok && body && typeof body.token === 'string') return body;
  if (res.status === 404 || res.status === 405) {
    throw new Error('This server does not hand out demo tokens ([demo] token_endpoint is off).');
  }
  const message = body && body.error && typeof body.error.message === 'string' ? body.error.message : `HTTP ${res.status}`;
  throw new Error(`The server refused the name: ${message}.`);
}

// ---------------------------------------------------------------- timeline

function scrollPinned() {
  const t = ui.timeline;
  return t.scrollHeight - t.scrollTop - t.clientHeight < 60;
}

function appendEntry(li) {
  const pinned = scrollPinned();
  ui.timeline.append(li);
  while (ui.timeline.childElementCount > TIMELINE_MAX) ui.timeline.firstElementChild.remove();
  if (pinned) ui.timeline.scrollTop = ui.timeline.scrollHeight;
}

function addNotice(text, kind = 'info') {
  const li = document.createElement('li');
  li.className = `notice notice-${kind}`;
  li.textContent = text;
  appendEntry(li);
}

function clearMessages() {
  for (const li of [...ui.timeline.querySelectorAll('li.msg')]) li.remove();
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function authorOf(pub) {
  const connInfo = pub.info && pub.info.connInfo;
  if (connInfo && typeof connInfo.name === 'string') return connInfo.name;
  if (pub.data && typeof pub.data.from === 'string') return pub.data.from;
  return 'server';
}

function renderMessage(pub) {
  const data = pub.data;
  const li = document.createElement('li');
  li.className = 'msg';
  if (pub.info && session && pub.info.user === session.user) li.classList.add('mine');
  if (!pub.info) li.classList.add('from-server');
  if (pub.offset !== undefined) li.dataset.offset = String(pub.offset);

  const head = document.createElement('div');
  head.className = 'msg-head';
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = authorOf(pub);
  head.append(author);
  const ts = data && typeof data.ts === 'number' ? new Date(data.ts) : null;
  if (ts && !Number.isNaN(ts.getTime())) {
    const time = document.createElement('time');
    time.dateTime = ts.toISOString();
    time.textContent = timeFormat.format(ts);
    head.append(time);
  }
  const text = document.createElement('p');
  text.className = 'text';
  if (data && typeof data.text === 'string') {
    text.textContent = data.text.slice(0, MESSAGE_MAX * 2);
  } else {
    text.classList.add('raw');
    text.textContent = JSON.stringify(data).slice(0, MESSAGE_MAX * 2);
  }
  li.append(head, text);
  appendEntry(li);
}

// ---------------------------------------------------------------- people

function personName(info) {
  if (!info) return 'someone';
  return info.connInfo && typeof info.connInfo.name === 'string' ? info.connInfo.name : (info.user || 'anonymous');
}

function usersPresent(s) {
  const byUser = new Map();
  for (const p of s.people.values()) {
    if (!byUser.has(p.user)) byUser.set(p.user, { name: p.name, connections: 0, me: p.user === s.user });
    byUser.get(p.user).connections++;
  }
  return byUser;
}

function renderPeople() {
  const s = session;
  ui.people.replaceChildren();
  if (!s) return;
  const users = [...usersPresent(s).values()].sort((a, b) => (b.me - a.me) || a.name.localeCompare(b.name));
  for (const u of users) {
    const li = document.createElement('li');
    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.setAttribute('aria-hidden', 'true');
    avatar.textContent = [...u.name][0] ? [...u.name][0].toUpperCase() : '?';
    avatar.style.setProperty('--hue', String(hueOf(u.name)));
    const name = document.createElement('span');
    name.className = 'person-name';
    name.textContent = u.name;
    li.append(avatar, name);
    if (u.me) {
      li.classList.add('me');
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = '(you)';
      li.append(you);
    }
    ui.people.append(li);
  }
  ui.peopleCount.textContent = String(users.length);
}

function hueOf(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function userCount(s, user) {
  let n = 0;
  for (const p of s.people.values()) if (p.user === user) n++;
  return n;
}

// Replaces the list with the server's presence (after every (re)subscribe:
// join/leave events missed while disconnected are not replayed). Join/leave
// events that arrive while the request is out are replayed on top of its
// answer, which may predate them.
async function refreshPresence(s) {
  const during = [];
  s.presenceEvents = during;
  try {
    const result = await s.backend.presence();
    if (session !== s) return;
    s.people.clear();
    for (const [client, info] of Object.entries(result.clients || {})) {
      s.people.set(client, { user: info.user, name: personName(info) });
    }
    for (const ev of during) {
      if (ev.join) s.people.set(ev.info.client, { user: ev.info.user, name: personName(ev.info) });
      else s.people.delete(ev.info.client);
    }
  } catch (e) {
    if (session === s) addNotice(`Could not load who is here: ${e.message || e}`, 'error');
  } finally {
    if (s.presenceEvents === during) s.presenceEvents = null;
    renderPeople();
  }
}

// ---------------------------------------------------------------- typing

function renderTyping() {
  const s = session;
  if (!s) { ui.typing.textContent = ''; return; }
  const names = [...s.typers.values()].map((t) => t.name);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  ui.typing.textContent = text;
}

function stopTyping(s, user) {
  const t = s.typers.get(user);
  if (!t) return;
  clearTimeout(t.timer);
  s.typers.delete(user);
  renderTyping();
}

function onTypingPublication(s, ctx) {
  const info = ctx.info;
  if (!info || info.user === s.user) return;
  if (!ctx.data || ctx.data.typing !== true) { stopTyping(s, info.user); return; }
  const previous = s.typers.get(info.user);
  if (previous) clearTimeout(previous.timer);
  s.typers.set(info.user, {
    name: personName(info),
    timer: setTimeout(() => { if (session === s) stopTyping(s, info.user); }, TYPING_SHOW_MS),
  });
  renderTyping();
}

function sendTyping(s) {
  const now = Date.now();
  if (now - s.typingSentAt < TYPING_SEND_EVERY_MS || !s.backend.connected()) return;
  s.typingSentAt = now;
  s.backend.publishTyping({ typing: true }).catch(() => { /* a lost notice is harmless */ });
}

// ---------------------------------------------------------------- messages and history

// Shows a publication once: live ones at or below what is already shown are
// duplicates (history and the live stream overlap on (re)subscribe).
function acceptPublication(s, pub) {
  if (pub.offset !== undefined && pub.offset <= s.lastOffset) return;
  if (pub.offset !== undefined) s.lastOffset = pub.offset;
  renderMessage(pub);
  if (pub.info) stopTyping(s, pub.info.user);
}

// Replaces the messages on the page by the channel's history (the newest
// HISTORY_LIMIT), then the live publications that arrived meanwhile.
async function reloadHistory(s) {
  s.loading = true;
  s.pending = [];
  try {
    const result = await s.backend.history();
    if (session !== s) return;
    clearMessages();
    s.lastOffset = 0;
    for (const pub of result.publications) acceptPublication(s, pub);
    s.lastOffset = Math.max(s.lastOffset, result.offset || 0);
  } catch (e) {
    if (session === s) addNotice(`Could not load earlier messages: ${e.message || e}`, 'error');
  } finally {
    s.loading = false;
    const pending = s.pending;
    s.pending = [];
    for (const pub of pending) acceptPublication(s, pub);
  }
}

async function sendMessage(s, text) {
  ui.sendError.textContent = '';
  try {
    await s.backend.publish({ text, ts: Date.now() });
    return true;
  } catch (e) {
    ui.sendError.textContent = `Not sent: ${e.message || e}. Try again when connected.`;
    return false;
  }
}

// ---------------------------------------------------------------- session

function describeTransportFailure(s, ctx) {
  const message = ctx.error && ctx.error.message ? ctx.error.message : 'failed';
  return `${s.transport.label} at ${s.transport.path} failed (${message}); this server may not offer it yet. Retrying…`;
}

// Someone joined or left the room (join/leave events of either client).
function onJoin(s, info) {
  if (s.presenceEvents) s.presenceEvents.push({ join: true, info });
  const before = userCount(s, info.user);
  s.people.set(info.client, { user: info.user, name: personName(info) });
  if (before === 0 && info.user !== s.user) addNotice(`${personName(info)} joined`, 'join');
  renderPeople();
}

function onLeave(s, info) {
  if (s.presenceEvents) s.presenceEvents.push({ join: false, info });
  const had = s.people.delete(info.client);
  if (had && userCount(s, info.user) === 0 && info.user !== s.user) {
    addNotice(`${personName(info)} left`, 'leave');
    stopTyping(s, info.user);
  }
  renderPeople();
}

// Connects and joins `room` as `me` ({name, user, token}). `s.backend` is
// what the rest of the page uses, whichever client is underneath:
// history() -> {publications (oldest first), offset}, presence() ->
// {clients}, publish(data), publishTyping(data), connected(), disconnect().
function startSession(me, room, transport) {
  const s = {
    name: me.name, user: me.user, room, transport,
    channel: `chat:${room}`, typingChannel: `typing:${room}`,
    lastOffset: 0, epoch: null, loading: false, pending: [],
    people: new Map(), presenceEvents: null,
    typers: new Map(), typingSentAt: 0,
    everConnected: false, subscribedOnce: false,
  };
  session = s;
  setBanner('connecting', `Connecting over ${transport.label}…`);
  if (transport.name === 'plain') startPlainClient(s, me);
  else startSdkClient(s, me, transport);
  return s;
}

// The official SDK over the Centrifugo protocol.
function startSdkClient(s, me, transport) {
  const options = {
    token: me.token,
    // A demo token lives 24 h; after that the SDK asks for a new one.
    getToken: async () => (await fetchToken(s.name)).token,
    minReconnectDelay: 500,
    maxReconnectDelay: 10000,
    emulationEndpoint: `${location.origin}/emulation`,
  };
  const endpoint = transport.name === 'websocket'
    ? endpointUrl(transport.path)
    : [{ transport: transport.name, endpoint: endpointUrl(transport.path) }];
  const client = new Centrifuge(endpoint, options);
  s.client = client;
  watchReconnectDelays(client, (delay) => {
    if (session === s && s.everConnected) showReconnecting(delay, s.lastDisconnectReason);
  });

  client.on('connecting', (ctx) => {
    if (session !== s) return;
    if (!s.everConnected) {
      if (ui.banner.dataset.state !== 'error') setBanner('connecting', `Connecting over ${transport.label}…`);
      return;
    }
    s.lastDisconnectReason = ctx.reason;
    if (ui.banner.dataset.state !== 'reconnecting') setBanner('reconnecting', `Connection lost (${ctx.reason}): reconnecting…`);
  });
  client.on('connected', (ctx) => {
    if (session !== s) return;
    s.everConnected = true;
    setBanner('connected', `Connected over ${TRANSPORTS[ctx.transport] ? TRANSPORTS[ctx.transport].label : ctx.transport}`);
  });
  client.on('disconnected', (ctx) => {
    if (session !== s) return;
    setBanner('disconnected', `Disconnected: ${ctx.reason} (${ctx.code}). Reload the page to try again.`);
  });
  client.on('error', (ctx) => {
    if (session !== s) return;
    if (ctx.type === 'transport' && transport.name !== 'websocket' && !s.everConnected) {
      setBanner('error', describeTransportFailure(s, ctx));
    }
  });

  const sub = client.newSubscription(s.channel, { joinLeave: true });
  s.sub = sub;
  sub.on('subscribed', (ctx) => {
    if (session !== s) return;
    const pos = ctx.streamPosition;
    if (ctx.wasRecovering && ctx.recovered) {
      const missed = pos ? Math.max(0, pos.offset - s.lastOffset) : 0;
      setBanner('recovered', `Reconnected: recovered ${missed} missed message${missed === 1 ? '' : 's'}`);
    } else if (ctx.wasRecovering) {
      const restarted = s.epoch !== null && pos && pos.epoch !== s.epoch;
      const text = restarted
        ? 'History was lost: the server restarted. Showing what it has now.'
        : 'Too many messages were missed to recover them. Showing the latest.';
      setBanner('lost', text);
      addNotice(text, 'warning');
      reloadHistory(s);
    } else if (!s.subscribedOnce) {
      reloadHistory(s);
    } else {
      // Subscribed again without recovery (e.g. the server unsubscribed us): reload.
      addNotice('Resubscribed: reloading the messages.', 'info');
      reloadHistory(s);
    }
    s.subscribedOnce = true;
    if (pos) s.epoch = pos.epoch;
    refreshPresence(s);
  });
  sub.on('publication', (ctx) => {
    if (session !== s) return;
    if (s.loading) s.pending.push(ctx);
    else acceptPublication(s, ctx);
  });
  sub.on('join', (ctx) => { if (session === s) onJoin(s, ctx.info); });
  sub.on('leave', (ctx) => { if (session === s) onLeave(s, ctx.info); });
  sub.on('unsubscribed', (ctx) => {
    if (session !== s || ctx.code === 0) return;
    addNotice(`Left the room: ${ctx.reason} (${ctx.code})`, 'error');
  });
  sub.on('error', (ctx) => {
    if (session !== s) return;
    addNotice(`Subscription problem: ${ctx.error.message} (${ctx.error.code})`, 'error');
  });

  const typingSub = client.newSubscription(s.typingChannel);
  s.typingSub = typingSub;
  typingSub.on('publication', (ctx) => { if (session === s) onTypingPublication(s, ctx); });

  s.backend = {
    history: async () => {
      const result = await sub.history({ limit: HISTORY_LIMIT, reverse: true });
      return { publications: [...result.publications].reverse(), offset: result.offset };
    },
    presence: () => sub.presence(),
    publish: (data) => sub.publish(data),
    publishTyping: (data) => client.publish(s.typingChannel, data),
    connected: () => client.state === 'connected',
    disconnect: () => client.disconnect(),
  };
  sub.subscribe();
  typingSub.subscribe();
  client.connect();
}

// The plain endpoints through web/client/switchboard-plain.js: one client
// for both channels, WebSocket first, then SSE, then long-polling.
// Publications and client info come in the server's JSON ("conn_info");
// the page's code takes the SDK's shape ("connInfo").
function sdkInfo(info) {
  if (!info) return undefined;
  return { user: info.user, client: info.client, connInfo: info.conn_info, chanInfo: info.chan_info };
}
const sdkPublication = (p) => ({ data: p.data, info: sdkInfo(p.info), offset: p.offset, tags: p.tags });

function startPlainClient(s, me) {
  const client = new PlainClient({
    channels: [s.channel, s.typingChannel],
    token: me.token,
    getToken: async () => (await fetchToken(s.name)).token,
    joinLeave: true,
    minReconnectDelay: 500,
    maxReconnectDelay: 10000,
  });
  s.client = client;
  const labelOf = (t) => `plain ${PLAIN_LABELS[t] || t}`;

  client.on('state', (st) => {
    if (session !== s) return;
    if (st.state === 'connecting') {
      if (!s.everConnected) {
        if (ui.banner.dataset.state !== 'error') setBanner('connecting', `Connecting over ${labelOf(st.transport)}…`);
        return;
      }
      s.lastDisconnectReason = st.reason;
      if (ui.banner.dataset.state !== 'reconnecting') {
        setBanner('reconnecting', `Connection lost (${st.reason || 'connection closed'}): reconnecting…`);
      }
    } else if (st.state === 'reconnecting') {
      s.lastDisconnectReason = st.reason;
      if (s.everConnected) showReconnecting(st.delay, st.reason);
      else setBanner('error', `Could not connect over WebSocket, SSE or long-polling (${st.reason}). Retrying…`);
    } else if (st.state === 'connected') {
      s.everConnected = true;
      setBanner('connected', `Connected over ${labelOf(st.transport)}`);
    } else if (st.state === 'disconnected') {
      setBanner('disconnected', `Disconnected: ${st.reason}. Reload the page to try again.`);
    }
  });
  client.on('subscribed', (ctx) => {
    if (session !== s) return;
    const chat = ctx.channels.find((c) => c.channel === s.channel);
    if (ctx.resumed && chat && chat.recovered) {
      const missed = chat.missed || 0;
      setBanner('recovered', `Reconnected: recovered ${missed} missed message${missed === 1 ? '' : 's'}`);
    } else if (!ctx.resumed) {
      if (chat && chat.epoch) s.epoch = chat.epoch;
      reloadHistory(s);
    }
    // (resumed without recovery: the reset event that follows says why.)
    s.subscribedOnce = true;
    refreshPresence(s);
  });
  client.on('reset', (r) => {
    if (session !== s || r.channel !== s.channel) return;
    const restarted = s.epoch !== null && r.epoch !== s.epoch;
    const text = restarted
      ? 'History was lost: the server restarted. Showing what it has now.'
      : 'Too many messages were missed to recover them. Showing the latest.';
    s.epoch = r.epoch;
    setBanner('lost', text);
    addNotice(text, 'warning');
    reloadHistory(s);
  });
  client.on('publication', (p) => {
    if (session !== s) return;
    const ctx = sdkPublication(p);
    if (p.channel === s.typingChannel) onTypingPublication(s, ctx);
    else if (s.loading) s.pending.push(ctx);
    else acceptPublication(s, ctx);
  });
  client.on('join', (ev) => { if (session === s && ev.channel === s.channel) onJoin(s, sdkInfo(ev.info)); });
  client.on('leave', (ev) => { if (session === s && ev.channel === s.channel) onLeave(s, sdkInfo(ev.info)); });

  s.backend = {
    history: () => client.history(s.channel, { limit: HISTORY_LIMIT }).then((r) => ({
      publications: r.publications.map(sdkPublication), offset: r.offset,
    })),
    presence: async () => {
      const clients = {};
      for (const [id, info] of Object.entries(await client.presence(s.channel))) clients[id] = sdkInfo(info);
      return { clients };
    },
    publish: (data) => client.publish(s.channel, data),
    publishTyping: (data) => client.publish(s.typingChannel, data),
    connected: () => client.state === 'connected',
    disconnect: () => client.close(),
  };
  client.connect();
}

// The SDK computes each reconnect delay (backoff with jitter) internally and
// emits no event with it; wrapping its method is how the banner can count
// down to the real next attempt. Without that method (another SDK version)
// the banner just says "reconnecting…".
function watchReconnectDelays(client, onDelay) {
  const original = client._getReconnectDelay;
  if (typeof original !== 'function') return;
  client._getReconnectDelay = function wrappedReconnectDelay(...args) {
    const delay = original.apply(this, args);
    try { onDelay(delay); } catch (e) { /* never break the SDK */ }
    return delay;
  };
}

function leaveRoom() {
  const s = session;
  if (!s) return;
  session = null;
  for (const t of s.typers.values()) clearTimeout(t.timer);
  s.backend.disconnect();
  ui.timeline.replaceChildren();
  ui.people.replaceChildren();
  ui.peopleCount.textContent = '0';
  ui.typing.textContent = '';
  ui.sendError.textContent = '';
  ui.chatView.hidden = true;
  ui.joinView.hidden = false;
  ui.roomTitle.hidden = true;
  setBanner('idle', 'Not connected');
  const params = new URLSearchParams(location.search);
  params.delete('room');
  const query = params.toString();
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}`);
  ui.room.focus();
}

// ---------------------------------------------------------------- wiring

function main() {
  const transport = transportChoice();
  renderTransportLinks(transport.name);
  const params = new URLSearchParams(location.search);
  if (params.get('room')) ui.room.value = params.get('room');
  try { ui.nickname.value = localStorage.getItem('switchboard-chat-name') || ''; } catch (e) { /* storage off */ }
  if (transport.error) setBanner('error', transport.error);
  fetch('/health').then((r) => r.json()).then((h) => {
    if (typeof h.version === 'string') $('server-version').textContent = `Switchboard ${h.version} · `;
  }).catch(() => { /* the banner reports connection problems */ });

  ui.joinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.joinError.textContent = '';
    if (transport.error) { ui.joinError.textContent = transport.error; return; }
    const nick = checkNickname(ui.nickname.value);
    if (nick.error) { ui.joinError.textContent = nick.error; ui.nickname.focus(); return; }
    const room = checkRoom(ui.room.value);
    if (room.error) { ui.joinError.textContent = room.error; ui.room.focus(); return; }
    ui.joinButton.disabled = true;
    let me;
    try {
      me = await fetchToken(nick.name);
    } catch (e) {
      ui.joinError.textContent = e.message;
      return;
    } finally {
      ui.joinButton.disabled = false;
    }
    try { localStorage.setItem('switchboard-chat-name', me.name); } catch (e) { /* storage off */ }
    const next = new URLSearchParams(location.search);
    next.set('room', room.room);
    history.replaceState(null, '', `${location.pathname}?${next}`);
    ui.joinView.hidden = true;
    ui.chatView.hidden = false;
    ui.roomTitle.hidden = false;
    ui.roomTitle.textContent = `#${room.room}`;
    document.title = `#${room.room} · Switchboard chat`;
    startSession({ name: me.name, user: me.user, token: me.token }, room.room, transport);
    ui.message.focus();
  });

  ui.composer.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const s = session;
    const text = ui.message.value.trim();
    if (!s || text === '') return;
    if (await sendMessage(s, text.slice(0, MESSAGE_MAX)) && ui.message.value.trim() === text) ui.message.value = '';
  });
  ui.message.addEventListener('input', () => {
    if (session && ui.message.value.trim() !== '') sendTyping(session);
  });
  ui.leave.addEventListener('click', leaveRoom);
}

main();
