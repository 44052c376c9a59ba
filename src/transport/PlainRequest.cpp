#include "transport/PlainRequest.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <unordered_map>

#include "transport/PlainEvent.h"

namespace sb::transport {

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string_view verbOf(auth::Action action) {
  switch (action) {
    case auth::Action::Subscribe: return "subscribe to";
    case auth::Action::Publish: return "publish to";
    case auth::Action::History: return "read the history of";
    case auth::Action::Presence: return "read the presence of";
  }
  return "use";
}

std::optional<PlainError> checkSubscribe(const core::Node& node, std::string_view channel, std::string_view user) {
  const auto& rules = node.rules();
  if (auto e = rules.checkName(channel)) return plainChannelError(*e, auth::Action::Subscribe, channel);
  if (auth::ChannelRules::isPrivate(channel)) {
    return PlainError{403, "channel " + quoted(channel) +
                               " is private ('$'): it needs a subscription token, which plain endpoints do not take"};
  }
  if (auto e = rules.check(auth::Action::Subscribe, channel, auth::Requester{user, false, false}))
    return plainChannelError(*e, auth::Action::Subscribe, channel);
  return std::nullopt;
}

// True when `client` is in the channel's presence as a connection of
// `user`: a live /sse or /ws stream (or protocol client) of the caller that
// is subscribed to the channel. Only namespaces with presence can tell.
// `found` gets the answer (on this thread, maybe later); a broker error
// counts as not found.
void holdsPresence(core::Node& node, std::string_view channel, const std::string& user, const std::string& client,
                   std::function<void(bool)> found) {
  const config::ChannelOptions* opts = node.rules().options(channel);
  if (!opts || !opts->presence || user.empty() || client.empty()) return found(false);
  node.broker().presence(channel, [user, client, found = std::move(found)](
                                      std::unordered_map<std::string, protocol::ClientInfo> clients,
                                      const broker::BrokerError* e) {
    if (e) return found(false);
    auto it = clients.find(client);
    found(it != clients.end() && it->second.user == user);
  });
}

}  // namespace

PlainError plainChannelError(const protocol::ErrorCode& e, auth::Action action, std::string_view channel) {
  namespace err = protocol::error;
  if (e.code == err::kUnknownChannel.code) return PlainError{400, "unknown channel namespace in " + quoted(channel)};
  if (e.code == err::kBadRequest.code) return PlainError{400, "invalid channel name " + quoted(channel)};
  if (e.code == err::kPermissionDenied.code)
    return PlainError{403, "not allowed to " + std::string(verbOf(action)) + " " + quoted(channel)};
  if (e.code == err::kNotAvailable.code) {
    if (action == auth::Action::Presence)
      return PlainError{404, "channel " + quoted(channel) + " keeps no presence (namespace option presence is off)"};
    if (action == auth::Action::History)
      return PlainError{404, "channel " + quoted(channel) + " keeps no history (namespace history_size/history_ttl)"};
  }
  return PlainError{400, std::string(e.message) + ": " + quoted(channel)};
}

std::optional<PlainError> readPlainCaller(const http::Request& req, const core::Node& node, PlainCaller& out) {
  // The header first (it stays out of logs and Referer), then the query
  // parameter (EventSource cannot set headers).
  std::string token;
  std::string_view authz = req.header("Authorization");
  if (!authz.empty()) {
    if (authz.size() < 7 || !http::iequals(authz.substr(0, 7), "Bearer "))
      return PlainError{401, "Authorization header must be 'Bearer <token>'"};
    token.assign(authz.substr(7));
  } else {
    token = req.queryParam("token");
  }
  if (!token.empty()) {
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    auto v = node.tokens().verifyConnect(token, now);
    if (v.status == auth::TokenStatus::Expired) return PlainError{401, "token expired"};
    if (v.status != auth::TokenStatus::Ok) {
      spdlog::info("plain endpoint {}: invalid connection token: {}", req.path, v.reason);
      return PlainError{401, "invalid token"};
    }
    out.user = std::move(v.claims.user);
    out.expiresAt = v.claims.exp;
    out.connInfo = std::move(v.claims.info);
  } else if (!node.config().client.allow_anonymous) {
    return PlainError{401, "a connection token is required (Authorization: Bearer <token> or ?token=)"};
  }
  return std::nullopt;
}

std::optional<PlainError> readPlainRequest(const http::Request& req, const core::Node& node,
                                           const PlainOptions& opts, std::string_view since,
                                           std::string_view sinceName, PlainRequest& out) {
  out.channels = req.queryParams("channel");
  if (out.channels.empty()) return PlainError{400, "missing channel parameter (?channel=NAME, repeatable)"};
  if (out.channels.size() > opts.maxChannels) {
    return PlainError{400, "too many channels: " + std::to_string(out.channels.size()) + ", at most " +
                               std::to_string(opts.maxChannels)};
  }
  for (size_t i = 0; i < out.channels.size(); ++i) {
    if (out.channels[i].empty()) return PlainError{400, "empty channel parameter"};
    for (size_t j = 0; j < i; ++j) {
      if (out.channels[j] == out.channels[i]) return PlainError{400, "channel " + quoted(out.channels[i]) + " listed twice"};
    }
  }

  PlainCaller caller;
  if (auto e = readPlainCaller(req, node, caller)) return e;
  out.user = std::move(caller.user);
  out.expiresAt = caller.expiresAt;
  out.connInfo = std::move(caller.connInfo);

  for (const std::string& channel : out.channels) {
    if (auto e = checkSubscribe(node, channel, out.user)) return e;
  }

  std::string joinLeave = req.queryParam("join_leave");
  if (joinLeave == "true" || joinLeave == "1") out.joinLeave = true;
  else if (!joinLeave.empty() && joinLeave != "false" && joinLeave != "0")
    return PlainError{400, "join_leave must be true or false"};

  if (!since.empty()) {
    std::string why;
    out.since = parsePositionList(since, out.channels.size(), why);
    if (!out.since) return PlainError{400, "bad " + std::string(sinceName) + ": " + why};
  }
  return std::nullopt;
}

void readPlainChannelCall(const http::Request& req, core::Node& node, auth::Action action,
                          PlainChannelCallDone done) {
  PlainChannelCall out;
  std::vector<std::string> channels = req.queryParams("channel");
  if (channels.empty() || channels[0].empty())
    return done(PlainError{400, "missing channel parameter (?channel=NAME)"}, std::move(out));
  if (channels.size() > 1) return done(PlainError{400, "one channel per call"}, std::move(out));
  out.channel = std::move(channels[0]);
  if (auto e = readPlainCaller(req, node, out.caller)) return done(std::move(e), std::move(out));
  if (auto e = node.rules().checkName(out.channel)) {
    PlainError refusal = plainChannelError(*e, action, out.channel);  // before `out` moves
    return done(std::move(refusal), std::move(out));
  }
  std::string client = req.queryParam("client");
  std::string channel = out.channel, user = out.caller.user;
  holdsPresence(node, channel, user, client,
                [&node, action, client, out = std::move(out), done = std::move(done)](bool subscribed) mutable {
                  if (auto e = node.rules().check(action, out.channel,
                                                  auth::Requester{out.caller.user, subscribed, false})) {
                    PlainError refusal = plainChannelError(*e, action, out.channel);
                    if (refusal.status == 403 && !client.empty() && !subscribed)
                      refusal.message +=
                          " (client " + quoted(client) + " is not a stream of this user in the channel's presence)";
                    return done(std::move(refusal), std::move(out));
                  }
                  if (subscribed) out.client = client;
                  done(std::nullopt, std::move(out));
                });
}

}  // namespace sb::transport
