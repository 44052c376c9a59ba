// Centrifugo protocol v2 JSON codec.
//
// Parsing follows centrifuge's Go decoder where it is stricter or equal to
// ours: unknown fields are skipped, a JSON null for a field means "absent"
// (a null method field is no method, as a nil pointer in Go), wrong types are
// errors. Deliberately stricter than Go: two different method fields, and a
// method other than send without an id, are errors instead of "take the
// first" and "treat as pong".
//
// Encoding reproduces the field order and omission rules of the protocol
// package's easyjson encoders (what Centrifugo emits): zero values are left
// out, except that ClientInfo always has "user" and "client", a history
// result always has "publications", "epoch" and "offset", a presence result
// always has "presence", and presence stats always have both counters.
#include "protocol/Codec.h"

#include <array>
#include <charconv>
#include <cstring>

#include "protocol/Json.h"

namespace sb::protocol {

namespace {

constexpr std::array<std::string_view, 13> kMethodNames = {
    "",  // Empty has no field
    "connect", "subscribe", "unsubscribe", "publish", "presence", "presence_stats",
    "history", "ping", "send", "rpc", "refresh", "sub_refresh",
};

// ---------------------------------------------------------------------------
// Parsing

// Reads the members of one method object into typed fields, producing
// "<method>.<field>: <why>" errors.
class FieldReader {
 public:
  FieldReader(std::string_view context, std::string& error) : context_(context), error_(error) {}

  bool fail(std::string_view field, std::string_view why) {
    error_.assign(context_);
    if (!field.empty()) {
      error_ += '.';
      error_ += field;
    }
    error_ += ": ";
    error_ += why;
    return false;
  }

  // Each reader leaves `out` untouched for a JSON null (Go: no effect).
  bool string(const json::Member& m, std::string& out) {
    if (m.type == json::Type::Null) return true;
    if (m.type != json::Type::String) return fail(m.key, "expected a string");
    auto v = json::asString(m.raw);
    if (!v) return fail(m.key, "invalid string");
    out = std::move(*v);
    return true;
  }
  bool boolean(const json::Member& m, bool& out) {
    if (m.type == json::Type::Null) return true;
    auto v = json::asBool(m.raw);
    if (!v) return fail(m.key, "expected a boolean");
    out = *v;
    return true;
  }
  bool uint64(const json::Member& m, uint64_t& out) {
    if (m.type == json::Type::Null) return true;
    auto v = json::asUint(m.raw);
    if (!v) return fail(m.key, "expected an unsigned integer");
    out = *v;
    return true;
  }
  bool int32(const json::Member& m, int32_t& out) {
    if (m.type == json::Type::Null) return true;
    auto v = json::asInt(m.raw);
    if (!v || *v < INT32_MIN || *v > INT32_MAX) return fail(m.key, "expected a 32-bit integer");
    out = int32_t(*v);
    return true;
  }
  // Raw JSON, already validated by the reader; a null is kept as "null" (as
  // Go's Raw.UnmarshalJSON keeps it).
  bool raw(const json::Member& m, std::string& out) {
    out.assign(m.raw);
    return true;
  }
  bool readerDone(const json::ObjectReader& r) { return r.ok() || fail("", r.error()); }

