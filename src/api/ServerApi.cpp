#include "api/ServerApi.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/ClientSession.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "http/Response.h"
#include "metrics/ServerMetrics.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"
#include "util/Glob.h"

namespace sb::api {

namespace json = protocol::json;
namespace err = protocol::error;

namespace {

std::string errorObject(uint32_t code, std::string_view message) {
  std::string out = "{\"code\":" + std::to_string(code) + ",\"message\":";
  protocol::writeString(out, message);
  out += '}';
  return out;
}

std::string errorBody(uint32_t code, std::string_view message) {
  return "{\"error\":" + errorObject(code, message) + "}";
}

// What one API command produced: its result object, or an error object and
// the HTTP status a call of its own answers with. `bare` bodies (batch) are
// sent as they are instead of wrapped in {"result":...}.
struct Outcome {
  int status = 200;
  bool ok = true;
  std::string json;
  bool bare = false;
};

Outcome badRequest(std::string_view message) { return {400, false, errorObject(err::kBadRequest.code, message)}; }
Outcome apiError(const protocol::ErrorCode& e, std::string_view detail = {}) {
  return {200, false, errorObject(e.code, detail.empty() ? e.message : detail)};
}
Outcome result(std::string inner) { return {200, true, std::move(inner)}; }

// Where a method's outcome goes. Called exactly once, maybe later (an
// asynchronous broker answers on a later loop turn), on the calling thread.
// Methods copy what their broker callbacks need: the request's Params point
// into a body that is gone by then.
using Done = std::function<void(Outcome)>;

// The request's members by name (last one wins), or an error message.
struct Params {
  std::string_view raw;  // the object's text (what parseParams read)
  std::vector<json::Member> members;
  const json::Member* find(std::string_view key) const {
    const json::Member* found = nullptr;
    for (const auto& m : members)
      if (m.key == key) found = &m;
    return found;
  }
};

std::optional<std::string> parseParams(std::string_view body, Params& p) {
  std::string_view trimmed = body;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\n' || trimmed.front() == '\r' ||
                              trimmed.front() == '\t'))
    trimmed.remove_prefix(1);
  if (trimmed.empty()) return std::string("request body must be a JSON object");
  std::string error;
  if (!json::validate(trimmed, &error)) return "malformed JSON: " + error;
  if (trimmed.front() != '{') return std::string("request body must be a JSON object");
  p.raw = trimmed;
  json::ObjectReader r(trimmed);
  json::Member m;
  while (r.next(m)) p.members.push_back(m);
  if (!r.ok()) return "malformed JSON: " + r.error();
  return std::nullopt;
}

// A required string member.
std::optional<std::string> stringParam(const Params& p, std::string_view key, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m) {
    error = std::string(key) + " required";
    return std::nullopt;
  }
  auto v = json::asString(m->raw);
  if (!v) error = std::string(key) + " must be a string";
  return v;
}

