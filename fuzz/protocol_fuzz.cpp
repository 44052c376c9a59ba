// Fuzzes the protocol codec: arbitrary bytes go through json::validate and
// json::compact (which must agree, and compact output must be valid, stable
// and newline-free), through parseCommands (which must never crash and must
// only return commands that respect the parse rules), and every parsed
// command is echoed through the reply/push writers, whose output must be
// valid JSON that reads back to the same field values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/Codec.h"
#include "protocol/Json.h"

using namespace sb::protocol;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) abort(); \
  } while (0)

bool isValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = json::utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// The raw value at `path` through nested objects of a valid document.
std::optional<std::string> at(std::string_view object, std::initializer_list<std::string_view> path) {
  std::string holder;
  std::string_view current = object;
  for (std::string_view key : path) {
    json::ObjectReader r(current);
    json::Member m;
    std::optional<std::string> found;
    while (r.next(m))
      if (m.key == key) found = std::string(m.raw);
    if (!r.ok() || !found) return std::nullopt;
    holder = std::move(*found);
    current = holder;
  }
  return std::string(current);
}

// Writer output must be one valid JSON value on one line.
void checkEncoded(std::string_view out) {
  CHECK(json::validate(out));
  CHECK(out.find('\n') == std::string_view::npos);
  std::string compacted;
  CHECK(json::compact(out, compacted));
  CHECK(compacted == out);  // writers emit no insignificant whitespace
  // A reply line re-parses as a frame without crashing (it need not be a
  // valid command).
  std::vector<Command> cmds;
  std::string error;
  (void)parseCommands(out, cmds, error);
}

void checkString(std::string_view out, const std::optional<std::string>& raw, std::string_view expected) {
  CHECK(raw.has_value());
  CHECK(json::asString(*raw) == std::string(expected));
  (void)out;
}

void checkRaw(std::string_view data) {
  if (!data.empty()) CHECK(json::validate(data));
}

// Raw fields as parsed keep the sender's spacing; the model stores them
// compact, as a session would before publishing.
std::string compactRaw(const std::string& raw) {
  if (raw.empty()) return raw;
  CHECK(raw.find('\n') == std::string::npos);  // lines are split on '\n'
  std::string out;
  CHECK(json::compact(raw, out));
  return out;
}

// Echoes the fields of one parsed command through the writers.
void echo(const Command& cmd) {
  const std::string data = cmd.data.empty() ? std::string("null") : compactRaw(cmd.data);

  Publication pub;
  pub.data = data;
  pub.offset = cmd.subscribe.offset;
  pub.time = int64_t(cmd.limit);
  pub.info = ClientInfo{cmd.token, cmd.rpcMethod, compactRaw(cmd.connect.data), compactRaw(cmd.subscribe.data)};
  pub.tags.emplace_back(cmd.channel, cmd.subscribe.epoch);
  std::string out;
  writePublicationPush(out, cmd.channel, pub);
  checkEncoded(out);
  if (!cmd.channel.empty()) checkString(out, at(out, {"push", "channel"}), cmd.channel);
  CHECK(at(out, {"push", "pub", "data"}) == data);
  checkString(out, at(out, {"push", "pub", "info", "user"}), cmd.token);
  checkString(out, at(out, {"push", "pub", "info", "client"}), cmd.rpcMethod);
  checkString(out, at(out, {"push", "pub", "tags", cmd.channel}), cmd.subscribe.epoch);
  if (pub.offset != 0) CHECK(json::asUint(*at(out, {"push", "pub", "offset"})) == pub.offset);
  CHECK(unwrapPush(out).size() + 9 == out.size());
  CHECK(json::validate(unwrapPush(out)));

  out.clear();
  writeError(out, cmd.id, 4000, cmd.channel, cmd.reverse);
  checkEncoded(out);
  if (!cmd.channel.empty()) checkString(out, at(out, {"error", "message"}), cmd.channel);

  ConnectResult cr;
  cr.client = cmd.connect.name;
  cr.version = cmd.connect.version;
  cr.data = compactRaw(cmd.connect.data);
  for (const auto& [channel, req] : cmd.connect.subs) {
    SubscribeResult sr;
    sr.epoch = req.epoch;
    sr.offset = req.offset;
    sr.data = compactRaw(req.data);
    sr.publications.push_back(std::make_shared<Publication>(pub));
    cr.subs.emplace_back(channel, std::move(sr));
  }
  out.clear();
  writeConnectReply(out, cmd.id, cr);
  checkEncoded(out);
  if (!cr.client.empty()) checkString(out, at(out, {"connect", "client"}), cr.client);
  for (const auto& [channel, sr] : cr.subs) {
    if (!sr.epoch.empty()) checkString(out, at(out, {"connect", "subs", channel, "epoch"}), sr.epoch);
  }
  out.clear();
  writeConnectPush(out, cr);
  checkEncoded(out);

  SubscribeResult sub;
  sub.epoch = cmd.subscribe.epoch;
  sub.offset = cmd.subscribe.offset;
  sub.data = compactRaw(cmd.subscribe.data);
  sub.recoverable = cmd.subscribe.recoverable;
  out.clear();
  writeSubscribeReply(out, cmd.id, sub);
  checkEncoded(out);
  out.clear();
  writeSubscribePush(out, cmd.subscribe.channel, sub);
  checkEncoded(out);

  HistoryResult hr;
  hr.publications.push_back(std::make_shared<Publication>(pub));
  if (cmd.since) {
    hr.epoch = cmd.since->epoch;
    hr.offset = cmd.since->offset;
  }
  out.clear();
  writeHistoryReply(out, cmd.id, hr);
  checkEncoded(out);
  checkString(out, at(out, {"history", "epoch"}), hr.epoch);
  CHECK(json::asUint(*at(out, {"history", "offset"})) == hr.offset);

  std::unordered_map<std::string, ClientInfo> presence;
  presence[cmd.channel] = *pub.info;
  out.clear();
  writePresenceReply(out, cmd.id, presence);
  checkEncoded(out);
  checkString(out, at(out, {"presence", "presence", cmd.channel, "user"}), cmd.token);

  out.clear();
  writeJoinPush(out, cmd.channel, *pub.info);
  checkEncoded(out);
  out.clear();
  writeLeavePush(out, cmd.channel, *pub.info);
  checkEncoded(out);

  out.clear();
  writeMessagePush(out, compactRaw(cmd.data));
  checkEncoded(out);
  out.clear();
  writeRpcReply(out, cmd.id, compactRaw(cmd.data));
  checkEncoded(out);
  out.clear();
  writeDisconnectPush(out, uint16_t(cmd.id), cmd.token);
  checkEncoded(out);
  out.clear();
  writeUnsubscribePush(out, cmd.channel, UnsubscribeCode{cmd.id, cmd.token});
  checkEncoded(out);
  out.clear();
  writeRefreshReply(out, cmd.id, RefreshResult{cmd.connect.name, cmd.connect.version, cmd.reverse, cmd.id});
  checkEncoded(out);
  out.clear();
  writeEmptyReply(out, cmd.id, cmd.method);
  checkEncoded(out);
}