 private:
  std::string_view context_;
  std::string& error_;
};

bool parseSubscribeFields(std::string_view body, SubscribeRequest& req, std::string_view context, std::string& error) {
  FieldReader f(context, error);
  json::ObjectReader r(body);
  json::Member m;
  while (r.next(m)) {
    bool ok = true;
    if (m.key == "channel") ok = f.string(m, req.channel);
    else if (m.key == "token") ok = f.string(m, req.token);
    else if (m.key == "recover") ok = f.boolean(m, req.recover);
    else if (m.key == "epoch") ok = f.string(m, req.epoch);
    else if (m.key == "offset") ok = f.uint64(m, req.offset);
    else if (m.key == "data") ok = f.raw(m, req.data);
    else if (m.key == "positioned") ok = f.boolean(m, req.positioned);
    else if (m.key == "recoverable") ok = f.boolean(m, req.recoverable);
    else if (m.key == "join_leave") ok = f.boolean(m, req.joinLeave);
    if (!ok) return false;
  }
  return f.readerDone(r);
}

bool parseConnect(std::string_view body, ConnectRequest& req, std::string& error) {
  FieldReader f("connect", error);
  json::ObjectReader r(body);
  json::Member m;
  while (r.next(m)) {
    bool ok = true;
    if (m.key == "token") ok = f.string(m, req.token);
    else if (m.key == "data") ok = f.raw(m, req.data);
    else if (m.key == "name") ok = f.string(m, req.name);
    else if (m.key == "version") ok = f.string(m, req.version);
    else if (m.key == "subs") {
      if (m.type == json::Type::Null) continue;
      if (m.type != json::Type::Object) return f.fail("subs", "expected an object");
      // A repeated "subs" member replaces the earlier one, like any field.
      req.subs.clear();
      std::unordered_map<std::string, size_t> index;  // channel -> position, for duplicate keys
      json::ObjectReader subs(m.raw);
      json::Member entry;
      while (subs.next(entry)) {
        if (entry.type == json::Type::Null) continue;
        if (entry.type != json::Type::Object) return f.fail("subs", "expected an object per channel");
        SubscribeRequest sub;
        if (!parseSubscribeFields(entry.raw, sub, "connect.subs", error)) return false;
        sub.channel = entry.key;
        auto [it, inserted] = index.emplace(entry.key, req.subs.size());
        if (inserted) req.subs.emplace_back(entry.key, std::move(sub));
        else req.subs[it->second].second = std::move(sub);  // the last duplicate wins
      }
      if (!subs.ok()) return f.fail("subs", subs.error());
    }
    if (!ok) return false;
  }
  return f.readerDone(r);
}

bool parseStreamPosition(std::string_view body, StreamPosition& pos, std::string& error) {
  FieldReader f("history.since", error);
  json::ObjectReader r(body);
  json::Member m;
  while (r.next(m)) {
    bool ok = true;
    if (m.key == "offset") ok = f.uint64(m, pos.offset);
    else if (m.key == "epoch") ok = f.string(m, pos.epoch);
    if (!ok) return false;
  }
  return f.readerDone(r);
}

// Fills the fields of `cmd.method` from its object.
bool parseMethodBody(std::string_view body, Command& cmd, std::string& error) {
  const std::string_view name = kMethodNames[size_t(cmd.method)];
  switch (cmd.method) {
    case Method::Connect: return parseConnect(body, cmd.connect, error);
    case Method::Subscribe: return parseSubscribeFields(body, cmd.subscribe, name, error);
    default: break;
  }
  FieldReader f(name, error);
  json::ObjectReader r(body);
  json::Member m;
  bool hasData = false;
  while (r.next(m)) {
    bool ok = true;
    switch (cmd.method) {
      case Method::Unsubscribe:
      case Method::Presence:
      case Method::PresenceStats:
        if (m.key == "channel") ok = f.string(m, cmd.channel);
        break;
      case Method::Publish:
        if (m.key == "channel") ok = f.string(m, cmd.channel);
        else if (m.key == "data") ok = hasData = f.raw(m, cmd.data);
        break;
      case Method::History:
        if (m.key == "channel") ok = f.string(m, cmd.channel);
        else if (m.key == "limit") ok = f.int32(m, cmd.limit);
        else if (m.key == "reverse") ok = f.boolean(m, cmd.reverse);
        else if (m.key == "since") {
          if (m.type == json::Type::Null) continue;
          if (m.type != json::Type::Object) return f.fail("since", "expected an object");
          StreamPosition pos;
          if (!parseStreamPosition(m.raw, pos, error)) return false;
          cmd.since = std::move(pos);
        }
        break;
      case Method::Send:
        if (m.key == "data") ok = f.raw(m, cmd.data);
        break;
      case Method::Rpc:
        if (m.key == "data") ok = f.raw(m, cmd.data);
        else if (m.key == "method") ok = f.string(m, cmd.rpcMethod);
        break;
      case Method::Refresh:
        if (m.key == "token") ok = f.string(m, cmd.token);
        break;
      case Method::SubRefresh:
        if (m.key == "channel") ok = f.string(m, cmd.channel);
        else if (m.key == "token") ok = f.string(m, cmd.token);
        break;
      default:  // Ping: no fields
        break;
    }
    if (!ok) return false;
  }
  if (!f.readerDone(r)) return false;
  if (cmd.method == Method::Publish && !hasData) return f.fail("data", "required");
  return true;
}

Method methodFromName(std::string_view key, bool& found) {
  for (size_t i = 1; i < kMethodNames.size(); ++i) {
    if (kMethodNames[i] == key) {
      found = true;
      return Method(i);
    }
  }
  found = false;
  return Method::Empty;
}

// Parses one line holding one command object.
bool parseCommand(std::string_view line, Command& cmd, std::string& error) {
  // The last occurrence of each method field wins (a null one erases it);
  // afterwards exactly one method may remain.
  std::array<std::optional<std::string_view>, kMethodNames.size()> methods{};
  json::ObjectReader r(line);
  json::Member m;
  while (r.next(m)) {
    if (m.key == "id") {
      if (m.type == json::Type::Null) continue;
      auto id = json::asUint(m.raw);
      if (!id || *id > UINT32_MAX) {
        error = "id: expected an unsigned 32-bit integer";
        return false;
      }
      cmd.id = uint32_t(*id);
      continue;
    }
    bool isMethod = false;
    const Method method = methodFromName(m.key, isMethod);
    if (!isMethod) continue;  // unknown fields are ignored once validated
    if (m.type == json::Type::Null) {
      methods[size_t(method)].reset();
    } else if (m.type == json::Type::Object) {
      methods[size_t(method)] = m.raw;
    } else {
      error = m.key + ": expected an object";
      return false;
    }
  }
  if (!r.ok()) {
    error = "invalid JSON: " + r.error();
    return false;
  }
  size_t count = 0;
  std::string_view body;
  for (size_t i = 1; i < methods.size(); ++i) {
    if (!methods[i]) continue;
    ++count;
    cmd.method = Method(i);
    body = *methods[i];
  }
  if (count > 1) {
    error = "more than one method in a command";
    return false;
  }
  if (count == 0) {
    if (cmd.id != 0) {
      error = "no method in a command";
      return false;
    }
    cmd.method = Method::Empty;  // the pong
    return true;
  }
  if (cmd.id == 0 && cmd.method != Method::Send) {
    error = "missing id";
    return false;
  }
  return parseMethodBody(body, cmd, error);
}

bool isBlank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

// ---------------------------------------------------------------------------
// Encoding

template <typename Int>
void appendInt(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, size_t(end - buf));
}

// Embeds raw JSON. Raw fields are compact by contract; a stray '\n' (only ever
// insignificant whitespace in valid JSON) is dropped anyway so one bad payload
// can never split a frame, as Centrifugo's Raw.MarshalJSON does.
void appendRaw(std::string& out, std::string_view raw) {
  if (std::memchr(raw.data(), '\n', raw.size()) == nullptr) {
    out.append(raw);
    return;
  }
  for (char c : raw)
    if (c != '\n') out += c;
}

// Writes one JSON object, tracking the commas. Keys are literals from this
// file and need no escaping.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;
  void close() { out_ += '}'; }

