#include "auth/ChannelRules.h"

#include "ws/Utf8Validator.h"

// Semantics follow Centrifugo v5 (internal/rule and internal/client/handler.go):
//
// - The namespace is the part before the first ':' once a leading '$' is
//   removed; "chat:room" → "chat", "$chat:room" → "chat", "room" → "".
// - channel_regex is searched (not anchored, like Go's MatchString: write ^…$
//   to pin it) in the part after that ':', or in the whole channel name when
//   there is no namespace. A mismatch is a bad request (107). Without a
//   channel_regex the name must be ASCII, as in Centrifugo.
// - The *_for_anonymous options are modifiers: they extend the matching
//   *_for_client / *_for_subscriber grant to anonymous users and grant
//   nothing alone.
// - On a user-limited channel ("dialog#42,43" with allow_user_limited_channels)
//   subscribing is decided by the user list alone; allow_subscribe_for_client
//   does not apply there.

namespace sb::auth {

namespace {

constexpr char kPrivatePrefix = '$';
constexpr char kNamespaceBoundary = ':';
constexpr char kUserBoundary = '#';
constexpr char kUserSeparator = ',';
constexpr size_t kDefaultMaxNameLength = 255;  // centrifuge's default, used when 0 is configured

// Centrifugo's namespace name rule: ^[-a-zA-Z0-9_.]{2,}$.
bool validNamespaceName(std::string_view name) {
  if (name.size() < 2) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::regex> compileRegex(const std::string& pattern, const std::string& where) {
  if (pattern.empty()) return std::nullopt;
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw config::ConfigError("config: " + where + ".channel_regex: invalid regular expression \"" + pattern +
                              "\": " + e.what());
  }
}

// The part of the name channel_regex applies to (Centrifugo's "rest").
std::string_view regexSubject(std::string_view channel) {
  std::string_view trimmed = channel;
  if (!trimmed.empty() && trimmed.front() == kPrivatePrefix) trimmed.remove_prefix(1);
  size_t boundary = trimmed.find(kNamespaceBoundary);
  return boundary == std::string_view::npos ? channel : trimmed.substr(boundary + 1);
}

bool hasControlBytes(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

bool isAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// The common shape of the publish/history/presence rules.
bool granted(bool forClient, bool forSubscriber, bool forAnonymous, const Requester& who) {
  bool identityOk = !who.user.empty() || forAnonymous;
  return identityOk && (forClient || (forSubscriber && who.subscribed));
}

}  // namespace

ChannelRules::ChannelRules(const config::ChannelConfig& cfg)
    : maxNameLength_(cfg.max_name_length ? cfg.max_name_length : kDefaultMaxNameLength) {
  root_.options = cfg.options;
  root_.regex = compileRegex(cfg.options.channel_regex, "channel");
  namespaces_.reserve(cfg.namespaces.size());
  for (const auto& ns : cfg.namespaces) {
    std::string where = "channel.namespace \"" + ns.name + "\"";
    if (!validNamespaceName(ns.name))
      throw config::ConfigError("config: " + where + ": invalid name (must match ^[-a-zA-Z0-9_.]{2,}$)");
    for (const auto& seen : namespaces_)
      if (seen.name == ns.name) throw config::ConfigError("config: " + where + ": namespace name is not unique");
    namespaces_.push_back({ns.name, ns.options, compileRegex(ns.options.channel_regex, where)});
  }
}

const ChannelRules::Namespace* ChannelRules::find(std::string_view channel) const {
  std::string_view ns = namespaceOf(channel);
  if (ns.empty()) return &root_;
  for (const auto& n : namespaces_)
    if (n.name == ns) return &n;
  return nullptr;
}

const config::ChannelOptions* ChannelRules::options(std::string_view channel) const {
  const Namespace* ns = find(channel);
  return ns ? &ns->options : nullptr;
}

std::optional<protocol::ErrorCode> ChannelRules::checkName(std::string_view channel) const {
  if (channel.empty() || channel.size() > maxNameLength_) return protocol::error::kBadRequest;
  if (hasControlBytes(channel) || !ws::Utf8Validator::isValid(channel)) return protocol::error::kBadRequest;
  const Namespace* ns = find(channel);
  if (!ns) return protocol::error::kUnknownChannel;
  if (ns->regex) {
    std::string_view subject = regexSubject(channel);
    bool matched = false;
    try {
      matched = std::regex_search(subject.begin(), subject.end(), *ns->regex);
    } catch (const std::regex_error&) {
      matched = false;  // too complex for std::regex: refuse rather than throw into the caller
    }
    if (!matched) return protocol::error::kBadRequest;
  } else if (!isAscii(channel)) {
    return protocol::error::kBadRequest;
  }
  return std::nullopt;
}

std::optional<protocol::ErrorCode> ChannelRules::check(Action action, std::string_view channel,
                                                       const Requester& who) const {
  const config::ChannelOptions* o = options(channel);
  if (!o) return protocol::error::kUnknownChannel;
  switch (action) {
    case Action::Subscribe: {
      if (isPrivate(channel) && !who.tokenGranted) return protocol::error::kPermissionDenied;
      if (who.tokenGranted) return std::nullopt;
      bool userLimited = o->allow_user_limited_channels && channel.find(kUserBoundary) != std::string_view::npos;
      if (userLimited) {
        if (!who.user.empty() && userListed(channel, who.user)) return std::nullopt;
        return protocol::error::kPermissionDenied;
      }
      if (o->allow_subscribe_for_client && (!who.user.empty() || o->allow_subscribe_for_anonymous)) return std::nullopt;
      return protocol::error::kPermissionDenied;
    }
    case Action::Publish:
      if (granted(o->allow_publish_for_client, o->allow_publish_for_subscriber, o->allow_publish_for_anonymous, who))
        return std::nullopt;
      return protocol::error::kPermissionDenied;
    case Action::History:
      if (!o->historyEnabled()) return protocol::error::kNotAvailable;
      if (granted(o->allow_history_for_client, o->allow_history_for_subscriber, o->allow_history_for_anonymous, who))
        return std::nullopt;
      return protocol::error::kPermissionDenied;
    case Action::Presence:
      if (!o->presence) return protocol::error::kNotAvailable;
      if (granted(o->allow_presence_for_client, o->allow_presence_for_subscriber, o->allow_presence_for_anonymous,
                  who))
        return std::nullopt;
      return protocol::error::kPermissionDenied;
  }
  return protocol::error::kPermissionDenied;
}

bool ChannelRules::isPrivate(std::string_view channel) {
  return !channel.empty() && channel.front() == kPrivatePrefix;
}

std::string_view ChannelRules::namespaceOf(std::string_view channel) {
  if (isPrivate(channel)) channel.remove_prefix(1);
  size_t boundary = channel.find(kNamespaceBoundary);
  return boundary == std::string_view::npos ? std::string_view{} : channel.substr(0, boundary);
}

bool ChannelRules::userListed(std::string_view channel, std::string_view user) {
  size_t boundary = channel.rfind(kUserBoundary);
  if (boundary == std::string_view::npos || user.empty()) return false;
  std::string_view users = channel.substr(boundary + 1);
  for (;;) {
    size_t comma = users.find(kUserSeparator);
    if (users.substr(0, comma) == user) return true;
    if (comma == std::string_view::npos) return false;
    users.remove_prefix(comma + 1);
  }
}

}  // namespace sb::auth