// `data` as compact JSON (newlines would break the line-delimited protocol).
std::optional<std::string> dataParam(const Params& p, std::string& error) {
  const json::Member* m = p.find("data");
  if (!m) {
    error = "data required";
    return std::nullopt;
  }
  std::string out;
  if (!json::compact(m->raw, out, &error)) return std::nullopt;
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> tagsParam(const Params& p, std::string& error) {
  std::vector<std::pair<std::string, std::string>> tags;
  const json::Member* m = p.find("tags");
  if (!m || m->type == json::Type::Null) return tags;
  if (m->type != json::Type::Object) {
    error = "tags must be an object of strings";
    return std::nullopt;
  }
  json::ObjectReader r(m->raw);
  json::Member t;
  while (r.next(t)) {
    auto v = json::asString(t.raw);
    if (!v) {
      error = "tags must be an object of strings";
      return std::nullopt;
    }
    tags.emplace_back(t.key, *v);
  }
  return tags;
}

// An optional stream position {"offset":N,"epoch":"..."} (null = absent);
// false with `error` set when malformed.
bool positionParam(const Params& p, std::string_view key, std::optional<protocol::StreamPosition>& out,
                   std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  if (m->type != json::Type::Object) {
    error = std::string(key) + " must be {\"offset\":N,\"epoch\":\"...\"}";
    return false;
  }
  protocol::StreamPosition pos;
  json::ObjectReader r(m->raw);
  json::Member f;
  while (r.next(f)) {
    if (f.key == "offset") {
      auto v = json::asUint(f.raw);
      if (!v) {
        error = std::string(key) + ".offset must be a non-negative integer";
        return false;
      }
      pos.offset = *v;
    } else if (f.key == "epoch") {
      auto v = json::asString(f.raw);
      if (!v) {
        error = std::string(key) + ".epoch must be a string";
        return false;
      }
      pos.epoch = *v;
    }
  }
  out = pos;
  return true;
}

// An optional string member ("" when absent); false with `error` set when
// present with another type.
bool optionalString(const Params& p, std::string_view key, std::string& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asString(m->raw);
  if (!v) {
    error = std::string(key) + " must be a string";
    return false;
  }
  out = std::move(*v);
  return true;
}

// An optional JSON value of any type, compacted ("" when absent or null).
bool optionalJson(const Params& p, std::string_view key, std::string& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  if (!json::compact(m->raw, out, &error)) {
    error = std::string(key) + ": " + error;
    return false;
  }
  return true;
}

// An optional boolean (false when absent).
bool optionalBool(const Params& p, std::string_view key, bool& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asBool(m->raw);
  if (!v) {
    error = std::string(key) + " must be a boolean";
    return false;
  }
  out = *v;
  return true;
}

// An optional unix time in seconds (0 when absent).
bool optionalUnixTime(const Params& p, std::string_view key, int64_t& out, std::string& error) {
  const json::Member* m = p.find(key);
  if (!m || m->type == json::Type::Null) return true;
  auto v = json::asInt(m->raw);
  if (!v || *v < 0) {
    error = std::string(key) + " must be a non-negative integer (unix seconds)";
    return false;
  }
  out = *v;
  return true;
}

std::string positionJson(const protocol::StreamPosition& pos) {
  std::string out = "{";
  if (pos.offset) out += "\"offset\":" + std::to_string(pos.offset);
  if (!pos.epoch.empty()) {
    if (out.size() > 1) out += ',';
    out += "\"epoch\":";
    protocol::writeString(out, pos.epoch);
  }
  out += '}';
  return out;
}

// Publishes one channel; returns the inner JSON of a result or an error.
struct PublishOutcome {
  bool ok = false;
  std::string json;  // result object or error object
};

// Publishes one channel; `done` gets the inner JSON of a result or an error.
void publishOne(core::Node& node, const std::string& channel, std::string data,
                std::vector<std::pair<std::string, std::string>> tags, std::string idempotencyKey,
                std::function<void(PublishOutcome)> done) {
  if (auto e = node.rules().checkName(channel)) return done({false, errorObject(e->code, e->message)});
  if (!node.rules().options(channel))
    return done({false, errorObject(err::kUnknownChannel.code, err::kUnknownChannel.message)});
  node.publish(channel, std::move(data), std::nullopt, std::move(tags), std::move(idempotencyKey),
               [done = std::move(done)](broker::PublishResult r, const broker::BrokerError* e) {
                 if (e) done({false, errorObject(err::kInternal.code, e->message)});
                 else done({true, positionJson(r.position)});
               });
}

void doPublish(core::Node& node, const Params& p, Done done) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return done(badRequest(error));
  auto data = dataParam(p, error);
  if (!data) return done(badRequest(error));
  auto tags = tagsParam(p, error);
  if (!tags) return done(badRequest(error));
  std::string key;
  if (const auto* m = p.find("idempotency_key")) {
    auto v = json::asString(m->raw);
    if (!v) return done(badRequest("idempotency_key must be a string"));
    key = *v;
  }
  publishOne(node, *channel, std::move(*data), std::move(*tags), std::move(key),
             [done = std::move(done)](PublishOutcome o) {
               if (!o.ok) return done({200, false, std::move(o.json)});
               done(result(std::move(o.json)));
             });
}

// Publishes every channel at once; answers when the last one is done, with
// the replies in channel order.
void doBroadcast(core::Node& node, const Params& p, Done done) {
  std::string error;
  const json::Member* chans = p.find("channels");
  if (!chans || chans->type != json::Type::Array) return done(badRequest("channels required (an array of strings)"));
  std::vector<std::string> channels;
  json::ArrayReader r(chans->raw);
  std::string_view raw;
  json::Type type;
  while (r.next(raw, type)) {
    auto v = json::asString(raw);
    if (!v) return done(badRequest("channels must be strings"));
    channels.push_back(std::move(*v));
  }
  if (channels.empty()) return done(badRequest("channels must not be empty"));
  if (channels.size() > 10000) return done(badRequest("at most 10000 channels per broadcast"));
  auto data = dataParam(p, error);
  if (!data) return done(badRequest(error));
  auto tags = tagsParam(p, error);
  if (!tags) return done(badRequest(error));
  struct Pending {
    std::vector<PublishOutcome> outcomes;
    size_t remaining;
    Done done;
  };
  auto pending = std::make_shared<Pending>(Pending{std::vector<PublishOutcome>(channels.size()), channels.size(),
                                                   std::move(done)});
  for (size_t i = 0; i < channels.size(); ++i) {
    publishOne(node, channels[i], *data, *tags, {}, [pending, i](PublishOutcome o) {
      pending->outcomes[i] = std::move(o);
      if (--pending->remaining > 0) return;
      std::string out = "{\"responses\":[";
      for (size_t k = 0; k < pending->outcomes.size(); ++k) {
        if (k) out += ',';
        out += pending->outcomes[k].ok ? "{\"result\":" : "{\"error\":";
        out += pending->outcomes[k].json;
        out += '}';
      }
      out += "]}";
      pending->done(result(std::move(out)));
    });
  }
}

