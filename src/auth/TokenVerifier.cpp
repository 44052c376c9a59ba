#include "auth/TokenVerifier.h"

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>

#include "protocol/Json.h"

// How a token is checked, in this order (each step answers Invalid on failure):
//   1. size cap, exactly three base64url parts (strict alphabet, no padding);
//   2. the header is a JSON object whose "alg" names an algorithm of a family
//      with a configured key ("none", unknown names and "crit" are refused);
//   3. the signature, verified here with OpenSSL against that family's key
//      only: an HMAC secret is never used as a public key and vice versa;
//   4. the payload is a JSON object whose claims have the right types, then
//      aud, iss and the claims the token kind requires;
//   5. last, nbf and exp against `now` (Expired).
//
// libjwt 1.10.2 is used only to build tokens (makeHs256Token). Its verifier
// is not used: it compares HMAC signatures with strcmp (not constant-time),
// parses the PEM key again on every call, accepts "alg" case-insensitively,
// does not tie ES256/384/512 to the key's curve and reads the token as a C
// string. Everything it would check is checked here with OpenSSL directly.

namespace sb::auth {

namespace {

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr size_t kMaxKeyFileBytes = 1024 * 1024;
constexpr int kMinRsaBits = 2048;  // RFC 7518 §3.3

// ---------------------------------------------------------------- OpenSSL RAII

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct JwtFree {
  void operator()(jwt_t* p) const { jwt_free(p); }
};
struct CFree {
  void operator()(char* p) const { std::free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// ---------------------------------------------------------------- algorithms

enum class Family : uint8_t { Hmac, Rsa, Ecdsa };

struct Algorithm {
  std::string_view name;
  Family family;
  const EVP_MD* (*digest)();
};

constexpr std::array<Algorithm, 9> kAlgorithms{{
    {"HS256", Family::Hmac, EVP_sha256},
    {"HS384", Family::Hmac, EVP_sha384},
    {"HS512", Family::Hmac, EVP_sha512},
    {"RS256", Family::Rsa, EVP_sha256},
    {"RS384", Family::Rsa, EVP_sha384},
    {"RS512", Family::Rsa, EVP_sha512},
    {"ES256", Family::Ecdsa, EVP_sha256},
    {"ES384", Family::Ecdsa, EVP_sha384},
    {"ES512", Family::Ecdsa, EVP_sha512},
}};

// Case-sensitive, as JOSE names are (RFC 7515 §4.1.1).
const Algorithm* findAlgorithm(std::string_view name) {
  for (const auto& a : kAlgorithms)
    if (a.name == name) return &a;
  return nullptr;
}

// ---------------------------------------------------------------- base64url

int base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RFC 7515 §2 base64url without padding, strictly: only the URL alphabet, no
// '=', no length of 4n+1, and zero unused bits in the last symbol (so every
// byte string has exactly one accepted encoding).
std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = base64UrlValue(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------- JSON
//
// protocol::json validates (RFC 8259, UTF-8, bounded depth) and hands out each
// member's type and raw text, which is what typed claims need: "exp" as a
// string or "channels" holding a number must be refused, and "info" is passed
// on as the token's own JSON text.

using JsonType = protocol::json::Type;

// The members of the JSON object `text`. Duplicate names are refused: JSON
// parsers disagree on which one wins, and a token is the wrong place for that
// ambiguity.
bool readObject(std::string_view text, std::vector<protocol::json::Member>& members, std::string& reason) {
  protocol::json::ObjectReader reader(text);
  protocol::json::Member m;
  while (reader.next(m)) members.push_back(m);
  if (!reader.ok()) {
    reason = reader.error();
    return false;
  }
  std::vector<std::string_view> names;
  names.reserve(members.size());
  for (const auto& member : members) names.push_back(member.key);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    reason = "duplicate member name";  // not quoted: the text is untrusted and goes to logs
    return false;
  }
  return true;
}

// A JSON array of strings; nullopt when any element is not a string.
std::optional<std::vector<std::string>> readStringArray(std::string_view raw) {
  std::vector<std::string> out;
  protocol::json::ArrayReader reader(raw);
  std::string_view element;
  JsonType type;
  while (reader.next(element, type)) {
    auto s = type == JsonType::String ? protocol::json::asString(element) : std::nullopt;
    if (!s) return std::nullopt;
    out.push_back(std::move(*s));
  }
  if (!reader.ok()) return std::nullopt;
  return out;
}

// A NumericDate (RFC 7519 §2): seconds, possibly fractional (dropped).
std::optional<int64_t> readNumericDate(std::string_view raw) {
  if (auto exact = protocol::json::asInt(raw)) return exact;
  double d = 0;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), d);
  if (ec != std::errc() || end != raw.data() + raw.size() || !std::isfinite(d)) return std::nullopt;
  if (d >= 9.2e18 || d <= -9.2e18) return std::nullopt;
  return static_cast<int64_t>(std::trunc(d));
}

// `s` as a JSON string literal (the caller validates the result as UTF-8 JSON).
std::string jsonQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

// ---------------------------------------------------------------- claims

// Every claim either token kind understands, type-checked. Unknown claims are
// ignored, as Centrifugo does.
struct ParsedClaims {
  std::string sub;
  std::optional<int64_t> exp, nbf, expireAt;
  std::string info;
  std::vector<std::string> channels;
  std::optional<std::string> channel, client, iss;
  std::optional<std::vector<std::string>> aud;
};

bool parseClaims(std::string_view payload, ParsedClaims& c, std::string& reason) {
  std::vector<protocol::json::Member> members;
  if (!readObject(payload, members, reason)) {
    reason = "payload: " + reason;
    return false;
  }
  using Member = protocol::json::Member;
  auto wrong = [&](const Member& m, const char* expected) {
    reason = "claim \"" + m.key + "\" must be " + expected;
    return false;
  };
  // JSON null reads as an absent claim, as with Go's encoding/json.
  auto readString = [&](const Member& m, std::optional<std::string>& out) {
    if (m.type == JsonType::Null) return true;
    if (m.type == JsonType::String) out = protocol::json::asString(m.raw);
    return out ? true : wrong(m, "a string");
  };
  auto readDate = [&](const Member& m, std::optional<int64_t>& out) {
    if (m.type == JsonType::Null) return true;
    if (m.type != JsonType::Number) return wrong(m, "a number");
    out = readNumericDate(m.raw);
    return out ? true : wrong(m, "a number of seconds in range");
  };
  auto readStrings = [&](const Member& m, std::optional<std::vector<std::string>>& out, bool singleString) {
    if (m.type == JsonType::Null) return true;
    if (m.type == JsonType::Array) {
      out = readStringArray(m.raw);
    } else if (singleString && m.type == JsonType::String) {
      if (auto one = protocol::json::asString(m.raw)) out = std::vector<std::string>{std::move(*one)};
    }
    return out ? true : wrong(m, singleString ? "a string or an array of strings" : "an array of strings");
  };
  for (const auto& m : members) {
    bool ok = true;
    std::optional<std::string> ignoredString;
    std::optional<int64_t> ignoredDate;
    if (m.key == "sub") {
      std::optional<std::string> sub;
      ok = readString(m, sub);
      c.sub = sub.value_or("");
    } else if (m.key == "exp") {
      ok = readDate(m, c.exp);
    } else if (m.key == "nbf") {
      ok = readDate(m, c.nbf);
    } else if (m.key == "iat") {
      ok = readDate(m, ignoredDate);
    } else if (m.key == "expire_at") {
      // Centrifugo reads it into an int64: an integer, not any number.
      if (m.type != JsonType::Null) {
        c.expireAt = m.type == JsonType::Number ? protocol::json::asInt(m.raw) : std::nullopt;
        ok = c.expireAt ? true : wrong(m, "an integer");
      }
    } else if (m.key == "info") {
      if (m.type != JsonType::Null) ok = protocol::json::compact(m.raw, c.info) || wrong(m, "JSON");
    } else if (m.key == "channels") {
      std::optional<std::vector<std::string>> channels;
      ok = readStrings(m, channels, false);
      if (channels) c.channels = std::move(*channels);
    } else if (m.key == "channel") {
      ok = readString(m, c.channel);
    } else if (m.key == "client") {
      ok = readString(m, c.client);
    } else if (m.key == "iss") {
      ok = readString(m, c.iss);
    } else if (m.key == "jti") {
      ok = readString(m, ignoredString);
    } else if (m.key == "aud") {
      ok = readStrings(m, c.aud, true);  // RFC 7519 §4.1.3: a string or an array of strings
    }
    if (!ok) return false;
  }
  return true;
}

// The configured audience and issuer, when set, must be in the token.
bool audienceAndIssuerMatch(const ParsedClaims& c, const std::string& audience, const std::string& issuer,
                            std::string& reason) {
  if (!audience.empty()) {
    if (!c.aud) {
      reason = "missing audience";
      return false;
    }
    if (std::find(c.aud->begin(), c.aud->end(), audience) == c.aud->end()) {
      reason = "wrong audience";
      return false;
    }
  }
  if (!issuer.empty() && c.iss != issuer) {
    reason = c.iss ? "wrong issuer" : "missing issuer";
    return false;
  }
  return true;
}

// nbf and exp against `now`; nullopt when the token is current.
std::optional<TokenStatus> checkTime(const ParsedClaims& c, int64_t now, std::string& reason) {
  // Like Centrifugo, a token used before its nbf is answered as expired, so
  // the client fetches a fresh one instead of giving up.
  if (c.nbf && *c.nbf > now) {
    reason = "token not valid yet (nbf)";
    return TokenStatus::Expired;
  }
  if (c.exp && *c.exp != 0 && *c.exp <= now) {
    reason = "token expired";
    return TokenStatus::Expired;
  }
  return std::nullopt;
}

// When the connection (or subscription) ends: Centrifugo's "expire_at"
// overrides "exp" (0 or less = never), else "exp".
int64_t expiryOf(const ParsedClaims& c) {
  if (c.expireAt) return *c.expireAt > 0 ? *c.expireAt : 0;
  return c.exp.value_or(0);
}

// ---------------------------------------------------------------- key loading

[[noreturn]] void keyError(std::string_view key, const std::string& what) {
  throw config::ConfigError("config: client." + std::string(key) + ": " + what);
}

std::string openSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// The PEM text of `value`: itself (leading whitespace dropped, since PEM
// readers want "-----BEGIN" at a line start) when it looks like PEM, else the
// content of the file it names.
std::string pemText(std::string_view key, const std::string& value) {
  size_t first = value.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && value.compare(first, 10, "-----BEGIN") == 0) return value.substr(first);
  std::ifstream in(value, std::ios::binary);
  if (!in) keyError(key, "neither PEM text (\"-----BEGIN ...\") nor a readable file: '" + value + "'");
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxKeyFileBytes) keyError(key, "file '" + value + "' is too large for a PEM key");
  }
  if (text.find("-----BEGIN") == std::string::npos) keyError(key, "file '" + value + "' holds no PEM block");
  return text;
}

