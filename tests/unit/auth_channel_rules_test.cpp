// ChannelRules: name grammar (private "$", namespace ":", user-limited "#"),
// name checks and their error codes, namespace configuration errors, and the
// Centrifugo v5 permission matrix (closed by default; each option grants
// exactly its own action to exactly its own requesters).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "auth/ChannelRules.h"

using sb::auth::Action;
using sb::auth::ChannelRules;
using sb::auth::Requester;
using sb::config::ChannelConfig;
using sb::config::ChannelOptions;
using sb::config::ConfigError;
using sb::config::NamespaceConfig;
using testing::HasSubstr;
using namespace std::chrono_literals;

namespace {

// The error code of a check, or 0 when allowed.
uint32_t codeOf(const std::optional<sb::protocol::ErrorCode>& e) { return e ? e->code : 0; }

constexpr uint32_t kAllowed = 0;
constexpr uint32_t kUnknown = 102;
constexpr uint32_t kDenied = 103;
constexpr uint32_t kBadRequest = 107;
constexpr uint32_t kNotAvailable = 108;

ChannelConfig withNamespaces(std::vector<NamespaceConfig> namespaces, ChannelOptions root = {}) {
  ChannelConfig cfg;
  cfg.options = root;
  cfg.namespaces = std::move(namespaces);
  return cfg;
}

std::string configErrorOf(const ChannelConfig& cfg) {
  try {
    ChannelRules rules(cfg);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

// ------------------------------------------------------------ name grammar

TEST(AuthChannelNames, PrivatePrefix) {
  EXPECT_TRUE(ChannelRules::isPrivate("$secret"));
  EXPECT_TRUE(ChannelRules::isPrivate("$chat:room"));
  EXPECT_FALSE(ChannelRules::isPrivate("chat:$room"));
  EXPECT_FALSE(ChannelRules::isPrivate("room"));
  EXPECT_FALSE(ChannelRules::isPrivate(""));
}

TEST(AuthChannelNames, NamespaceIsBeforeFirstColonAfterPrivatePrefix) {
  EXPECT_EQ(ChannelRules::namespaceOf("chat:room"), "chat");
  EXPECT_EQ(ChannelRules::namespaceOf("$chat:room"), "chat");
  EXPECT_EQ(ChannelRules::namespaceOf("chat:room:sub"), "chat");
  EXPECT_EQ(ChannelRules::namespaceOf("room"), "");
  EXPECT_EQ(ChannelRules::namespaceOf("$room"), "");
  EXPECT_EQ(ChannelRules::namespaceOf(":room"), "");
  EXPECT_EQ(ChannelRules::namespaceOf("dialog#1:2"), "dialog#1");  // as Centrifugo: first ':' wins
}

TEST(AuthChannelNames, UserListedAfterLastHash) {
  EXPECT_TRUE(ChannelRules::userListed("dialog#42,43", "42"));
  EXPECT_TRUE(ChannelRules::userListed("dialog#42,43", "43"));
  EXPECT_TRUE(ChannelRules::userListed("chat:dialog#42", "42"));
  EXPECT_TRUE(ChannelRules::userListed("a#b#42", "42"));
  EXPECT_FALSE(ChannelRules::userListed("a#42#b", "42"));
  EXPECT_FALSE(ChannelRules::userListed("dialog#42,43", "4"));
  EXPECT_FALSE(ChannelRules::userListed("dialog#42,43", "42,43"));
  EXPECT_FALSE(ChannelRules::userListed("dialog#42,43", "44"));
  EXPECT_FALSE(ChannelRules::userListed("dialog42", "42"));
  // Anonymous is never listed, even where an empty entry could match it.
  EXPECT_FALSE(ChannelRules::userListed("dialog#", ""));
  EXPECT_FALSE(ChannelRules::userListed("dialog#,42", ""));
}

TEST(AuthChannelNames, OptionsByNamespace) {
  ChannelOptions root, chat;
  root.presence = true;
  chat.history_size = 10;
  ChannelRules rules(withNamespaces({{"chat", chat}}, root));
  ASSERT_NE(rules.options("room"), nullptr);
  EXPECT_TRUE(rules.options("room")->presence);
  EXPECT_TRUE(rules.options("$room")->presence);
  ASSERT_NE(rules.options("chat:room"), nullptr);
  EXPECT_EQ(rules.options("chat:room")->history_size, 10);
  EXPECT_FALSE(rules.options("chat:room")->presence);
  EXPECT_EQ(rules.options("$chat:room")->history_size, 10);
  EXPECT_EQ(rules.options("news:room"), nullptr);
  EXPECT_EQ(rules.options("Chat:room"), nullptr);  // names are case-sensitive
}

// ------------------------------------------------------------ checkName

TEST(AuthChannelCheckName, LengthAndBytes) {
  ChannelConfig cfg = withNamespaces({{"chat", {}}});
  cfg.max_name_length = 10;
  ChannelRules rules(cfg);
  EXPECT_EQ(codeOf(rules.checkName("")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("0123456789")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("01234567890")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("chat:a")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("a\nb")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("a\x7f")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName(std::string("a\0b", 3))), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("a\xff")), kBadRequest);
  // Valid UTF-8 but not ASCII: Centrifugo needs a channel_regex for that.
  EXPECT_EQ(codeOf(rules.checkName("caf\xc3\xa9")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("a b")), kAllowed);
}

TEST(AuthChannelCheckName, DefaultMaxLengthIs255) {
  ChannelRules rules(ChannelConfig{});
  EXPECT_EQ(codeOf(rules.checkName(std::string(255, 'a'))), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName(std::string(256, 'a'))), kBadRequest);
  ChannelConfig zero;
  zero.max_name_length = 0;  // centrifuge: zero means 255
  ChannelRules rulesZero(zero);
  EXPECT_EQ(codeOf(rulesZero.checkName(std::string(255, 'a'))), kAllowed);
  EXPECT_EQ(codeOf(rulesZero.checkName(std::string(256, 'a'))), kBadRequest);
}

TEST(AuthChannelCheckName, UnknownNamespaceIs102) {
  ChannelRules rules(withNamespaces({{"chat", {}}}));
  EXPECT_EQ(codeOf(rules.checkName("news:room")), kUnknown);
  EXPECT_EQ(codeOf(rules.checkName("$news:room")), kUnknown);
  EXPECT_EQ(codeOf(rules.checkName("chat:room")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("$chat:room")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName(":room")), kAllowed);  // empty namespace = [channel]
}

TEST(AuthChannelCheckName, RegexSearchesThePartAfterTheNamespace) {
  ChannelOptions chat;
  chat.channel_regex = "^[a-z]+$";
  ChannelOptions loose;
  loose.channel_regex = "[0-9]";  // unanchored, like Go's MatchString
  ChannelRules rules(withNamespaces({{"chat", chat}, {"loose", loose}}));
  EXPECT_EQ(codeOf(rules.checkName("chat:room")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("$chat:room")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("chat:Room")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("chat:room1")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("chat:")), kBadRequest);
  EXPECT_EQ(codeOf(rules.checkName("loose:a1b")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("loose:abc")), kBadRequest);
  // With a regex the ASCII rule is off: the regex decides.
  ChannelOptions any;
  any.channel_regex = "^.+$";
  ChannelRules unicode(withNamespaces({{"any", any}}));
  EXPECT_EQ(codeOf(unicode.checkName("any:caf\xc3\xa9")), kAllowed);
  EXPECT_EQ(codeOf(unicode.checkName("any:a\xff")), kBadRequest);  // invalid UTF-8 never passes
}

TEST(AuthChannelCheckName, RootRegexSeesTheWholeNameIncludingPrivatePrefix) {
  ChannelOptions root;
  root.channel_regex = "^[a-z]+$";
  ChannelRules rules(withNamespaces({{"chat", {}}}, root));
  EXPECT_EQ(codeOf(rules.checkName("room")), kAllowed);
  EXPECT_EQ(codeOf(rules.checkName("$room")), kBadRequest);  // Centrifugo matches "$room" as is
  EXPECT_EQ(codeOf(rules.checkName("chat:ROOM")), kAllowed);  // chat has no regex of its own
}

// ------------------------------------------------------------ configuration errors

TEST(AuthChannelConfig, NamespaceNamesFollowCentrifugoRule) {
  for (std::string good : {"ab", "chat", "a-b_c.d", "A1", "--"})
    EXPECT_NO_THROW(ChannelRules(withNamespaces({{good, {}}}))) << good;
  for (std::string bad : {"", "a", "a b", "a:b", "a$b", "a#b", "caf\xc3\xa9"}) {
    std::string msg = configErrorOf(withNamespaces({{bad, {}}}));
    EXPECT_THAT(msg, HasSubstr("config: channel.namespace \"" + bad + "\"")) << bad;
    EXPECT_THAT(msg, HasSubstr("invalid name")) << bad;
  }
}

TEST(AuthChannelConfig, DuplicateNamespace) {
  std::string msg = configErrorOf(withNamespaces({{"chat", {}}, {"news", {}}, {"chat", {}}}));
  EXPECT_THAT(msg, HasSubstr("channel.namespace \"chat\""));
  EXPECT_THAT(msg, HasSubstr("not unique"));
}

TEST(AuthChannelConfig, BadRegexNamesItsPlace) {
  ChannelOptions bad;
  bad.channel_regex = "([a-z";
  EXPECT_THAT(configErrorOf(withNamespaces({{"chat", bad}})),
              HasSubstr("config: channel.namespace \"chat\".channel_regex"));
  EXPECT_THAT(configErrorOf(withNamespaces({}, bad)), HasSubstr("config: channel.channel_regex"));
}

// ------------------------------------------------------------ permission matrix

struct Who {
  const char* label;
  Requester requester;
};

const std::vector<Who>& everyone() {
  static const std::vector<Who> all = {
      {"anonymous", {"", false, false}},
      {"anonymous subscriber", {"", true, false}},
      {"user", {"42", false, false}},
      {"user subscriber", {"42", true, false}},
  };
  return all;
}

// Presence and history on, so that only permissions decide.
ChannelOptions available() {
  ChannelOptions o;
  o.presence = true;
  o.history_size = 10;
  o.history_ttl = 60s;
  return o;
}

struct Grant {
  const char* option;
  bool ChannelOptions::*flag;
  Action action;                     // the only action it may open
  std::vector<std::string> allowed;  // labels of the requesters it lets in
};

const std::vector<Grant>& grants() {
  static const std::vector<Grant> all = {
      {"allow_subscribe_for_client", &ChannelOptions::allow_subscribe_for_client, Action::Subscribe,
       {"user", "user subscriber"}},
      {"allow_subscribe_for_anonymous", &ChannelOptions::allow_subscribe_for_anonymous, Action::Subscribe, {}},
      {"allow_publish_for_subscriber", &ChannelOptions::allow_publish_for_subscriber, Action::Publish,
       {"user subscriber"}},
      {"allow_publish_for_client", &ChannelOptions::allow_publish_for_client, Action::Publish,
       {"user", "user subscriber"}},
      {"allow_publish_for_anonymous", &ChannelOptions::allow_publish_for_anonymous, Action::Publish, {}},
      {"allow_history_for_subscriber", &ChannelOptions::allow_history_for_subscriber, Action::History,
       {"user subscriber"}},
      {"allow_history_for_client", &ChannelOptions::allow_history_for_client, Action::History,
       {"user", "user subscriber"}},
      {"allow_history_for_anonymous", &ChannelOptions::allow_history_for_anonymous, Action::History, {}},
      {"allow_presence_for_subscriber", &ChannelOptions::allow_presence_for_subscriber, Action::Presence,
       {"user subscriber"}},
      {"allow_presence_for_client", &ChannelOptions::allow_presence_for_client, Action::Presence,
       {"user", "user subscriber"}},
      {"allow_presence_for_anonymous", &ChannelOptions::allow_presence_for_anonymous, Action::Presence, {}},
      {"allow_user_limited_channels", &ChannelOptions::allow_user_limited_channels, Action::Subscribe, {}},
  };
  return all;
}

const Action kActions[] = {Action::Subscribe, Action::Publish, Action::History, Action::Presence};

const char* actionName(Action a) {
  switch (a) {
    case Action::Subscribe: return "subscribe";
    case Action::Publish: return "publish";
    case Action::History: return "history";
    case Action::Presence: return "presence";
  }
  return "?";
}

TEST(AuthChannelPermissions, DefaultsDenyEverything) {
  ChannelRules rules(withNamespaces({{"chat", available()}}, available()));
  for (const char* channel : {"room", "chat:room", "dialog#42"})
    for (Action a : kActions)
      for (const auto& who : everyone())
        EXPECT_EQ(codeOf(rules.check(a, channel, who.requester)), kDenied)
            << channel << " " << actionName(a) << " " << who.label;
}

TEST(AuthChannelPermissions, EachOptionAloneGrantsExactlyItsOwn) {
  for (const auto& g : grants()) {
    ChannelOptions o = available();
    o.*g.flag = true;
    ChannelRules rules(withNamespaces({{"chat", o}}, available()));
    for (Action a : kActions) {
      for (const auto& who : everyone()) {
        bool expectAllowed =
            a == g.action && std::find(g.allowed.begin(), g.allowed.end(), who.label) != g.allowed.end();
        EXPECT_EQ(codeOf(rules.check(a, "chat:room", who.requester)), expectAllowed ? kAllowed : kDenied)
            << g.option << ": " << actionName(a) << " by " << who.label;
        // The root namespace did not get the option.
        EXPECT_EQ(codeOf(rules.check(a, "room", who.requester)), kDenied) << g.option << " leaked to [channel]";
      }
    }
  }
}

TEST(AuthChannelPermissions, AnonymousOptionsExtendClientAndSubscriberGrants) {
  struct Pair {
    bool ChannelOptions::*base;
    bool ChannelOptions::*anonymous;
    Action action;
    std::vector<std::string> allowed;
  };
  const std::vector<Pair> pairs = {
      {&ChannelOptions::allow_subscribe_for_client, &ChannelOptions::allow_subscribe_for_anonymous, Action::Subscribe,
       {"anonymous", "anonymous subscriber", "user", "user subscriber"}},
      {&ChannelOptions::allow_publish_for_client, &ChannelOptions::allow_publish_for_anonymous, Action::Publish,
       {"anonymous", "anonymous subscriber", "user", "user subscriber"}},
      {&ChannelOptions::allow_publish_for_subscriber, &ChannelOptions::allow_publish_for_anonymous, Action::Publish,
       {"anonymous subscriber", "user subscriber"}},
      {&ChannelOptions::allow_history_for_client, &ChannelOptions::allow_history_for_anonymous, Action::History,
       {"anonymous", "anonymous subscriber", "user", "user subscriber"}},
      {&ChannelOptions::allow_history_for_subscriber, &ChannelOptions::allow_history_for_anonymous, Action::History,
       {"anonymous subscriber", "user subscriber"}},
      {&ChannelOptions::allow_presence_for_client, &ChannelOptions::allow_presence_for_anonymous, Action::Presence,
       {"anonymous", "anonymous subscriber", "user", "user subscriber"}},
      {&ChannelOptions::allow_presence_for_subscriber, &ChannelOptions::allow_presence_for_anonymous, Action::Presence,
       {"anonymous subscriber", "user subscriber"}},
  };
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    ChannelOptions o = available();
    o.*p.base = true;
    o.*p.anonymous = true;
    ChannelRules rules(withNamespaces({}, o));
    for (Action a : kActions)
      for (const auto& who : everyone()) {
        bool expectAllowed =
            a == p.action && std::find(p.allowed.begin(), p.allowed.end(), who.label) != p.allowed.end();
        EXPECT_EQ(codeOf(rules.check(a, "room", who.requester)), expectAllowed ? kAllowed : kDenied)
            << "pair " << i << ": " << actionName(a) << " by " << who.label;
      }
  }
}

