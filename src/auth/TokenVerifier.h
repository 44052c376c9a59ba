#pragma once
// JWT connection and subscription tokens (Centrifugo claims), verified with
// libjwt. The algorithm family must match a configured key: HS* needs
// client.token_hmac_secret, RS* client.token_rsa_public_key, ES*
// client.token_ecdsa_public_key. "alg": "none" and an HS token when only a
// public key is configured (key confusion) are always refused.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/Config.h"

namespace sb::auth {

enum class TokenStatus : uint8_t {
  Ok,
  Expired,  // well-formed and correctly signed, but exp <= now
  Invalid,  // anything else: malformed, bad signature, wrong alg, aud, iss, claims
};

struct ConnectClaims {
  std::string user;                   // "sub" (may be empty)
  int64_t exp = 0;                    // unix seconds, 0 = never expires
  std::string info;                   // "info": raw compact JSON, or empty
  std::vector<std::string> channels;  // server-side subscriptions
};

struct SubscribeClaims {
  std::string user;     // "sub": must equal the connection's user
  std::string channel;  // "channel": must equal the channel subscribed
  std::string client;   // optional "client": when set, must equal the client id
  int64_t exp = 0;
  std::string info;     // channel info (chan_info), raw compact JSON or empty
};

template <class Claims>
struct Verified {
  TokenStatus status = TokenStatus::Invalid;
  Claims claims;
  std::string reason;  // for logs when not Ok: "bad signature", "wrong audience", ...
};

class TokenVerifier {
 public:
  // Loads the keys (PEM text, or a path to a PEM file). Throws
  // config::ConfigError naming the key when one cannot be read or parsed.
  explicit TokenVerifier(const config::ClientConfig& cfg);
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // True when any key is configured (otherwise every token is Invalid).
  bool enabled() const;
  // `now` is unix seconds.
  Verified<ConnectClaims> verifyConnect(std::string_view token, int64_t now) const;
  Verified<SubscribeClaims> verifySubscribe(std::string_view token, int64_t now) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string audience_, issuer_;
};

// An HS256 token with the given claims, for `switchboard gentoken` and tests.
// `infoJson` must be valid JSON or empty; ttlSeconds 0 = no exp. `now` is unix
// seconds. Throws std::invalid_argument on bad input.
std::string makeHs256Token(std::string_view secret, std::string_view user, int64_t now, int64_t ttlSeconds,
                           std::string_view infoJson = {}, const std::vector<std::string>& channels = {});

}  // namespace sb::auth