// Parses a PEM public key (SubjectPublicKeyInfo, or an X.509 certificate
// carrying one — the forms Centrifugo accepts) and checks it.
PkeyPtr loadPublicKey(std::string_view key, const std::string& value) {
  std::string pem = pemText(key, value);
  if (pem.find("PRIVATE KEY-----") != std::string::npos)
    keyError(key, "this is a private key; configure the public key (openssl pkey -pubout)");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) keyError(key, "out of memory");
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    ERR_clear_error();
    std::unique_ptr<BIO, BioFree> certBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::unique_ptr<X509, X509Free> cert(certBio ? PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr)
                                                 : nullptr);
    if (cert) pkey.reset(X509_get_pubkey(cert.get()));
  }
  if (!pkey)
    keyError(key, "cannot parse the PEM public key (expected \"-----BEGIN PUBLIC KEY-----\" or a certificate): " +
                      openSslError());
  return pkey;
}

// OpenSSL's sanity checks of a public key (EC point on the curve, RSA modulus
// and exponent), once at load time.
void checkPublicKey(std::string_view key, EVP_PKEY* pkey) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) keyError(key, "invalid public key: " + openSslError());
  ERR_clear_error();
}

std::string_view keyTypeName(const EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: return "RSA";
    case EVP_PKEY_RSA_PSS: return "RSA-PSS";
    case EVP_PKEY_EC: return "EC";
    case EVP_PKEY_ED25519: return "Ed25519";
    default: return "of another type";
  }
}