TEST(AuthChannelPermissions, TokenGrantsSubscribeOnly) {
  ChannelRules rules(withNamespaces({}, available()));
  for (const char* channel : {"room", "$room", "dialog#42"}) {
    Requester anonymous{"", false, true}, user{"7", false, true};
    EXPECT_EQ(codeOf(rules.check(Action::Subscribe, channel, anonymous)), kAllowed) << channel;
    EXPECT_EQ(codeOf(rules.check(Action::Subscribe, channel, user)), kAllowed) << channel;
    for (Action a : {Action::Publish, Action::History, Action::Presence})
      EXPECT_EQ(codeOf(rules.check(a, channel, user)), kDenied) << channel << " " << actionName(a);
  }
}

TEST(AuthChannelPermissions, PrivateChannelNeedsAToken) {
  ChannelOptions o = available();
  o.allow_subscribe_for_client = true;
  o.allow_subscribe_for_anonymous = true;
  o.allow_user_limited_channels = true;
  ChannelRules rules(withNamespaces({{"chat", o}}, o));
  EXPECT_EQ(codeOf(rules.check(Action::Subscribe, "$room", {"42", false, false})), kDenied);
  EXPECT_EQ(codeOf(rules.check(Action::Subscribe, "$chat:room", {"42", false, false})), kDenied);
  EXPECT_EQ(codeOf(rules.check(Action::Subscribe, "$dialog#42", {"42", false, false})), kDenied);
  EXPECT_EQ(codeOf(rules.check(Action::Subscribe, "$room", {"42", false, true})), kAllowed);
  EXPECT_EQ(codeOf(rules.check(Action::Subscribe, "room", {"42", false, false})), kAllowed);
}