// A channel that exists (known namespace, valid name), for read methods.
std::optional<Outcome> checkChannel(core::Node& node, const std::string& channel) {
  if (auto e = node.rules().checkName(channel)) return apiError(*e);
  if (!node.rules().options(channel)) return apiError(err::kUnknownChannel);
  return std::nullopt;
}

void doPresence(core::Node& node, const Params& p, bool stats, Done done) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return done(badRequest(error));
  if (auto e = checkChannel(node, *channel)) return done(*e);
  if (!node.rules().options(*channel)->presence)
    return done(apiError(err::kNotAvailable, "presence is off in this namespace"));
  if (stats) {
    node.broker().presenceStats(*channel, [done = std::move(done)](broker::PresenceStats s, const broker::BrokerError* e) {
      if (e) done(apiError(err::kInternal, e->message));
      else
        done(result("{\"num_clients\":" + std::to_string(s.numClients) +
                       ",\"num_users\":" + std::to_string(s.numUsers) + "}"));
    });
  } else {
    node.broker().presence(*channel, [done = std::move(done)](std::unordered_map<std::string, protocol::ClientInfo> m,
                                                              const broker::BrokerError* e) {
      if (e) return done(apiError(err::kInternal, e->message));
      std::string out = "{\"presence\":{";
      bool first = true;
      for (const auto& [id, info] : m) {
        if (!first) out += ',';
        first = false;
        protocol::writeString(out, id);
        out += ':';
        protocol::writeClientInfo(out, info);
      }
      out += "}}";
      done(result(std::move(out)));
    });
  }
}

void doHistory(core::Node& node, const Params& p, Done done) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return done(badRequest(error));
  if (auto e = checkChannel(node, *channel)) return done(*e);
  const config::ChannelOptions* opts = node.rules().options(*channel);
  if (!opts->historyEnabled()) return done(apiError(err::kNotAvailable, "history is off in this namespace"));
  broker::HistoryRequest req;
  req.historyTtl = opts->history_ttl;
  req.metaTtl = node.config().broker.history_meta_ttl;
  if (const auto* m = p.find("limit")) {
    auto v = json::asInt(m->raw);
    if (!v || *v < -1 || *v > 1000000) return done(badRequest("limit must be an integer from -1 to 1000000"));
    req.limit = int(*v);
  }
  if (const auto* m = p.find("reverse")) {
    auto v = json::asBool(m->raw);
    if (!v) return done(badRequest("reverse must be a boolean"));
    req.reverse = *v;
  }
  if (!positionParam(p, "since", req.since, error)) return done(badRequest(error));
  std::optional<protocol::StreamPosition> since = req.since;
  node.broker().history(*channel, req, [since, done = std::move(done)](broker::HistoryResult h,
                                                                        const broker::BrokerError* e) {
    if (e) return done(apiError(err::kInternal, e->message));
    if (since && (since->epoch != h.position.epoch || !h.sinceRetained))
      return done(apiError(err::kUnrecoverablePosition));
    std::string out = "{\"publications\":[";
    for (size_t i = 0; i < h.publications.size(); ++i) {
      if (i) out += ',';
      protocol::writePublication(out, *h.publications[i]);
    }
    out += "],\"epoch\":";
    protocol::writeString(out, h.position.epoch);
    out += ",\"offset\":" + std::to_string(h.position.offset) + "}";
    done(result(std::move(out)));
  });
}

void doHistoryRemove(core::Node& node, const Params& p, Done done) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return done(badRequest(error));
  if (auto e = checkChannel(node, *channel)) return done(*e);
  node.broker().removeHistory(*channel, [done = std::move(done)](bool, const broker::BrokerError* e) {
    done(e ? apiError(err::kInternal, e->message) : result("{}"));
  });
}

// The sessions a user-targeted call acts on: every connection of `user` on
// this node, or only the one with id `client` when it is set. Sessions live
// on their workers' threads, so `act` is posted to each worker and the call
// answers before it ran (as Centrifugo answers once the action is sent).
template <class Act>
void forUserSessions(core::Node& node, std::string user, std::string client, Act act) {
  node.hub().forEachWorker([&node, user = std::move(user), client = std::move(client), act](size_t w) {
    node.forEachSession(w, [&](core::ClientSession& s) {
      if (s.connected() && s.user() == user && (client.empty() || s.clientId() == client)) act(s);
    });
  });
}