// ---------------------------------------------------------------- signatures

bool verifyHmac(const EVP_MD* md, std::string_view secret, std::string_view input, std::string_view sig) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()), bytes(input), input.size(), mac, &macLen) == nullptr) {
    ERR_clear_error();
    return false;
  }
  return sig.size() == macLen && CRYPTO_memcmp(mac, sig.data(), macLen) == 0;
}

// EVP_PKEY is only read here, so one key serves many threads at once.
bool verifyWithKey(EVP_PKEY* key, const EVP_MD* md, std::string_view input, const unsigned char* sig,
                   size_t sigLen) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), sig, sigLen, bytes(input), input.size()) == 1;
  // Leave nothing on this thread's error queue: TLS code reads it later.
  ERR_clear_error();
  return ok;
}

// JOSE ECDSA signatures are R || S, each left-padded to the field size
// (RFC 7518 §3.4); OpenSSL verifies the DER ECDSA-Sig-Value form.
bool verifyEcdsa(EVP_PKEY* key, const EVP_MD* md, size_t fieldBytes, std::string_view input, std::string_view sig) {
  if (sig.size() != 2 * fieldBytes) return false;
  std::unique_ptr<BIGNUM, BnFree> r(BN_bin2bn(bytes(sig), static_cast<int>(fieldBytes), nullptr));
  std::unique_ptr<BIGNUM, BnFree> s(BN_bin2bn(bytes(sig) + fieldBytes, static_cast<int>(fieldBytes), nullptr));
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> ecSig(ECDSA_SIG_new());
  if (!r || !s || !ecSig || ECDSA_SIG_set0(ecSig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  r.release();  // owned by ecSig now
  s.release();
  int derLen = i2d_ECDSA_SIG(ecSig.get(), nullptr);
  if (derLen <= 0) {
    ERR_clear_error();
    return false;
  }
  std::vector<unsigned char> der(static_cast<size_t>(derLen));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(ecSig.get(), &out) != derLen) {
    ERR_clear_error();
    return false;
  }
  return verifyWithKey(key, md, input, der.data(), der.size());
}

}  // namespace

