#include "app/DemoTokens.h"

#include <chrono>
#include <optional>
#include <stdexcept>

#include "auth/TokenVerifier.h"
#include "core/Node.h"
#include "http/HttpSession.h"
#include "protocol/Json.h"

namespace sb::app {

namespace json = protocol::json;

namespace {

bool isAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// The code point of the valid UTF-8 sequence of length `len` at s[pos].
uint32_t decodeUtf8(std::string_view s, size_t pos, size_t len) {
  auto b = [&](size_t i) { return uint32_t(static_cast<unsigned char>(s[pos + i])); };
  switch (len) {
    case 1: return b(0);
    case 2: return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3: return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
  }
}

bool isForbiddenInNickname(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)   // C0, DEL, C1 controls
         || cp == 0x2028 || cp == 0x2029             // line and paragraph separators
         || (cp >= 0x202a && cp <= 0x202e)           // bidirectional embeddings and overrides
         || (cp >= 0x2066 && cp <= 0x2069);          // bidirectional isolates
}

}  // namespace

NicknameCheck checkNickname(std::string_view raw) {
  while (!raw.empty() && isAsciiSpace(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && isAsciiSpace(raw.back())) raw.remove_suffix(1);
  if (raw.empty()) return {{}, "name must not be empty"};
  size_t codePoints = 0;
  for (size_t pos = 0; pos < raw.size();) {
    size_t len = json::utf8SequenceLength(raw, pos);
    if (len == 0) return {{}, "name is not valid UTF-8"};
    if (isForbiddenInNickname(decodeUtf8(raw, pos, len)))
      return {{}, "name must not contain control characters"};
    pos += len;
    if (++codePoints > kMaxNicknameLength)
      return {{}, "name must be at most " + std::to_string(kMaxNicknameLength) + " characters"};
  }
  return {std::string(raw), {}};
}

http::Response mintDemoToken(std::string_view hmacSecret, std::string_view body, int64_t now) {
  std::string error;
  if (!json::validate(body, &error)) return http::Response::error(400, "body must be a JSON object: " + error);
  size_t first = body.find_first_not_of(" \t\r\n");
  if (body[first] != '{') return http::Response::error(400, "body must be a JSON object {\"name\": \"...\"}");
  json::ObjectReader reader(body.substr(first));
  json::Member m;
  std::optional<std::string> name;
  bool seen = false;
  while (reader.next(m)) {
    if (m.key != "name") continue;
    seen = true;
    name = json::asString(m.raw);  // the last one wins, as everywhere else
  }
  if (!reader.ok()) return http::Response::error(400, "body must be a JSON object: " + reader.error());
  if (!seen) return http::Response::error(400, "name required");
  if (!name) return http::Response::error(400, "name must be a string");
  NicknameCheck nick = checkNickname(*name);
  if (!nick.error.empty()) return http::Response::error(400, nick.error);

  char id[36];
  core::Node::newClientId(id);
  std::string user(id, sizeof id);
  std::string info = "{\"name\":\"" + http::jsonEscape(nick.name) + "\"}";
  std::string token;
  try {
    token = auth::makeHs256Token(hmacSecret, user, now, kDemoTokenTtlSeconds, info);
  } catch (const std::invalid_argument& e) {
    // Only a missing secret gets here, which the config loader refuses.
    return http::Response::error(500, std::string("cannot sign a demo token: ") + e.what());
  }
  http::Response r = http::Response::json(
      200, "{\"token\":\"" + token + "\",\"user\":\"" + user + "\",\"name\":\"" + http::jsonEscape(nick.name) +
               "\",\"expires\":" + std::to_string(now + kDemoTokenTtlSeconds) + "}\n");
  r.header("Cache-Control", "no-store");
  return r;
}

void registerDemoTokenRoute(http::Router& router, const std::string& hmacSecret) {
  router.add("/demo/token", {"POST"}, [&hmacSecret](http::HttpContext& ctx) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    ctx.session.respond(ctx.conn, ctx.req, mintDemoToken(hmacSecret, ctx.req.body, now.count()));
  });
}

}  // namespace sb::app
