#include "api/ServerApi.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <vector>

#include "core/ClientSession.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "http/Response.h"
#include "metrics/ServerMetrics.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"

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

ApiReply badRequest(std::string_view message) { return {400, errorBody(err::kBadRequest.code, message)}; }
ApiReply apiError(const protocol::ErrorCode& e, std::string_view detail = {}) {
  return {200, errorBody(e.code, detail.empty() ? e.message : detail)};
}
ApiReply result(std::string_view inner) {
  std::string out = "{\"result\":";
  out += inner;
  out += '}';
  return {200, std::move(out)};
}

// The request's members by name (last one wins), or an error message.
struct Params {
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

PublishOutcome publishOne(core::Node& node, const std::string& channel, const std::string& data,
                          const std::vector<std::pair<std::string, std::string>>& tags,
                          const std::string& idempotencyKey) {
  PublishOutcome o;
  if (auto e = node.rules().checkName(channel)) {
    o.json = errorObject(e->code, e->message);
    return o;
  }
  if (!node.rules().options(channel)) {
    o.json = errorObject(err::kUnknownChannel.code, err::kUnknownChannel.message);
    return o;
  }
  bool done = false;
  node.publish(channel, data, std::nullopt, tags, idempotencyKey,
               [&](broker::PublishResult r, const broker::BrokerError* e) {
                 done = true;
                 if (e) {
                   o.json = errorObject(err::kInternal.code, e->message);
                 } else {
                   o.ok = true;
                   o.json = positionJson(r.position);
                 }
               });
  if (!done) {
    o.json = errorObject(err::kInternal.code, "broker did not answer");
  }
  return o;
}

ApiReply doPublish(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  auto data = dataParam(p, error);
  if (!data) return badRequest(error);
  auto tags = tagsParam(p, error);
  if (!tags) return badRequest(error);
  std::string key;
  if (const auto* m = p.find("idempotency_key")) {
    auto v = json::asString(m->raw);
    if (!v) return badRequest("idempotency_key must be a string");
    key = *v;
  }
  PublishOutcome o = publishOne(node, *channel, *data, *tags, key);
  if (!o.ok) return {200, "{\"error\":" + o.json + "}"};
  return result(o.json);
}

ApiReply doBroadcast(core::Node& node, const Params& p) {
  std::string error;
  const json::Member* chans = p.find("channels");
  if (!chans || chans->type != json::Type::Array) return badRequest("channels required (an array of strings)");
  std::vector<std::string> channels;
  json::ArrayReader r(chans->raw);
  std::string_view raw;
  json::Type type;
  while (r.next(raw, type)) {
    auto v = json::asString(raw);
    if (!v) return badRequest("channels must be strings");
    channels.push_back(std::move(*v));
  }
  if (channels.empty()) return badRequest("channels must not be empty");
  if (channels.size() > 10000) return badRequest("at most 10000 channels per broadcast");
  auto data = dataParam(p, error);
  if (!data) return badRequest(error);
  auto tags = tagsParam(p, error);
  if (!tags) return badRequest(error);
  std::string out = "{\"responses\":[";
  for (size_t i = 0; i < channels.size(); ++i) {
    if (i) out += ',';
    PublishOutcome o = publishOne(node, channels[i], *data, *tags, {});
    out += o.ok ? "{\"result\":" : "{\"error\":";
    out += o.json;
    out += '}';
  }
  out += "]}";
  return result(out);
}

// A channel that exists (known namespace, valid name), for read methods.
std::optional<ApiReply> checkChannel(core::Node& node, const std::string& channel) {
  if (auto e = node.rules().checkName(channel)) return apiError(*e);
  if (!node.rules().options(channel)) return apiError(err::kUnknownChannel);
  return std::nullopt;
}

ApiReply doPresence(core::Node& node, const Params& p, bool stats) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  if (!node.rules().options(*channel)->presence) return apiError(err::kNotAvailable, "presence is off in this namespace");
  ApiReply reply = apiError(err::kInternal, "broker did not answer");
  if (stats) {
    node.broker().presenceStats(*channel, [&](broker::PresenceStats s, const broker::BrokerError* e) {
      if (e) reply = apiError(err::kInternal, e->message);
      else
        reply = result("{\"num_clients\":" + std::to_string(s.numClients) +
                       ",\"num_users\":" + std::to_string(s.numUsers) + "}");
    });
  } else {
    node.broker().presence(*channel, [&](std::unordered_map<std::string, protocol::ClientInfo> m,
                                         const broker::BrokerError* e) {
      if (e) {
        reply = apiError(err::kInternal, e->message);
        return;
      }
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
      reply = result(out);
    });
  }
  return reply;
}