// ---------------------------------------------------------------- TokenVerifier

struct TokenVerifier::Keys {
  std::string hmacSecret;  // empty = HS* refused
  PkeyPtr rsa;             // null = RS* refused
  PkeyPtr ecdsa;           // null = ES* refused
  std::string_view ecdsaAlgorithm;  // the one ES* matching the key's curve
  size_t ecdsaFieldBytes = 0;

  // Steps 1-3 of the file comment: the payload's JSON text when the token is
  // well-formed and signed by a configured key with an allowed algorithm.
  std::optional<std::string> open(std::string_view token, std::string& reason) const {
    if (token.size() > kMaxTokenBytes) {
      reason = "token too long";
      return std::nullopt;
    }
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      reason = "malformed token: not three dot-separated parts";
      return std::nullopt;
    }
    auto header = base64UrlDecode(token.substr(0, dot1));
    auto payload = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    auto signature = base64UrlDecode(token.substr(dot2 + 1));
    if (!header || !payload || !signature) {
      reason = "malformed token: bad base64url";
      return std::nullopt;
    }
    const Algorithm* alg = headerAlgorithm(*header, reason);
    if (!alg) return std::nullopt;

    std::string_view signingInput = token.substr(0, dot2);
    const EVP_MD* md = alg->digest();
    bool valid = false;
    switch (alg->family) {
      case Family::Hmac:
        valid = verifyHmac(md, hmacSecret, signingInput, *signature);
        break;
      case Family::Rsa:
        valid = verifyWithKey(rsa.get(), md, signingInput, bytes(*signature), signature->size());
        break;
      case Family::Ecdsa:
        valid = verifyEcdsa(ecdsa.get(), md, ecdsaFieldBytes, signingInput, *signature);
        break;
    }
    if (!valid) {
      reason = "bad signature";
      return std::nullopt;
    }
    return std::move(*payload);
  }

  // The header's algorithm when a key for it is configured, else nullptr.
  const Algorithm* headerAlgorithm(std::string_view header, std::string& reason) const {
    std::vector<protocol::json::Member> members;
    if (!readObject(header, members, reason)) {
      reason = "header: " + reason;
      return nullptr;
    }
    const protocol::json::Member* algMember = nullptr;
    for (const auto& m : members) {
      if (m.key == "alg") algMember = &m;
      // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we
      // understand none.
      if (m.key == "crit") {
        reason = "header: \"crit\" is not supported";
        return nullptr;
      }
    }
    if (!algMember || algMember->type != JsonType::String) {
      reason = "header: missing \"alg\"";
      return nullptr;
    }
    auto name = protocol::json::asString(algMember->raw).value_or("");
    const Algorithm* alg = findAlgorithm(name);
    if (!alg) {
      reason = name == "none" ? "unsigned token (alg none)" : "unsupported algorithm";
      return nullptr;
    }
    bool keyed = false;
    switch (alg->family) {
      case Family::Hmac: keyed = !hmacSecret.empty(); break;
      case Family::Rsa: keyed = rsa != nullptr; break;
      case Family::Ecdsa: keyed = ecdsa != nullptr && alg->name == ecdsaAlgorithm; break;
    }
    if (!keyed) {
      reason = "algorithm " + std::string(alg->name) + " has no configured key";
      return nullptr;
    }
    return alg;
  }
};