void checkCommand(const Command& cmd) {
  if (cmd.method != Method::Send && cmd.method != Method::Empty) CHECK(cmd.id != 0);
  if (cmd.method == Method::Publish) CHECK(!cmd.data.empty());
  checkRaw(cmd.data);
  checkRaw(cmd.connect.data);
  checkRaw(cmd.subscribe.data);
  for (const auto& [channel, req] : cmd.connect.subs) {
    CHECK(channel == req.channel);
    checkRaw(req.data);
    CHECK(isValidUtf8(channel));
  }
  // Strings decoded from JSON are valid UTF-8 (escapes included).
  CHECK(isValidUtf8(cmd.channel));
  CHECK(isValidUtf8(cmd.token));
  CHECK(isValidUtf8(cmd.subscribe.channel));
  CHECK(isValidUtf8(cmd.subscribe.epoch));
  CHECK(isValidUtf8(cmd.connect.token));
  if (cmd.since) CHECK(isValidUtf8(cmd.since->epoch));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // validate and compact agree; compact output is valid, newline-free, stable.
  std::string error;
  const bool valid = json::validate(text, &error);
  CHECK(valid || !error.empty());
  std::string compacted = "x";
  CHECK(json::compact(text, compacted) == valid);
  if (valid) {
    CHECK(compacted.size() <= size + 1);
    const std::string_view body = std::string_view(compacted).substr(1);
    CHECK(body.find('\n') == std::string_view::npos);
    CHECK(json::validate(body));
    std::string again;
    CHECK(json::compact(body, again));
    CHECK(again == body);
  } else {
    CHECK(compacted == "x");
  }

  // The readers agree with validate on whole documents.
  {
    json::ObjectReader r(text);
    json::Member m;
    while (r.next(m)) CHECK(json::validate(m.raw));
    if (r.ok()) CHECK(valid);
  }
  {
    json::ArrayReader r(text);
    std::string_view raw;
    json::Type type;
    while (r.next(raw, type)) CHECK(json::validate(raw));
    if (r.ok()) CHECK(valid);
  }
  // Scalars never crash; a parsed integer writes back to the same text.
  {
    std::string_view trimmed = text;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t' || trimmed.front() == '\n' || trimmed.front() == '\r'))
      trimmed.remove_prefix(1);
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t' || trimmed.back() == '\n' || trimmed.back() == '\r'))
      trimmed.remove_suffix(1);
    if (auto v = json::asInt(text)) CHECK(std::to_string(*v) == trimmed || trimmed == "-0");
    if (auto v = json::asUint(text)) CHECK(std::to_string(*v) == trimmed);
    if (json::asInt(text) || json::asUint(text) || json::asBool(text)) CHECK(valid);
  }
  if (auto s = json::asString(text)) CHECK(isValidUtf8(*s));

  // writeString makes valid JSON of any bytes and round-trips valid UTF-8.
  {
    std::string out;
    writeString(out, text);
    CHECK(json::validate(out));
    if (isValidUtf8(text)) CHECK(json::asString(out) == std::string(text));
  }

  std::vector<Command> cmds;
  std::string parseError;
  const bool ok = parseCommands(text, cmds, parseError);
  CHECK(ok || !parseError.empty());
  CHECK(cmds.size() <= kMaxCommandsPerFrame);
  for (const Command& cmd : cmds) {
    checkCommand(cmd);
    echo(cmd);
  }
  return 0;
}