ApiReply doHistory(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  const config::ChannelOptions* opts = node.rules().options(*channel);
  if (!opts->historyEnabled()) return apiError(err::kNotAvailable, "history is off in this namespace");
  broker::HistoryRequest req;
  req.historyTtl = opts->history_ttl;
  req.metaTtl = node.config().broker.history_meta_ttl;
  if (const auto* m = p.find("limit")) {
    auto v = json::asInt(m->raw);
    if (!v || *v < -1 || *v > 1000000) return badRequest("limit must be an integer from -1 to 1000000");
    req.limit = int(*v);
  }
  if (const auto* m = p.find("reverse")) {
    auto v = json::asBool(m->raw);
    if (!v) return badRequest("reverse must be a boolean");
    req.reverse = *v;
  }
  if (const auto* m = p.find("since"); m && m->type != json::Type::Null) {
    if (m->type != json::Type::Object) return badRequest("since must be {\"offset\":N,\"epoch\":\"...\"}");
    protocol::StreamPosition pos;
    json::ObjectReader r(m->raw);
    json::Member f;
    while (r.next(f)) {
      if (f.key == "offset") {
        auto v = json::asUint(f.raw);
        if (!v) return badRequest("since.offset must be a non-negative integer");
        pos.offset = *v;
      } else if (f.key == "epoch") {
        auto v = json::asString(f.raw);
        if (!v) return badRequest("since.epoch must be a string");
        pos.epoch = *v;
      }
    }
    req.since = pos;
  }
  ApiReply reply = apiError(err::kInternal, "broker did not answer");
  node.broker().history(*channel, req, [&](broker::HistoryResult h, const broker::BrokerError* e) {
    if (e) {
      reply = apiError(err::kInternal, e->message);
      return;
    }
    if (req.since && (req.since->epoch != h.position.epoch || !h.sinceRetained)) {
      reply = apiError(err::kUnrecoverablePosition);
      return;
    }
    std::string out = "{\"publications\":[";
    for (size_t i = 0; i < h.publications.size(); ++i) {
      if (i) out += ',';
      protocol::writePublication(out, *h.publications[i]);
    }
    out += "],\"epoch\":";
    protocol::writeString(out, h.position.epoch);
    out += ",\"offset\":" + std::to_string(h.position.offset) + "}";
    reply = result(out);
  });
  return reply;
}

ApiReply doHistoryRemove(core::Node& node, const Params& p) {
  std::string error;
  auto channel = stringParam(p, "channel", error);
  if (!channel) return badRequest(error);
  if (auto e = checkChannel(node, *channel)) return *e;
  ApiReply reply = apiError(err::kInternal, "broker did not answer");
  node.broker().removeHistory(*channel, [&](bool, const broker::BrokerError* e) {
    reply = e ? apiError(err::kInternal, e->message) : result("{}");
  });
  return reply;
}

