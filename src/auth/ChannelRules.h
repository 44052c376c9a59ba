#pragma once
// Channel names, namespaces and who may do what in them.
//
// Name grammar (Centrifugo): an optional private prefix "$", an optional
// namespace followed by ":" ("chat:room1"), and an optional user-limited part
// after "#" ("dialog#42,43"). The namespace selects a [[channel.namespace]]
// table; channels without one use [channel]. Permissions default to closed.
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "config/Config.h"
#include "protocol/Codes.h"

namespace sb::auth {

enum class Action : uint8_t { Subscribe, Publish, History, Presence };

// Who is asking, as far as the rules care.
struct Requester {
  std::string_view user;  // empty = anonymous
  bool subscribed = false;  // the connection is subscribed to the channel
  // The connection holds a valid subscription token for the channel, or the
  // channel is in its connection token's "channels" claim.
  bool tokenGranted = false;
};

class ChannelRules {
 public:
  // Compiles channel_regex patterns and checks namespace names. Throws
  // config::ConfigError naming the namespace on a bad pattern, a bad or
  // duplicate name.
  explicit ChannelRules(const config::ChannelConfig& cfg);

  // The options for `channel`, or nullptr when its namespace is unknown (102).
  const config::ChannelOptions* options(std::string_view channel) const;

  // Checks the name itself: non-empty, at most max_name_length bytes, no
  // control characters, and the channel_regex of its namespace. nullopt when
  // fine, else the protocol error to answer with (107 bad request or 102).
  std::optional<protocol::ErrorCode> checkName(std::string_view channel) const;

  // Decides `action` on `channel` (whose name already passed checkName):
  // nullopt = allowed, else the error (103 permission denied, 108 not
  // available when the namespace lacks presence or history).
  std::optional<protocol::ErrorCode> check(Action action, std::string_view channel, const Requester& who) const;

  static bool isPrivate(std::string_view channel);            // "$..."
  static std::string_view namespaceOf(std::string_view channel);  // "" when none
  // For "name#a,b": is `user` one of a, b? False when there is no "#" part.
  static bool userListed(std::string_view channel, std::string_view user);

 private:
  struct Namespace {
    std::string name;
    config::ChannelOptions options;
    std::optional<std::regex> regex;
  };
  const Namespace* find(std::string_view channel) const;
  Namespace root_;
  std::vector<Namespace> namespaces_;
  size_t maxNameLength_;
};

}  // namespace sb::auth