  std::string& key(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += k;
    out_ += "\":";
    return out_;
  }
  void string(std::string_view k, std::string_view v) { writeString(key(k), v); }
  void stringIfSet(std::string_view k, std::string_view v) {
    if (!v.empty()) string(k, v);
  }
  void trueIfSet(std::string_view k, bool v) {
    if (v) key(k) += "true";
  }
  template <typename Int>
  void number(std::string_view k, Int v) {
    appendInt(key(k), v);
  }
  template <typename Int>
  void numberIfSet(std::string_view k, Int v) {
    if (v != 0) number(k, v);
  }
  void rawIfSet(std::string_view k, std::string_view raw) {
    if (!raw.empty()) appendRaw(key(k), raw);
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// {"id":N,"<field>":  ... the caller writes the result, then closeReply().
std::string& openReply(std::string& out, uint32_t id, std::string_view field) {
  out += '{';
  if (id != 0) {
    out += "\"id\":";
    appendInt(out, id);
    out += ',';
  }
  out += '"';
  out += field;
  out += "\":";
  return out;
}
void closeReply(std::string& out) { out += '}'; }

// {"push":{"channel":"c","<field>":  ... closed by closePush().
std::string& openPush(std::string& out, std::string_view channel, std::string_view field) {
  out += "{\"push\":{";
  if (!channel.empty()) {
    out += "\"channel\":";
    writeString(out, channel);
    out += ',';
  }
  out += '"';
  out += field;
  out += "\":";
  return out;
}
void closePush(std::string& out) { out += "}}"; }

size_t publicationSizeHint(const Publication& pub) {
  size_t n = 64 + pub.data.size();
  if (pub.info) n += 48 + pub.info->user.size() + pub.info->client.size() + pub.info->connInfo.size() + pub.info->chanInfo.size();
  for (const auto& [k, v] : pub.tags) n += 6 + k.size() + v.size();
  return n;
}

void writePublications(std::string& out, const std::vector<PublicationPtr>& pubs) {
  out += '[';
  bool first = true;
  for (const auto& pub : pubs) {
    if (!pub) continue;  // never sent: a null would break the SDK
    if (!first) out += ',';
    first = false;
    writePublication(out, *pub);
  }
  out += ']';
}

bool hasPublications(const std::vector<PublicationPtr>& pubs) {
  for (const auto& p : pubs)
    if (p) return true;
  return false;
}

void writeSubscribeResult(std::string& out, const SubscribeResult& r) {
  ObjectWriter w(out);
  w.trueIfSet("expires", r.expires);
  w.numberIfSet("ttl", r.ttl);
  w.trueIfSet("recoverable", r.recoverable);
  w.stringIfSet("epoch", r.epoch);
  if (hasPublications(r.publications)) writePublications(w.key("publications"), r.publications);
  w.trueIfSet("recovered", r.recovered);
  w.numberIfSet("offset", r.offset);
  w.trueIfSet("positioned", r.positioned);
  w.rawIfSet("data", r.data);
  w.trueIfSet("was_recovering", r.wasRecovering);
  w.close();
}

void writeSubs(std::string& out, const std::vector<std::pair<std::string, SubscribeResult>>& subs) {
  out += '{';
  bool first = true;
  for (const auto& [channel, result] : subs) {
    if (!first) out += ',';
    first = false;
    writeString(out, channel);
    out += ':';
    writeSubscribeResult(out, result);
  }
  out += '}';
}

size_t connectSizeHint(const ConnectResult& r) {
  size_t n = 160 + r.client.size() + r.version.size() + r.data.size() + r.session.size() + r.node.size();
  for (const auto& [channel, sub] : r.subs) n += 96 + channel.size() + sub.epoch.size() + sub.data.size();
  return n;
}

}  // namespace

std::string_view methodName(Method m) {
  const size_t i = size_t(m);
  return i < kMethodNames.size() ? kMethodNames[i] : std::string_view();
}

bool parseCommands(std::string_view frame, std::vector<Command>& out, std::string& error) {
  out.clear();
  size_t lineNumber = 0;
  while (!frame.empty()) {
    const size_t nl = frame.find('\n');
    std::string_view line = frame.substr(0, nl);
    frame = nl == std::string_view::npos ? std::string_view() : frame.substr(nl + 1);
    ++lineNumber;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (isBlank(line)) continue;
    if (out.size() >= kMaxCommandsPerFrame) {
      error = "too many commands in a frame";
      return false;
    }
    Command cmd;
    std::string reason;
    if (!parseCommand(line, cmd, reason)) {
      error = "command on line " + std::to_string(lineNumber) + ": " + reason;
      return false;
    }
    out.push_back(std::move(cmd));
  }
  return true;
}

bool parseConnectRequest(std::string_view text, ConnectRequest& out, std::string& error) {
  out = ConnectRequest{};
  std::string why;
  if (!json::validate(text, &why)) {
    error = "connect request: " + why;
    return false;
  }
  size_t start = text.find_first_not_of(" \t\r\n");
  if (text.compare(start, 4, "null") == 0) return true;  // as Go: null is an empty request
  if (text[start] != '{') {
    error = "connect request: expected a JSON object";
    return false;
  }
  size_t end = text.find_last_not_of(" \t\r\n");
  return parseConnect(text.substr(start, end - start + 1), out, error);
}

// --- Replies ---------------------------------------------------------------

void writeError(std::string& out, uint32_t id, const ErrorCode& err) {
  writeError(out, id, err.code, err.message, err.temporary);
}

void writeError(std::string& out, uint32_t id, uint32_t code, std::string_view message, bool temporary) {
  out.reserve(out.size() + 64 + message.size());
  ObjectWriter w(openReply(out, id, "error"));
  w.numberIfSet("code", code);
  w.stringIfSet("message", message);
  w.trueIfSet("temporary", temporary);
  w.close();
  closeReply(out);
}

void writeConnectReply(std::string& out, uint32_t id, const ConnectResult& r) {
  out.reserve(out.size() + connectSizeHint(r));
  ObjectWriter w(openReply(out, id, "connect"));
  w.stringIfSet("client", r.client);
  w.stringIfSet("version", r.version);
  w.trueIfSet("expires", r.expires);
  w.numberIfSet("ttl", r.ttl);
  w.rawIfSet("data", r.data);
  if (!r.subs.empty()) writeSubs(w.key("subs"), r.subs);
  w.numberIfSet("ping", r.ping);
  w.trueIfSet("pong", r.pong);
  w.stringIfSet("session", r.session);
  w.stringIfSet("node", r.node);
  w.close();
  closeReply(out);
}

void writeSubscribeReply(std::string& out, uint32_t id, const SubscribeResult& r) {
  size_t hint = 128 + r.epoch.size() + r.data.size();
  for (const auto& p : r.publications)
    if (p) hint += publicationSizeHint(*p);
  out.reserve(out.size() + hint);
  writeSubscribeResult(openReply(out, id, "subscribe"), r);
  closeReply(out);
}

void writeRefreshReply(std::string& out, uint32_t id, const RefreshResult& r) {
  out.reserve(out.size() + 96 + r.client.size() + r.version.size());
  ObjectWriter w(openReply(out, id, "refresh"));
  w.stringIfSet("client", r.client);
  w.stringIfSet("version", r.version);
  w.trueIfSet("expires", r.expires);
  w.numberIfSet("ttl", r.ttl);
  w.close();
  closeReply(out);
}

void writeSubRefreshReply(std::string& out, uint32_t id, bool expires, uint32_t ttl) {
  ObjectWriter w(openReply(out, id, "sub_refresh"));
  w.trueIfSet("expires", expires);
  w.numberIfSet("ttl", ttl);
  w.close();
  closeReply(out);
}

void writeHistoryReply(std::string& out, uint32_t id, const HistoryResult& r) {
  size_t hint = 96 + r.epoch.size();
  for (const auto& p : r.publications)
    if (p) hint += publicationSizeHint(*p);
  out.reserve(out.size() + hint);
  // Centrifugo always sends all three fields here, even when empty or zero.
  ObjectWriter w(openReply(out, id, "history"));
  writePublications(w.key("publications"), r.publications);
  w.string("epoch", r.epoch);
  w.number("offset", r.offset);
  w.close();
  closeReply(out);
}

void writePresenceReply(std::string& out, uint32_t id, const std::unordered_map<std::string, ClientInfo>& presence) {
  size_t hint = 64;
  for (const auto& [client, info] : presence)
    hint += 48 + 2 * client.size() + info.user.size() + info.connInfo.size() + info.chanInfo.size();
  out.reserve(out.size() + hint);
  ObjectWriter w(openReply(out, id, "presence"));
  std::string& o = w.key("presence");  // always present, {} when nobody is there
  o += '{';
  bool first = true;
  for (const auto& [client, info] : presence) {
    if (!first) o += ',';
    first = false;
    writeString(o, client);
    o += ':';
    writeClientInfo(o, info);
  }
  o += '}';
  w.close();
  closeReply(out);
}

void writePresenceStatsReply(std::string& out, uint32_t id, uint32_t numClients, uint32_t numUsers) {
  ObjectWriter w(openReply(out, id, "presence_stats"));
  w.number("num_clients", numClients);
  w.number("num_users", numUsers);
  w.close();
  closeReply(out);
}

void writeEmptyReply(std::string& out, uint32_t id, Method method) {
  if (method == Method::Empty) {  // no result field exists for a pong
    writePing(out);
    return;
  }
  openReply(out, id, methodName(method)) += "{}";
  closeReply(out);
}

void writeRpcReply(std::string& out, uint32_t id, std::string_view data) {
  out.reserve(out.size() + 32 + data.size());
  ObjectWriter w(openReply(out, id, "rpc"));
  w.rawIfSet("data", data);
  w.close();
  closeReply(out);
}

void writePing(std::string& out) { out += "{}"; }

// --- Pushes ----------------------------------------------------------------

void writePublicationPush(std::string& out, std::string_view channel, const Publication& pub) {
  out.reserve(out.size() + 32 + channel.size() + publicationSizeHint(pub));
  writePublication(openPush(out, channel, "pub"), pub);
  closePush(out);
}

void writeJoinPush(std::string& out, std::string_view channel, const ClientInfo& info) {
  out.reserve(out.size() + 96 + channel.size() + info.user.size() + info.client.size() + info.connInfo.size() +
              info.chanInfo.size());
  ObjectWriter w(openPush(out, channel, "join"));
  writeClientInfo(w.key("info"), info);
  w.close();
  closePush(out);
}

void writeLeavePush(std::string& out, std::string_view channel, const ClientInfo& info) {
  out.reserve(out.size() + 96 + channel.size() + info.user.size() + info.client.size() + info.connInfo.size() +
              info.chanInfo.size());
  ObjectWriter w(openPush(out, channel, "leave"));
  writeClientInfo(w.key("info"), info);
  w.close();
  closePush(out);
}

void writeUnsubscribePush(std::string& out, std::string_view channel, const UnsubscribeCode& code) {
  ObjectWriter w(openPush(out, channel, "unsubscribe"));
  w.numberIfSet("code", code.code);
  w.stringIfSet("reason", code.reason);
  w.close();
  closePush(out);
}

void writeSubscribePush(std::string& out, std::string_view channel, const SubscribeResult& r) {
  // The Subscribe push carries only the stream fields of a subscribe result.
  ObjectWriter w(openPush(out, channel, "subscribe"));
  w.trueIfSet("recoverable", r.recoverable);
  w.stringIfSet("epoch", r.epoch);
  w.numberIfSet("offset", r.offset);
  w.trueIfSet("positioned", r.positioned);
  w.rawIfSet("data", r.data);
  w.close();
  closePush(out);
}

void writeMessagePush(std::string& out, std::string_view data) {
  out.reserve(out.size() + 32 + data.size());
  ObjectWriter w(openPush(out, {}, "message"));
  w.rawIfSet("data", data);
  w.close();
  closePush(out);
}

void writeDisconnectPush(std::string& out, const DisconnectCode& code) {
  writeDisconnectPush(out, code.code, code.reason);
}

void writeDisconnectPush(std::string& out, uint16_t code, std::string_view reason) {
  ObjectWriter w(openPush(out, {}, "disconnect"));
  w.numberIfSet("code", code);
  w.stringIfSet("reason", reason);
  w.close();
  closePush(out);
}

void writeRefreshPush(std::string& out, bool expires, uint32_t ttl) {
  ObjectWriter w(openPush(out, {}, "refresh"));
  w.trueIfSet("expires", expires);
  w.numberIfSet("ttl", ttl);
  w.close();
  closePush(out);
}

void writeConnectPush(std::string& out, const ConnectResult& r) {
  out.reserve(out.size() + connectSizeHint(r));
  // The Connect push message orders its fields differently from ConnectResult.
  ObjectWriter w(openPush(out, {}, "connect"));
  w.stringIfSet("client", r.client);
  w.stringIfSet("version", r.version);
  w.rawIfSet("data", r.data);
  if (!r.subs.empty()) writeSubs(w.key("subs"), r.subs);
  w.trueIfSet("expires", r.expires);
  w.numberIfSet("ttl", r.ttl);
  w.numberIfSet("ping", r.ping);
  w.trueIfSet("pong", r.pong);
  w.stringIfSet("session", r.session);
  w.stringIfSet("node", r.node);
  w.close();
  closePush(out);
}

void writePublication(std::string& out, const Publication& pub) {
  ObjectWriter w(out);
  w.rawIfSet("data", pub.data);
  if (pub.info) writeClientInfo(w.key("info"), *pub.info);
  w.numberIfSet("offset", pub.offset);
  if (!pub.tags.empty()) {
    std::string& o = w.key("tags");
    o += '{';
    bool first = true;
    for (const auto& [k, v] : pub.tags) {
      if (!first) o += ',';
      first = false;
      writeString(o, k);
      o += ':';
      writeString(o, v);
    }
    o += '}';
  }
  w.numberIfSet("time", pub.time);
  w.close();
}

void writeClientInfo(std::string& out, const ClientInfo& info) {
  ObjectWriter w(out);
  w.string("user", info.user);  // always sent, even for anonymous ""
  w.string("client", info.client);
  w.rawIfSet("conn_info", info.connInfo);
  w.rawIfSet("chan_info", info.chanInfo);
  w.close();
}

void writeString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t runStart = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const uint8_t c = uint8_t(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const size_t len = json::utf8SequenceLength(s, i);
      if (len != 0) {  // valid UTF-8 is copied as is
        i += len;
        continue;
      }
    }
    out.append(s.substr(runStart, i - runStart));
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += "\xEF\xBF\xBD";  // U+FFFD for a byte that is not valid UTF-8
        }
    }
    ++i;
    runStart = i;
  }
  out.append(s.substr(runStart));
  out += '"';
}

std::string_view unwrapPush(std::string_view encodedPush) {
  constexpr std::string_view kPrefix = "{\"push\":";
  if (encodedPush.size() > kPrefix.size() && encodedPush.substr(0, kPrefix.size()) == kPrefix &&
      encodedPush.back() == '}')
    return encodedPush.substr(kPrefix.size(), encodedPush.size() - kPrefix.size() - 1);
  return encodedPush;
}

}  // namespace sb::protocol