TokenVerifier::TokenVerifier(const config::ClientConfig& cfg)
    : keys_(std::make_unique<Keys>()), audience_(cfg.token_audience), issuer_(cfg.token_issuer) {
  keys_->hmacSecret = cfg.token_hmac_secret;
  if (!cfg.token_rsa_public_key.empty()) {
    constexpr std::string_view kKey = "token_rsa_public_key";
    PkeyPtr pkey = loadPublicKey(kKey, cfg.token_rsa_public_key);
    if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA)
      keyError(kKey, "the key is " + std::string(keyTypeName(pkey.get())) + ", not RSA");
    int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < kMinRsaBits)
      keyError(kKey, "the RSA key has " + std::to_string(bits) + " bits; at least " + std::to_string(kMinRsaBits) +
                         " are required (RFC 7518 section 3.3)");
    checkPublicKey(kKey, pkey.get());
    keys_->rsa = std::move(pkey);
  }
  if (!cfg.token_ecdsa_public_key.empty()) {
    constexpr std::string_view kKey = "token_ecdsa_public_key";
    PkeyPtr pkey = loadPublicKey(kKey, cfg.token_ecdsa_public_key);
    if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_EC)
      keyError(kKey, "the key is " + std::string(keyTypeName(pkey.get())) + ", not EC");
    char group[80] = {};
    size_t groupLen = 0;
    if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof group, &groupLen) != 1) {
      ERR_clear_error();
      keyError(kKey, "cannot tell the key's curve");
    }
    std::string_view curve(group, groupLen);
    // RFC 7518 §3.4: each ES algorithm goes with exactly one curve.
    if (curve == "prime256v1") {
      keys_->ecdsaAlgorithm = "ES256";
      keys_->ecdsaFieldBytes = 32;
    } else if (curve == "secp384r1") {
      keys_->ecdsaAlgorithm = "ES384";
      keys_->ecdsaFieldBytes = 48;
    } else if (curve == "secp521r1") {
      keys_->ecdsaAlgorithm = "ES512";
      keys_->ecdsaFieldBytes = 66;
    } else {
      keyError(kKey, "unsupported curve " + std::string(curve) + "; use P-256 (ES256), P-384 (ES384) or P-521 (ES512)");
    }
    checkPublicKey(kKey, pkey.get());
    keys_->ecdsa = std::move(pkey);
  }
}