// The `user` and optional `client` every user-targeted method takes.
struct Target {
  std::string user, client;
};
std::optional<Target> targetParams(const Params& p, std::string& error) {
  auto user = stringParam(p, "user", error);
  if (!user) return std::nullopt;
  Target t{std::move(*user), {}};
  if (!optionalString(p, "client", t.client, error)) return std::nullopt;
  return t;
}

// subscribe/unsubscribe: the user (and client) and a valid channel, or the
// answer that refuses them.
std::optional<Outcome> userChannelParams(core::Node& node, const Params& p, std::optional<Target>& target,
                                         std::optional<std::string>& channel) {
  std::string error;
  target = targetParams(p, error);
  if (!target) return badRequest(error);
  channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  return checkChannel(node, *channel);
}

Outcome doSubscribeLocal(core::Node& node, const Params& p) {
  std::optional<Target> target;
  std::optional<std::string> channel;
  if (auto refused = userChannelParams(node, p, target, channel)) return *refused;
  std::string error;
  auto req = std::make_shared<core::ServerSubscribeRequest>();
  req->channel = std::move(*channel);
  if (!optionalJson(p, "info", req->info, error) || !optionalJson(p, "data", req->data, error) ||
      !optionalUnixTime(p, "expire_at", req->expireAt, error) ||
      !positionParam(p, "recover_since", req->recoverSince, error))
    return badRequest(error);
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [req](core::ClientSession& s) { s.serverSubscribe(*req); });
  return result("{}");
}

Outcome doUnsubscribeLocal(core::Node& node, const Params& p) {
  std::optional<Target> target;
  std::optional<std::string> channel;
  if (auto refused = userChannelParams(node, p, target, channel)) return *refused;
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [channel = std::move(*channel)](core::ClientSession& s) { s.serverUnsubscribe(channel); });
  return result("{}");
}

Outcome doRefreshLocal(core::Node& node, const Params& p) {
  std::string error;
  auto target = targetParams(p, error);
  if (!target) return badRequest(error);
  bool expired = false;
  int64_t expireAt = 0;
  std::string info;
  if (!optionalBool(p, "expired", expired, error) || !optionalUnixTime(p, "expire_at", expireAt, error) ||
      !optionalJson(p, "info", info, error))
    return badRequest(error);
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [expired, expireAt, info = std::move(info)](core::ClientSession& s) {
                    s.serverRefresh(expired, expireAt, info);
                  });
  return result("{}");
}

Outcome doDisconnectLocal(core::Node& node, const Params& p) {
  std::string error;
  auto target = targetParams(p, error);
  if (!target) return badRequest(error);
  uint16_t code = protocol::disconnect::kForceNoReconnect.code;
  std::string reason(protocol::disconnect::kForceNoReconnect.reason);
  // Centrifugo's shape {"disconnect":{"code","reason"}} or top-level code/reason.
  auto readCode = [&](const Params& src, std::string_view prefix) -> std::optional<std::string> {
    if (const auto* m = src.find("code")) {
      auto v = json::asUint(m->raw);
      if (!v || *v < 3000 || *v > 4999) return std::string(prefix) + "code must be an integer from 3000 to 4999";
      code = uint16_t(*v);
      if (const auto* known = protocol::findDisconnect(code)) reason = known->reason;
    }
    if (const auto* m = src.find("reason")) {
      auto v = json::asString(m->raw);
      if (!v || v->size() > 120) return std::string(prefix) + "reason must be a string of at most 120 bytes";
      reason = *v;
    }
    return std::nullopt;
  };
  if (auto e = readCode(p, "")) return badRequest(*e);
  if (const auto* m = p.find("disconnect"); m && m->type != json::Type::Null) {
    if (m->type != json::Type::Object) return badRequest("disconnect must be {\"code\":N,\"reason\":\"...\"}");
    Params inner;
    if (auto e = parseParams(m->raw, inner)) return badRequest(*e);
    if (auto e = readCode(inner, "disconnect.")) return badRequest(*e);
  }
  // Client ids that keep their connection (Centrifugo's `whitelist`).
  std::vector<std::string> whitelist;
  if (const auto* m = p.find("whitelist"); m && m->type != json::Type::Null) {
    if (m->type != json::Type::Array) return badRequest("whitelist must be an array of client ids");
    json::ArrayReader r(m->raw);
    std::string_view raw;
    json::Type type;
    while (r.next(raw, type)) {
      auto v = json::asString(raw);
      if (!v) return badRequest("whitelist must be an array of client ids");
      whitelist.push_back(std::move(*v));
    }
  }
  // Plain /sse and /ws streams of the user end too (docs/plain.md).
  node.hub().forEachWorker([&node, user = target->user, client = target->client, code, reason,
                            whitelist](size_t w) {
    node.forEachStream(w, [&](core::UserStream& s) {
      if (s.streamUser() != user || (!client.empty() && s.streamClient() != client)) return;
      if (std::find(whitelist.begin(), whitelist.end(), s.streamClient()) == whitelist.end())
        s.disconnectStream(code, reason);
    });
  });
  forUserSessions(node, std::move(target->user), std::move(target->client),
                  [code, reason = std::move(reason), whitelist = std::move(whitelist)](core::ClientSession& s) {
                    if (std::find(whitelist.begin(), whitelist.end(), s.clientId()) == whitelist.end())
                      s.disconnect(code, reason);
                  });
  return result("{}");
}

