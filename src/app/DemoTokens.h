#pragma once
// POST /demo/token for the demo chat (web/): mints an HS256 connection token
// for a nickname so that presence and join/leave show names. DEMO ONLY: it
// hands a valid token to anyone who asks, so it exists only when
// `[demo] token_endpoint = true` (off by default).
#include <cstdint>
#include <string>
#include <string_view>

#include "http/Response.h"
#include "http/Router.h"

namespace sb::app {

// Longest nickname, in Unicode code points (after trimming).
inline constexpr size_t kMaxNicknameLength = 32;
// How long a demo token is valid.
inline constexpr int64_t kDemoTokenTtlSeconds = 24 * 3600;

// A nickname after validation: `name` is set when valid, else `error` says why.
struct NicknameCheck {
  std::string name;   // trimmed of surrounding white space
  std::string error;  // empty when valid
};

// Trims ASCII white space and checks 1..kMaxNicknameLength code points of
// valid UTF-8 without control characters (C0, DEL, C1) or the invisible
// line/paragraph separators and bidirectional overrides that would garble
// other people's screens.
NicknameCheck checkNickname(std::string_view raw);

// The whole endpoint without I/O: `body` is the request body
// {"name": "<nickname>"}; `now` unix seconds. Answers 200
// {"token","user","name","expires"} with a fresh random user id and
// info {"name": nickname}, or 400 {"error":{...}} naming what was wrong.
http::Response mintDemoToken(std::string_view hmacSecret, std::string_view body, int64_t now);

// Registers POST /demo/token. `hmacSecret` must outlive the router (the
// server's config) and must not be empty (the config loader refuses that).
void registerDemoTokenRoute(http::Router& router, const std::string& hmacSecret);

}  // namespace sb::app