TEST(AuthChannelPermissions, UserLimitedChannels) {
  ChannelOptions limited = available();
  limited.allow_user_limited_channels = true;
  limited.allow_subscribe_for_client = true;  // must not open "#" channels to others
  ChannelOptions plain = available();
  plain.allow_subscribe_for_client = true;
  ChannelRules rules(withNamespaces({{"dm", limited}}, plain));
  auto sub = [&](const char* channel, const char* user) {
    return codeOf(rules.check(Action::Subscribe, channel, {user, false, false}));
  };
  EXPECT_EQ(sub("dm:dialog#42,43", "42"), kAllowed);
  EXPECT_EQ(sub("dm:dialog#42,43", "43"), kAllowed);
  EXPECT_EQ(sub("dm:dialog#42,43", "44"), kDenied);
  EXPECT_EQ(sub("dm:dialog#42,43", ""), kDenied);
  EXPECT_EQ(sub("dm:dialog#,42", ""), kDenied);
  EXPECT_EQ(sub("dm:room", "44"), kAllowed);  // no "#": the usual rules
  // Without allow_user_limited_channels "#" means nothing special.
  EXPECT_EQ(sub("dialog#42", "44"), kAllowed);
  EXPECT_EQ(sub("dialog#42", ""), kDenied);
  // User-limited subscribing alone (no other option).
  ChannelOptions only;
  only.allow_user_limited_channels = true;
  ChannelRules onlyRules(withNamespaces({}, only));
  EXPECT_EQ(codeOf(onlyRules.check(Action::Subscribe, "dialog#42", {"42", false, false})), kAllowed);
  EXPECT_EQ(codeOf(onlyRules.check(Action::Subscribe, "dialog#42", {"43", false, false})), kDenied);
  EXPECT_EQ(codeOf(onlyRules.check(Action::Publish, "dialog#42", {"42", true, false})), kDenied);
}