// An action by user acts on this node's sessions, then goes to every other
// node in a control message ("api": {"method","params"}) so that the user's
// connections there get it too; each node checks the params again. Errors
// of the local part answer at once; the answer waits for the broker to take
// the control message, and one it refused answers error 100 (the local part
// has been done by then).
void onEveryNode(core::Node& node, const Params& p, std::string_view method,
                 Outcome (*local)(core::Node&, const Params&), Done done) {
  Outcome o = local(node, p);
  if (!o.ok) return done(std::move(o));
  std::string body = "{\"method\":";
  protocol::writeString(body, method);
  body += ",\"params\":";
  if (!json::compact(p.raw, body)) return done(apiError(err::kInternal, "params could not be re-encoded"));
  body += '}';
  node.control().send("api", "", std::move(body),
                      [done = std::move(done), o = std::move(o), m = std::string(method)](
                          bool, const broker::BrokerError* e) mutable {
                        if (!e) return done(std::move(o));
                        spdlog::warn("server API: {} not sent to the other nodes: {}", m, e->message);
                        done(apiError(err::kInternal, "not sent to the other nodes: " + e->message));
                      });
}

void doSubscribe(core::Node& node, const Params& p, Done done) {
  onEveryNode(node, p, "subscribe", doSubscribeLocal, std::move(done));
}
void doUnsubscribe(core::Node& node, const Params& p, Done done) {
  onEveryNode(node, p, "unsubscribe", doUnsubscribeLocal, std::move(done));
}
void doRefresh(core::Node& node, const Params& p, Done done) {
  onEveryNode(node, p, "refresh", doRefreshLocal, std::move(done));
}
void doDisconnect(core::Node& node, const Params& p, Done done) {
  onEveryNode(node, p, "disconnect", doDisconnectLocal, std::move(done));
}

// Runs an "api" control message from another node on this node's sessions.
void runFromOtherNode(core::Node& node, const core::ControlMessage& m) {
  Params body;
  if (auto e = parseParams(m.body, body)) {
    spdlog::warn("server API: dropped an action from node {}: {}", m.from, *e);
    return;
  }
  const json::Member* method = body.find("method");
  const json::Member* params = body.find("params");
  auto name = method ? json::asString(method->raw) : std::nullopt;
  Outcome (*local)(core::Node&, const Params&) = nullptr;
  if (name == "subscribe") local = doSubscribeLocal;
  else if (name == "unsubscribe") local = doUnsubscribeLocal;
  else if (name == "refresh") local = doRefreshLocal;
  else if (name == "disconnect") local = doDisconnectLocal;
  Params p;
  if (!local || !params || parseParams(params->raw, p)) {
    spdlog::warn("server API: dropped an action from node {}: unknown method or no params", m.from);
    return;
  }
  Outcome o = local(node, p);
  if (!o.ok) spdlog::warn("server API: {} from node {} failed here: {}", *name, m.from, o.json);
}

Outcome doChannels(core::Node& node, const Params& p) {
  std::string error, pattern;
  if (!optionalString(p, "pattern", pattern, error)) return badRequest(error);
  std::function<bool(std::string_view)> keep;
  if (!pattern.empty()) keep = [&pattern](std::string_view name) { return util::globMatch(pattern, name); };
  auto counts = node.hub().channelCounts(keep);
  std::sort(counts.begin(), counts.end());
  std::string out = "{\"channels\":{";
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i) out += ',';
    protocol::writeString(out, counts[i].first);
    out += ":{\"num_clients\":" + std::to_string(counts[i].second) + "}";
  }
  out += "}}";
  return result(std::move(out));
}

// Every live node: this one with fresh counts and its own statistics, the
// others as their last heartbeat said (ControlChannel).
Outcome doInfo(core::Node& node, const Params&) {
  std::string out = "{\"nodes\":[";
  auto nodes = node.control().nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const core::NodeInfo& n = nodes[i];
    std::string one = core::encodeNodeInfo(n);
    if (i == 0) {  // this node: what only it knows
      one.pop_back();
      one += ",\"broker\":";
      protocol::writeString(one, node.broker().name());
      one += ",\"publications\":" + std::to_string(node.hub().stats().publications.load());
      one += ",\"deliveries\":" + std::to_string(node.hub().stats().deliveries.load());
      one += ",\"frames_encoded\":" + std::to_string(node.hub().stats().framesEncoded.load());
      one += '}';
    } else {
      out += ',';
    }
    out += one;
  }
  out += "]}";
  return result(std::move(out));
}