ApiReply doDisconnect(core::Node& node, const Params& p) {
  std::string error;
  auto user = stringParam(p, "user", error);
  if (!user) return badRequest(error);
  std::string client;
  if (const auto* m = p.find("client")) {
    auto v = json::asString(m->raw);
    if (!v) return badRequest("client must be a string");
    client = *v;
  }
  uint16_t code = protocol::disconnect::kForceNoReconnect.code;
  std::string reason(protocol::disconnect::kForceNoReconnect.reason);
  // Centrifugo's shape {"disconnect":{"code","reason"}} or top-level code/reason.
  auto readCode = [&](const Params& src) -> std::optional<std::string> {
    if (const auto* m = src.find("code")) {
      auto v = json::asUint(m->raw);
      if (!v || *v < 3000 || *v > 4999) return std::string("code must be an integer from 3000 to 4999");
      code = uint16_t(*v);
      if (const auto* known = protocol::findDisconnect(code)) reason = known->reason;
    }
    if (const auto* m = src.find("reason")) {
      auto v = json::asString(m->raw);
      if (!v || v->size() > 120) return std::string("reason must be a string of at most 120 bytes");
      reason = *v;
    }
    return std::nullopt;
  };
  if (auto e = readCode(p)) return badRequest(*e);
  if (const auto* m = p.find("disconnect"); m && m->type == json::Type::Object) {
    Params inner;
    if (auto e = parseParams(m->raw, inner)) return badRequest(*e);
    if (auto e = readCode(inner)) return badRequest(*e);
  }
  // Sessions live on their workers' threads: post the search to each.
  node.hub().forEachWorker([&node, user = *user, client, code, reason](size_t w) {
    node.forEachSession(w, [&](core::ClientSession& s) {
      if (s.user() == user && (client.empty() || s.clientId() == client)) s.disconnect(code, reason);
    });
  });
  return result("{}");
}

ApiReply doInfo(core::Node& node) {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - node.started());
  std::string out = "{\"nodes\":[{\"uid\":";
  protocol::writeString(out, node.id());
  out += ",\"name\":";
  protocol::writeString(out, node.id().substr(0, 8));
  out += ",\"version\":\"" SB_VERSION "\"";
  out += ",\"num_clients\":" + std::to_string(node.stats().clients.load());
  out += ",\"num_channels\":" + std::to_string(node.hub().stats().channels.load());
  out += ",\"num_subs\":" + std::to_string(node.hub().stats().subscriptions.load());
  out += ",\"uptime\":" + std::to_string(uptime.count());
  out += ",\"broker\":";
  protocol::writeString(out, node.broker().name());
  out += ",\"publications\":" + std::to_string(node.hub().stats().publications.load());
  out += ",\"deliveries\":" + std::to_string(node.hub().stats().deliveries.load());
  out += ",\"frames_encoded\":" + std::to_string(node.hub().stats().framesEncoded.load());
  out += "}]}";
  return result(out);
}

// Constant-time key comparison.
bool keyMatches(std::string_view given, const std::string& key) {
  return given.size() == key.size() && CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
}

}  // namespace

ApiReply call(core::Node& node, std::string_view method, std::string_view body) {
  if (method == "info") return doInfo(node);
  Params p;
  if (auto e = parseParams(body, p)) return badRequest(*e);
  if (method == "publish") return doPublish(node, p);
  if (method == "broadcast") return doBroadcast(node, p);
  if (method == "presence") return doPresence(node, p, false);
  if (method == "presence_stats") return doPresence(node, p, true);
  if (method == "history") return doHistory(node, p);
  if (method == "history_remove") return doHistoryRemove(node, p);
  if (method == "disconnect") return doDisconnect(node, p);
  return {404, errorBody(err::kMethodNotFound.code, "unknown API method '" + std::string(method) + "'")};
}

void registerRoutes(http::Router& router, core::Node& node) {
  static const char* const kMethods[] = {"publish", "broadcast", "presence", "presence_stats",
                                         "history", "history_remove", "disconnect", "info"};
  for (const char* method : kMethods) {
    std::string name = method;
    router.add("/api/" + name, {"POST"}, [&node, name](http::HttpContext& ctx) {
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
      ApiReply r = call(node, name, ctx.req.body);
      metrics::apiCall(name, r.status, r.body);
      ctx.session.respond(ctx.conn, ctx.req, http::Response::json(r.status, std::move(r.body)));
    });
  }
}

}  // namespace sb::api