TEST(AuthChannelPermissions, HistoryAndPresenceNotAvailable) {
  ChannelOptions o;
  o.allow_history_for_client = true;
  o.allow_history_for_subscriber = true;
  o.allow_history_for_anonymous = true;
  o.allow_presence_for_client = true;
  o.allow_presence_for_subscriber = true;
  o.allow_presence_for_anonymous = true;
  Requester user{"42", true, true};
  {
    ChannelRules rules(withNamespaces({}, o));
    EXPECT_EQ(codeOf(rules.check(Action::History, "room", user)), kNotAvailable);
    EXPECT_EQ(codeOf(rules.check(Action::Presence, "room", user)), kNotAvailable);
  }
  o.history_size = 10;  // ttl still 0: no history
  {
    ChannelRules rules(withNamespaces({}, o));
    EXPECT_EQ(codeOf(rules.check(Action::History, "room", user)), kNotAvailable);
  }
  o.history_ttl = 10s;
  o.presence = true;
  {
    ChannelRules rules(withNamespaces({}, o));
    EXPECT_EQ(codeOf(rules.check(Action::History, "room", user)), kAllowed);
    EXPECT_EQ(codeOf(rules.check(Action::Presence, "room", user)), kAllowed);
  }
  // Not available comes before permission denied.
  ChannelRules closed(withNamespaces({}, ChannelOptions{}));
  EXPECT_EQ(codeOf(closed.check(Action::History, "room", user)), kNotAvailable);
  EXPECT_EQ(codeOf(closed.check(Action::Presence, "room", user)), kNotAvailable);
}

TEST(AuthChannelPermissions, UnknownNamespace) {
  ChannelRules rules(withNamespaces({}, available()));
  for (Action a : kActions) EXPECT_EQ(codeOf(rules.check(a, "news:room", {"42", true, true})), kUnknown);
}

}  // namespace