// Constant-time key comparison.
bool keyMatches(std::string_view given, const std::string& key) {
  return given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

void doBatch(core::Node& node, const Params& p, Done done);

struct MethodDef {
  std::string_view name;
  void (*run)(core::Node&, const Params&, Done);
};

// A method that answers before it returns (no broker round trip).
template <Outcome (*Method)(core::Node&, const Params&)>
void answersAtOnce(core::Node& node, const Params& p, Done done) {
  done(Method(node, p));
}

// Every method, by its name in /api/<name>, in batch commands and in the
// legacy {"method": ...} form.
const MethodDef kMethods[] = {
    {"publish", doPublish},
    {"broadcast", doBroadcast},
    {"subscribe", doSubscribe},
    {"unsubscribe", doUnsubscribe},
    {"disconnect", doDisconnect},
    {"refresh", doRefresh},
    {"presence", [](core::Node& n, const Params& p, Done d) { doPresence(n, p, false, std::move(d)); }},
    {"presence_stats", [](core::Node& n, const Params& p, Done d) { doPresence(n, p, true, std::move(d)); }},
    {"history", doHistory},
    {"history_remove", doHistoryRemove},
    {"channels", answersAtOnce<doChannels>},
    {"info", answersAtOnce<doInfo>},
    {"batch", doBatch},
};

const MethodDef* findMethod(std::string_view name) {
  for (const auto& m : kMethods)
    if (m.name == name) return &m;
  return nullptr;
}

Outcome unknownMethod(std::string_view name) {
  return {404, false, errorObject(err::kMethodNotFound.code, "unknown API method '" + std::string(name) + "'")};
}

// Runs `method` on a JSON body (an object; `info` also takes an empty body).
// `body` need live only until this returns.
void run(core::Node& node, std::string_view method, std::string_view body, Done done) {
  const MethodDef* def = findMethod(method);
  if (!def) return done(unknownMethod(method));
  Params p;
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!(blank && method == "info"))
    if (auto e = parseParams(body, p)) return done(badRequest(*e));
  def->run(node, p, std::move(done));
}

// One command of a batch or legacy request, decoded up front: the method and
// its params, or the outcome that refuses it without running anything.
struct QueuedCommand {
  std::string method;
  std::string params;
  std::optional<Outcome> refused;
  uint64_t id = 0;  // legacy only
};

// Runs `commands` one after another (each starts once the previous one has
// answered), or all at once (`parallel`: the broker gets them together, one
// Redis round trip for the lot, and answers them in the order sent on its
// connection), then calls `finished` with their outcomes in order. Commands
// answered at once run in a loop, not by recursion, so a batch of thousands
// on a synchronous broker does not grow the stack.
class CommandSequence : public std::enable_shared_from_this<CommandSequence> {
 public:
  using Finished = std::function<void(std::vector<QueuedCommand>&, std::vector<Outcome>&)>;
  CommandSequence(core::Node& node, std::vector<QueuedCommand> commands, Finished finished)
      : node_(node), commands_(std::move(commands)), finished_(std::move(finished)) {
    outcomes_.resize(commands_.size());
  }
  void start() { advance(); }
  void startAll() {
    unanswered_ = commands_.size() + 1;  // the extra one: until every command started
    for (size_t i = 0; i < commands_.size(); ++i) {
      QueuedCommand& cmd = commands_[i];
      if (cmd.refused) {
        outcomes_[i] = std::move(*cmd.refused);
        --unanswered_;
        continue;
      }
      run(node_, cmd.method, cmd.params, [self = shared_from_this(), i](Outcome o) {
        self->outcomes_[i] = std::move(o);
        self->answered();
      });
    }
    answered();
  }

 private:
  void answered() {
    if (--unanswered_ == 0) finish();
  }
  void finish() {
    if (!finished_) return;
    Finished f = std::move(finished_);
    finished_ = nullptr;
    f(commands_, outcomes_);
  }

  void advance() {
    while (next_ < commands_.size()) {
      size_t i = next_++;
      QueuedCommand& cmd = commands_[i];
      if (cmd.refused) {
        outcomes_[i] = std::move(*cmd.refused);
        continue;
      }
      // 0: run() has not returned yet; 1: answered inside run(); 2: run()
      // returned without an answer, which resumes the sequence when it comes.
      auto stage = std::make_shared<int>(0);
      run(node_, cmd.method, cmd.params, [self = shared_from_this(), i, stage](Outcome o) {
        self->outcomes_[i] = std::move(o);
        if (*stage == 0) *stage = 1;
        else self->advance();
      });
      if (*stage == 0) {
        *stage = 2;
        return;
      }
    }
    finish();
  }

