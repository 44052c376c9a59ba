#include "transport/PlainRequest.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "transport/PlainEvent.h"

namespace sb::transport {

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::optional<PlainError> checkChannel(const core::Node& node, std::string_view channel, std::string_view user) {
  const auto& rules = node.rules();
  if (auto e = rules.checkName(channel)) {
    if (e->code == protocol::error::kUnknownChannel.code)
      return PlainError{400, "unknown channel namespace in " + quoted(channel)};
    return PlainError{400, "invalid channel name " + quoted(channel)};
  }
  if (auth::ChannelRules::isPrivate(channel)) {
    return PlainError{403, "channel " + quoted(channel) +
                               " is private ('$'): it needs a subscription token, which plain endpoints do not take"};
  }
  if (auto e = rules.check(auth::Action::Subscribe, channel, auth::Requester{user, false, false})) {
    if (e->code == protocol::error::kPermissionDenied.code)
      return PlainError{403, "not allowed to subscribe to " + quoted(channel)};
    return PlainError{400, std::string(e->message) + ": " + quoted(channel)};
  }
  return std::nullopt;
}

}  // namespace

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

  // Credentials: the header first (it stays out of logs and Referer), then
  // the query parameter (EventSource cannot set headers).
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
  } else if (!node.config().client.allow_anonymous) {
    return PlainError{401, "a connection token is required (Authorization: Bearer <token> or ?token=)"};
  }

  for (const std::string& channel : out.channels) {
    if (auto e = checkChannel(node, channel, out.user)) return e;
  }

  if (!since.empty()) {
    std::string why;
    out.since = parsePositionList(since, out.channels.size(), why);
    if (!out.since) return PlainError{400, "bad " + std::string(sinceName) + ": " + why};
  }
  return std::nullopt;
}

}  // namespace sb::transport