TokenVerifier::~TokenVerifier() = default;

bool TokenVerifier::enabled() const { return !keys_->hmacSecret.empty() || keys_->rsa || keys_->ecdsa; }

Verified<ConnectClaims> TokenVerifier::verifyConnect(std::string_view token, int64_t now) const {
  Verified<ConnectClaims> v;
  auto payload = keys_->open(token, v.reason);
  ParsedClaims c;
  if (!payload || !parseClaims(*payload, c, v.reason)) return v;
  if (!audienceAndIssuerMatch(c, audience_, issuer_, v.reason)) return v;
  if (c.channel) {
    v.reason = "connection token must not carry a \"channel\" claim";
    return v;
  }
  v.claims.user = std::move(c.sub);
  v.claims.exp = expiryOf(c);
  v.claims.info = std::move(c.info);
  v.claims.channels = std::move(c.channels);
  if (auto late = checkTime(c, now, v.reason)) {
    v.status = *late;
    return v;
  }
  v.status = TokenStatus::Ok;
  return v;
}

Verified<SubscribeClaims> TokenVerifier::verifySubscribe(std::string_view token, int64_t now) const {
  Verified<SubscribeClaims> v;
  auto payload = keys_->open(token, v.reason);
  ParsedClaims c;
  if (!payload || !parseClaims(*payload, c, v.reason)) return v;
  if (!audienceAndIssuerMatch(c, audience_, issuer_, v.reason)) return v;
  if (!c.channel || c.channel->empty()) {
    v.reason = "subscription token needs a \"channel\" claim";
    return v;
  }
  v.claims.user = std::move(c.sub);
  v.claims.channel = std::move(*c.channel);
  v.claims.client = c.client.value_or("");
  v.claims.exp = expiryOf(c);
  v.claims.info = std::move(c.info);
  if (auto late = checkTime(c, now, v.reason)) {
    v.status = *late;
    return v;
  }
  v.status = TokenStatus::Ok;
  return v;
}

std::string makeHs256Token(std::string_view secret, std::string_view user, int64_t now, int64_t ttlSeconds,
                           std::string_view infoJson, const std::vector<std::string>& channels) {
  if (secret.empty()) throw std::invalid_argument("token secret is empty");
  if (ttlSeconds < 0 || ttlSeconds > std::numeric_limits<int64_t>::max() - now)
    throw std::invalid_argument("token ttl is out of range");
  // infoJson must be exactly one JSON value, so it cannot splice other
  // members (say, another "sub") into the claims.
  std::string info;
  if (!infoJson.empty() && !protocol::json::compact(infoJson, info))
    throw std::invalid_argument("info is not valid JSON");

  std::string claims = "{\"sub\":" + jsonQuote(user) + ",\"iat\":" + std::to_string(now);
  if (ttlSeconds > 0) claims += ",\"exp\":" + std::to_string(now + ttlSeconds);
  if (!info.empty()) claims += ",\"info\":" + info;
  if (!channels.empty()) {
    claims += ",\"channels\":[";
    for (size_t i = 0; i < channels.size(); ++i) claims += (i ? "," : "") + jsonQuote(channels[i]);
    claims += "]";
  }
  claims += "}";
  // Checks the UTF-8 of user and channels (jansson, inside libjwt, would
  // refuse it less clearly).
  if (!protocol::json::validate(claims)) throw std::invalid_argument("user or channel is not valid UTF-8 text");

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  std::unique_ptr<jwt_t, JwtFree> jwt(raw);
  if (jwt_add_grants_json(jwt.get(), claims.c_str()) != 0)
    throw std::invalid_argument("libjwt refused the claims");
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, bytes(secret), static_cast<int>(secret.size())) != 0)
    throw std::invalid_argument("libjwt refused the secret");
  std::unique_ptr<char, CFree> encoded(jwt_encode_str(jwt.get()));
  ERR_clear_error();
  if (!encoded) throw std::runtime_error("jwt_encode_str failed");
  return encoded.get();
}

}  // namespace sb::auth