  core::Node& node_;
  std::vector<QueuedCommand> commands_;
  std::vector<Outcome> outcomes_;
  size_t next_ = 0;
  size_t unanswered_ = 0;  // startAll
  Finished finished_;
};

// {"commands":[{"<method>":{params}}, ...], "parallel":bool} answers
// {"replies":[{"<method>":{result}} or {"error":{...}}, ...]} in command order;
// a bad command fails only its own reply. Commands run one after another,
// or with `parallel` all at once (replies still in command order).
void doBatch(core::Node& node, const Params& p, Done done) {
  constexpr size_t kMaxCommands = 10000;
  const json::Member* commands = p.find("commands");
  if (!commands || commands->type != json::Type::Array)
    return done(badRequest("commands required (an array of {\"<method>\":{params}} objects)"));
  std::string error;
  bool parallel = false;
  if (!optionalBool(p, "parallel", parallel, error)) return done(badRequest(error));
  std::vector<QueuedCommand> queued;
  json::ArrayReader r(commands->raw);
  std::string_view raw;
  json::Type type;
  while (r.next(raw, type)) {
    if (queued.size() >= kMaxCommands) return done(badRequest("at most 10000 commands per batch"));
    QueuedCommand& cmd = queued.emplace_back();
    size_t members = 0;
    if (type == json::Type::Object) {
      json::ObjectReader cr(raw);
      json::Member m;
      while (cr.next(m)) {
        ++members;
        cmd.method = m.key;
        cmd.params.assign(m.raw);
      }
    }
    if (type != json::Type::Object || members != 1)
      cmd.refused = badRequest("a batch command must be an object with one member, {\"<method>\":{params}}");
    else if (cmd.method == "batch")
      cmd.refused = unknownMethod("batch (batches do not nest)");
  }
  auto sequence = std::make_shared<CommandSequence>(
      node, std::move(queued),
      [done = std::move(done)](std::vector<QueuedCommand>& cmds, std::vector<Outcome>& outcomes) {
        std::string out = "{\"replies\":[";
        for (size_t i = 0; i < outcomes.size(); ++i) {
          if (i) out += ',';
          const Outcome& o = outcomes[i];
          if (o.ok) {
            out += '{';
            protocol::writeString(out, cmds[i].method);
            out += ':';
            out += o.json;
            out += '}';
          } else {
            out += "{\"error\":" + o.json + "}";
          }
        }
        out += "]}";
        Outcome batch = result(std::move(out));
        batch.bare = true;
        done(std::move(batch));
      });
  if (parallel) sequence->startAll();
  else sequence->start();
}

ApiReply render(Outcome o) {
  if (o.bare) return {o.status, std::move(o.json)};
  return {o.status, (o.ok ? "{\"result\":" : "{\"error\":") + o.json + "}"};
}

// The legacy endpoint's numeric method codes (Centrifugo's Command.MethodType).
constexpr std::string_view kLegacyMethodNumbers[] = {
    "publish",  "broadcast", "unsubscribe", "disconnect", "presence", "presence_stats", "history",
    "history_remove", "channels", "info", "rpc", "subscribe", "refresh"};

// The end of the JSON value starting at text[0] ('{' or '['), or npos when it
// does not end; strings (with escapes) may hold brackets.
size_t valueEnd(std::string_view text) {
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') ++i;
      else if (c == '"') inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

void call(core::Node& node, std::string_view method, std::string_view body, ApiDone done) {
  run(node, method, body, [done = std::move(done)](Outcome o) { done(render(std::move(o))); });
}

void callLegacy(core::Node& node, std::string_view body, ApiDone done) {
  constexpr size_t kMaxCommands = 10000;
  constexpr std::string_view kBlank = " \t\r\n";
  std::vector<QueuedCommand> queued;
  size_t at = body.find_first_not_of(kBlank);
  if (at == std::string_view::npos)
    return done(render(badRequest("request body must hold {\"method\",\"params\"} commands")));
  for (; at != std::string_view::npos; at = body.find_first_not_of(kBlank, at)) {
    if (queued.size() >= kMaxCommands) return done(render(badRequest("at most 10000 commands per request")));
    size_t count = queued.size() + 1;
    std::string_view rest = body.substr(at);
    size_t end = rest.front() == '{' ? valueEnd(rest) : std::string_view::npos;
    std::string error;
    if (end == std::string_view::npos || !json::validate(rest.substr(0, end), &error))
      return done(render(badRequest(fmt::format("command {}: {}", count,
                                                error.empty() ? "expected a JSON object {\"method\",\"params\"}"
                                                              : "malformed JSON: " + error))));
    Params params;
    parseParams(rest.substr(0, end), params);
    at += end;

    // {"id"?, "method": "publish" | 0, "params": {...}} → {"id"?, "result" | "error"}
    QueuedCommand& cmd = queued.emplace_back();
    if (const auto* m = params.find("id")) cmd.id = json::asUint(m->raw).value_or(0);
    const json::Member* m = params.find("method");
    if (!m) {
      cmd.refused = badRequest("method required");
    } else if (auto name = json::asString(m->raw)) {
      cmd.method = *name;
      for (char& c : cmd.method) c = char(std::tolower(static_cast<unsigned char>(c)));
    } else if (auto number = json::asUint(m->raw); number && *number < std::size(kLegacyMethodNumbers)) {
      cmd.method = kLegacyMethodNumbers[*number];
    } else {
      cmd.refused = unknownMethod(std::string(m->raw));
    }
    if (!cmd.refused) {
      if (cmd.method == "batch") {
        cmd.refused = unknownMethod(cmd.method);
      } else {
        const json::Member* inner = params.find("params");
        cmd.params.assign(inner ? inner->raw : "{}");
      }
    }
  }
  auto sequence = std::make_shared<CommandSequence>(
      node, std::move(queued),
      [done = std::move(done)](std::vector<QueuedCommand>& cmds, std::vector<Outcome>& outcomes) {
        std::string out;
        for (size_t i = 0; i < outcomes.size(); ++i) {
          const Outcome& o = outcomes[i];
          if (i) out += '\n';
          out += '{';
          if (cmds[i].id) out += "\"id\":" + std::to_string(cmds[i].id) + ",";
          out += o.ok ? "\"result\":" : "\"error\":";
          out += o.json;
          out += '}';
        }
        done(ApiReply{200, std::move(out)});
      });
  sequence->start();
}

namespace {
// The answer of a call that must have answered before returning.
ApiReply answeredNow(const std::optional<ApiReply>& reply, std::string_view what) {
  if (!reply) {
    spdlog::critical("api::{} (synchronous form) used with a broker that answers later", what);
    std::abort();
  }
  return *reply;
}
}  // namespace

ApiReply call(core::Node& node, std::string_view method, std::string_view body) {
  std::optional<ApiReply> reply;
  call(node, method, body, [&reply](ApiReply r) { reply = std::move(r); });
  return answeredNow(reply, "call");
}

ApiReply callLegacy(core::Node& node, std::string_view body) {
  std::optional<ApiReply> reply;
  callLegacy(node, body, [&reply](ApiReply r) { reply = std::move(r); });
  return answeredNow(reply, "callLegacy");
}

void registerRoutes(http::Router& router, core::Node& node) {
  node.control().setHandler("api", [&node](const core::ControlMessage& m) { runFromOtherNode(node, m); });
  // Authenticates, then answers with `handle`'s reply.
  // `name` labels the call in /metrics.
  auto route = [&router, &node](std::string path, std::string name, auto handle) {
    router.add(std::move(path), {"POST"}, [&node, name, handle](http::HttpContext& ctx) {
      const std::string& key = node.config().api.key;
      std::string_view given = ctx.req.header("X-API-Key");
      if (given.empty()) {
        std::string_view auth = ctx.req.header("Authorization");
        if (auth.size() > 7 && http::iequals(auth.substr(0, 7), "apikey ")) given = auth.substr(7);
      }
      if (key.empty()) {
        metrics::apiCall(name, 401, {});
        ctx.session.respond(ctx.conn, ctx.req,
                            http::Response::json(401, errorBody(101, "the server API is disabled: set api.key")));
        return;
      }
      if (given.empty() || !keyMatches(given, key)) {
        metrics::apiCall(name, 401, {});
        ctx.session.respond(ctx.conn, ctx.req,
                            http::Response::json(401, errorBody(101, given.empty() ? "X-API-Key header required"
                                                                                    : "wrong API key")));
        return;
      }
      // The answer may come later (a remote broker): the connection waits
      // for it; one that closed meanwhile drops it (the call still counts).
      http::DeferredResponse answer = ctx.session.defer(ctx.conn, ctx.req);
      handle(ctx.req.body, [answer, name](ApiReply r) {
        metrics::apiCall(name, r.status, r.body);
        answer.respond(http::Response::json(r.status, std::move(r.body)));
      });
    });
  };
  for (const auto& method : kMethods) {
    std::string name(method.name);
    route("/api/" + name, name,
          [&node, name](std::string_view body, ApiDone done) { call(node, name, body, std::move(done)); });
  }
  route("/api", "legacy", [&node](std::string_view body, ApiDone done) { callLegacy(node, body, std::move(done)); });
}

}  // namespace sb::api
