// TokenVerifier: HS/RS/ES tokens made two independent ways (OpenSSL directly
// in this file, and libjwt), the refusals that matter for security (alg none,
// HMAC signed with the RSA public key, curve/alg mismatch, tampering),
// malformed input, audience/issuer, claim types, Centrifugo claims,
// makeHs256Token and key loading errors. Keys are generated at test time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <jwt.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "auth/TokenVerifier.h"

using sb::auth::makeHs256Token;
using sb::auth::TokenStatus;
using sb::auth::TokenVerifier;
using sb::config::ClientConfig;
using sb::config::ConfigError;
using testing::AllOf;
using testing::HasSubstr;
using testing::StartsWith;

namespace {

constexpr int64_t kNow = 1'700'000'000;
const std::string kSecret = "test-secret-of-reasonable-length-0123456789";

// ------------------------------------------------------------ OpenSSL helpers

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey generateRsa(unsigned bits) {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!k) throw std::runtime_error("RSA keygen failed");
  return k;
}

Pkey generateEc(const char* curve) {
  Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!k) throw std::runtime_error("EC keygen failed");
  return k;
}

template <class Write>
std::string pemOf(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (write(bio.get()) != 1) throw std::runtime_error("PEM write failed");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string publicPem(EVP_PKEY* k) {
  return pemOf([&](BIO* b) { return PEM_write_bio_PUBKEY(b, k); });
}

std::string privatePem(EVP_PKEY* k) {
  return pemOf([&](BIO* b) { return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); });
}

// A self-signed certificate carrying the key, as PEM.
std::string certificatePem(EVP_PKEY* k) {
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), k);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  if (X509_sign(x.get(), k, EVP_sha256()) <= 0) throw std::runtime_error("X509_sign failed");
  return pemOf([&](BIO* b) { return PEM_write_bio_X509(b, x.get()); });
}

std::string b64url(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  return out;
}

const EVP_MD* digestFor(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  return EVP_sha512();
}

std::string hmacSign(std::string_view alg, std::string_view key, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(digestFor(alg), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

// EVP_DigestSign: PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC.
std::string evpSign(EVP_PKEY* key, std::string_view alg, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, digestFor(alg), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw std::runtime_error("sign init failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw std::runtime_error("sign failed");
  sig.resize(len);
  return sig;
}

// DER ECDSA-Sig-Value → JOSE R || S, each left-padded to the field size.
std::string derToJose(std::string_view der, size_t fieldBytes) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                            ECDSA_SIG_free);
  if (!sig) throw std::runtime_error("bad DER signature");
  std::string out(2 * fieldBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, static_cast<int>(fieldBytes));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + fieldBytes, static_cast<int>(fieldBytes));
  return out;
}

std::string headerFor(std::string_view alg) { return "{\"alg\":\"" + std::string(alg) + "\",\"typ\":\"JWT\"}"; }

// header.payload.signature from raw JSON texts and a signing function.
template <class Sign>
std::string assemble(std::string_view header, std::string_view payload, Sign sign) {
  std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(sign(input));
}

std::string hsToken(std::string_view payload, std::string_view secret = kSecret, std::string_view alg = "HS256") {
  return assemble(headerFor(alg), payload, [&](const std::string& in) { return hmacSign(alg, secret, in); });
}

std::string rsToken(std::string_view payload, EVP_PKEY* key, std::string_view alg = "RS256") {
  return assemble(headerFor(alg), payload, [&](const std::string& in) { return evpSign(key, alg, in); });
}

std::string esToken(std::string_view payload, EVP_PKEY* key, std::string_view alg = "ES256") {
  size_t fieldBytes = (static_cast<size_t>(EVP_PKEY_get_bits(key)) + 7) / 8;
  return assemble(headerFor(alg), payload,
                  [&](const std::string& in) { return derToJose(evpSign(key, alg, in), fieldBytes); });
}

// The same through libjwt's encoder (an independent JOSE implementation).
std::string libjwtToken(jwt_alg_t alg, std::string_view key, const std::string& grantsJson) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new");
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, jwt_free);
  if (jwt_add_grants_json(jwt.get(), grantsJson.c_str()) != 0) throw std::runtime_error("jwt_add_grants_json");
  if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())))
    throw std::runtime_error("jwt_set_alg");
  std::unique_ptr<char, decltype(&std::free)> out(jwt_encode_str(jwt.get()), std::free);
  if (!out) throw std::runtime_error("jwt_encode_str");
  return out.get();
}

ClientConfig hmacConfig(std::string secret = kSecret) {
  ClientConfig c;
  c.token_hmac_secret = std::move(secret);
  return c;
}

std::string configErrorOf(const ClientConfig& cfg) {
  try {
    TokenVerifier v(cfg);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

class AuthTokenTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = generateRsa(2048).release();
    ec256_ = generateEc("P-256").release();
    ec384_ = generateEc("P-384").release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(rsa_);
    EVP_PKEY_free(ec256_);
    EVP_PKEY_free(ec384_);
  }
  static ClientConfig rsaConfig() {
    ClientConfig c;
    c.token_rsa_public_key = publicPem(rsa_);
    return c;
  }
  static ClientConfig ecConfig(EVP_PKEY* key) {
    ClientConfig c;
    c.token_ecdsa_public_key = publicPem(key);
    return c;
  }
  static EVP_PKEY* rsa_;
  static EVP_PKEY* ec256_;
  static EVP_PKEY* ec384_;
};
EVP_PKEY* AuthTokenTest::rsa_ = nullptr;
EVP_PKEY* AuthTokenTest::ec256_ = nullptr;
EVP_PKEY* AuthTokenTest::ec384_ = nullptr;

const std::string kClaims = R"({"sub":"42","exp":1700003600})";

// ------------------------------------------------------------ valid tokens

TEST_F(AuthTokenTest, HmacAlgorithms) {
  TokenVerifier v(hmacConfig());
  EXPECT_TRUE(v.enabled());
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    auto r = v.verifyConnect(hsToken(kClaims, kSecret, alg), kNow);
    EXPECT_EQ(r.status, TokenStatus::Ok) << alg << ": " << r.reason;
    EXPECT_EQ(r.claims.user, "42");
    EXPECT_EQ(r.claims.exp, 1700003600);
  }
  for (jwt_alg_t alg : {JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512}) {
    auto r = v.verifyConnect(libjwtToken(alg, kSecret, kClaims), kNow);
    EXPECT_EQ(r.status, TokenStatus::Ok) << jwt_alg_str(alg) << ": " << r.reason;
    EXPECT_EQ(r.claims.user, "42");
  }
}

TEST_F(AuthTokenTest, RsaAlgorithms) {
  TokenVerifier v(rsaConfig());
  for (const char* alg : {"RS256", "RS384", "RS512"}) {
    auto r = v.verifyConnect(rsToken(kClaims, rsa_, alg), kNow);
    EXPECT_EQ(r.status, TokenStatus::Ok) << alg << ": " << r.reason;
    EXPECT_EQ(r.claims.user, "42");
  }
  auto r = v.verifyConnect(libjwtToken(JWT_ALG_RS256, privatePem(rsa_), kClaims), kNow);
  EXPECT_EQ(r.status, TokenStatus::Ok) << r.reason;
}

TEST_F(AuthTokenTest, EcdsaJoseSignatures) {
  TokenVerifier v256(ecConfig(ec256_));
  auto own = v256.verifyConnect(esToken(kClaims, ec256_), kNow);
  EXPECT_EQ(own.status, TokenStatus::Ok) << own.reason;
  EXPECT_EQ(own.claims.user, "42");
  auto lib = v256.verifyConnect(libjwtToken(JWT_ALG_ES256, privatePem(ec256_), kClaims), kNow);
  EXPECT_EQ(lib.status, TokenStatus::Ok) << lib.reason;

  TokenVerifier v384(ecConfig(ec384_));
  EXPECT_EQ(v384.verifyConnect(esToken(kClaims, ec384_, "ES384"), kNow).status, TokenStatus::Ok);
}

TEST_F(AuthTokenTest, EcdsaAlgorithmMustMatchTheCurve) {
  TokenVerifier v256(ecConfig(ec256_));
  TokenVerifier v384(ecConfig(ec384_));
  // ES384 over P-256 and ES256 over P-384 are not JOSE algorithms.
  EXPECT_EQ(v256.verifyConnect(esToken(kClaims, ec256_, "ES384"), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v384.verifyConnect(esToken(kClaims, ec384_, "ES256"), kNow).status, TokenStatus::Invalid);
  // A DER signature is not the JOSE form.
  std::string der = assemble(headerFor("ES256"), kClaims,
                             [&](const std::string& in) { return evpSign(ec256_, "ES256", in); });
  auto r = v256.verifyConnect(der, kNow);
  EXPECT_EQ(r.status, TokenStatus::Invalid);
  EXPECT_EQ(r.reason, "bad signature");
}

// ------------------------------------------------------------ expiry

TEST_F(AuthTokenTest, ExpiryAndNotBefore) {
  TokenVerifier v(hmacConfig());
  auto at = [&](const std::string& claims) { return v.verifyConnect(hsToken(claims), kNow); };
  auto expired = at(R"({"sub":"42","exp":1700000000})");  // exp == now
  EXPECT_EQ(expired.status, TokenStatus::Expired);
  EXPECT_EQ(expired.claims.user, "42");  // claims are still reported
  EXPECT_EQ(at(R"({"sub":"42","exp":1700000001})").status, TokenStatus::Ok);
  EXPECT_EQ(at(R"({"sub":"42","exp":1})").status, TokenStatus::Expired);
  auto forever = at(R"({"sub":"42","exp":0})");
  EXPECT_EQ(forever.status, TokenStatus::Ok);
  EXPECT_EQ(forever.claims.exp, 0);
  EXPECT_EQ(at(R"({"sub":"42"})").claims.exp, 0);
  EXPECT_EQ(at(R"({"sub":"42","exp":1700000001.9})").claims.exp, 1700000001);
  EXPECT_EQ(at(R"({"sub":"42","nbf":1700000001})").status, TokenStatus::Expired);
  EXPECT_EQ(at(R"({"sub":"42","nbf":1700000000})").status, TokenStatus::Ok);
  // Expired is only said of tokens that are otherwise fine.
  std::string expiredToken = hsToken(R"({"sub":"42","exp":1})");
  size_t sigMiddle = expiredToken.rfind('.') + 10;
  expiredToken[sigMiddle] = expiredToken[sigMiddle] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v.verifyConnect(expiredToken, kNow).reason, "bad signature");
  EXPECT_EQ(at(R"({"sub":7,"exp":1})").status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"sub":"42","exp":1})"), kNow).status, TokenStatus::Invalid);  // no channel
  ClientConfig withAudience = hmacConfig();
  withAudience.token_audience = "switchboard";
  EXPECT_EQ(TokenVerifier(withAudience).verifyConnect(hsToken(R"({"exp":1,"aud":"x"})"), kNow).status,
            TokenStatus::Invalid);
}

// ------------------------------------------------------------ signatures

TEST_F(AuthTokenTest, BadSignatures) {
  TokenVerifier v(hmacConfig());
  std::string good = hsToken(kClaims);
  ASSERT_EQ(v.verifyConnect(good, kNow).status, TokenStatus::Ok);

  std::string flipped = good;
  size_t mid = good.rfind('.') + 10;
  flipped[mid] = flipped[mid] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v.verifyConnect(flipped, kNow).reason, "bad signature");

  EXPECT_EQ(v.verifyConnect(hsToken(kClaims, "another secret"), kNow).reason, "bad signature");

  // The payload changed after signing.
  std::string forged = good;
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  forged.replace(d1 + 1, d2 - d1 - 1, b64url(R"({"sub":"admin","exp":1700003600})"));
  EXPECT_EQ(v.verifyConnect(forged, kNow).reason, "bad signature");

  // Truncated and empty signatures.
  EXPECT_EQ(v.verifyConnect(good.substr(0, good.size() - 4), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifyConnect(good.substr(0, d2 + 1), kNow).status, TokenStatus::Invalid);

  TokenVerifier rs(rsaConfig());
  std::string rsGood = rsToken(kClaims, rsa_);
  std::string rsForged = rsGood;
  size_t r1 = rsGood.find('.'), r2 = rsGood.rfind('.');
  rsForged.replace(r1 + 1, r2 - r1 - 1, b64url(R"({"sub":"admin","exp":1700003600})"));
  ASSERT_EQ(rs.verifyConnect(rsGood, kNow).status, TokenStatus::Ok);
  EXPECT_EQ(rs.verifyConnect(rsForged, kNow).status, TokenStatus::Invalid);
  Pkey otherRsa = generateRsa(2048);
  EXPECT_EQ(rs.verifyConnect(rsToken(kClaims, otherRsa.get()), kNow).reason, "bad signature");
  Pkey otherEc = generateEc("P-256");
  TokenVerifier es(ecConfig(ec256_));
  EXPECT_EQ(es.verifyConnect(esToken(kClaims, otherEc.get()), kNow).reason, "bad signature");
}

TEST_F(AuthTokenTest, AlgNoneIsRefused) {
  ClientConfig all = hmacConfig();
  all.token_rsa_public_key = publicPem(rsa_);
  all.token_ecdsa_public_key = publicPem(ec256_);
  TokenVerifier v(all);
  std::string unsigned_ = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(kClaims);
  EXPECT_EQ(v.verifyConnect(unsigned_ + ".", kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifyConnect(unsigned_ + ".", kNow).reason, "unsigned token (alg none)");
  EXPECT_EQ(v.verifyConnect(unsigned_, kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifySubscribe(b64url(R"({"alg":"none"})") + "." + b64url(R"({"channel":"c"})") + ".", kNow).status,
            TokenStatus::Invalid);
  // Algorithm names are case-sensitive (libjwt itself would accept these).
  for (const char* alg : {"None", "NONE", "hs256", "Hs256"})
    EXPECT_EQ(v.verifyConnect(hsToken(kClaims, kSecret, alg), kNow).status, TokenStatus::Invalid) << alg;
  for (const char* alg : {"HS1", "PS256", "EdDSA", "ES256K", ""})
    EXPECT_EQ(v.verifyConnect(hsToken(kClaims, kSecret, alg), kNow).reason, "unsupported algorithm") << alg;
}

TEST_F(AuthTokenTest, HmacSignedWithThePublicKeyIsRefused) {
  // The classic key-confusion attack: the attacker knows the RSA public key
  // and signs an HS256 token with its PEM text as the HMAC secret.
  std::string pem = publicPem(rsa_);
  std::string attack = hsToken(R"({"sub":"admin"})", pem, "HS256");

  // A verifier that hands libjwt the configured key for whatever alg the
  // token names would accept it:
  jwt_t* naive = nullptr;
  int rc = jwt_decode(&naive, attack.c_str(), reinterpret_cast<const unsigned char*>(pem.data()),
                      static_cast<int>(pem.size()));
  EXPECT_EQ(rc, 0) << "the attack token should be valid for a naive verifier";
  jwt_free(naive);

  TokenVerifier rsaOnly(rsaConfig());
  auto r = rsaOnly.verifyConnect(attack, kNow);
  EXPECT_EQ(r.status, TokenStatus::Invalid);
  EXPECT_EQ(r.reason, "algorithm HS256 has no configured key");
  EXPECT_EQ(rsaOnly.verifySubscribe(hsToken(R"({"channel":"c"})", pem), kNow).status, TokenStatus::Invalid);

  // With an HMAC secret configured too, HS256 is checked with that secret only.
  ClientConfig both = rsaConfig();
  both.token_hmac_secret = kSecret;
  EXPECT_EQ(TokenVerifier(both).verifyConnect(attack, kNow).reason, "bad signature");

  // The other directions: each family needs its own key.
  EXPECT_EQ(TokenVerifier(hmacConfig()).verifyConnect(rsToken(kClaims, rsa_), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(rsaOnly.verifyConnect(esToken(kClaims, ec256_), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(TokenVerifier(ecConfig(ec256_)).verifyConnect(rsToken(kClaims, rsa_), kNow).status,
            TokenStatus::Invalid);
}

// ------------------------------------------------------------ malformed

TEST_F(AuthTokenTest, MalformedTokens) {
  TokenVerifier v(hmacConfig());
  std::string header = b64url(headerFor("HS256"));
  std::string payload = b64url(kClaims);
  auto signedWith = [&](const std::string& h, const std::string& p) {
    return h + "." + p + "." + b64url(hmacSign("HS256", kSecret, h + "." + p));
  };
  std::string payload4nPlus1 = payload;
  while (payload4nPlus1.size() % 4 != 1) payload4nPlus1 += 'A';
  ASSERT_EQ(v.verifyConnect(signedWith(header, payload), kNow).status, TokenStatus::Ok);

  const std::vector<std::string> bad = {
      "",
      "garbage",
      ".",
      "..",
      "...",
      header + "." + payload,                          // two parts
      signedWith(header, payload) + ".extra",          // four parts
      signedWith(header + "=", payload),               // padding
      signedWith(header, payload + "+"),               // standard alphabet
      signedWith(header, payload4nPlus1),              // length 4n+1
      signedWith(header, std::string(payload) + "!"),  // not base64
      signedWith(b64url("[]"), payload),               // header not an object
      signedWith(b64url("\"HS256\""), payload),
      signedWith(b64url("{\"alg\":\"HS256\""), payload),  // truncated JSON
      signedWith(b64url("{}"), payload),                  // no alg
      signedWith(b64url("{\"alg\":256}"), payload),
      signedWith(b64url("{\"alg\":\"HS256\",\"alg\":\"none\"}"), payload),  // duplicate
      signedWith(b64url("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"), payload),
      signedWith(header, b64url("[]")),
      signedWith(header, b64url("{\"sub\":\"42\"} x")),
      signedWith(header, b64url("{\"sub\":\"\xff\"}")),  // not UTF-8
      signedWith(header, b64url("{\"sub\":\"a\",\"sub\":\"b\"}")),
      signedWith(header, b64url("{\"sub\":\"\\ud800\"}")),  // lone surrogate
      signedWith(header, ""),
      std::string("\0.\0.\0", 5),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(v.verifyConnect(bad[i], kNow).status, TokenStatus::Invalid) << "case " << i << ": " << bad[i];
    EXPECT_EQ(v.verifySubscribe(bad[i], kNow).status, TokenStatus::Invalid) << "case " << i;
  }
  // Non-canonical base64url: unused low bits of the last symbol set.
  std::string sig = b64url(hmacSign("HS256", kSecret, header + "." + payload));  // 43 chars: 2 unused bits
  ASSERT_EQ(sig.size() % 4, 3u);
  sig.back() = static_cast<char>(sig.back() + 1);
  EXPECT_EQ(v.verifyConnect(header + "." + payload + "." + sig, kNow).reason, "malformed token: bad base64url");

  // Deeply nested JSON is refused, not recursed into.
  std::string deep = "{\"info\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_EQ(v.verifyConnect(hsToken(deep), kNow).status, TokenStatus::Invalid);
}

TEST_F(AuthTokenTest, SizeCap) {
  TokenVerifier v(hmacConfig());
  auto withInfo = [&](size_t n) { return hsToken(R"({"sub":"42","info":")" + std::string(n, 'x') + "\"}"); };
  std::string fits = withInfo(11000), huge = withInfo(13000);
  ASSERT_LE(fits.size(), 16384u);
  ASSERT_GT(huge.size(), 16384u);
  EXPECT_EQ(v.verifyConnect(fits, kNow).status, TokenStatus::Ok);
  EXPECT_EQ(v.verifyConnect(huge, kNow).reason, "token too long");
  EXPECT_EQ(v.verifyConnect(std::string(1 << 20, 'A'), kNow).status, TokenStatus::Invalid);
}

TEST_F(AuthTokenTest, RandomMutationsNeverPass) {
  TokenVerifier v(hmacConfig());
  std::string good = hsToken(R"({"sub":"42","info":{"a":[1,2,{"b":null}]},"channels":["x"]})");
  std::mt19937 rng(12345);
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[pos] = static_cast<char>(rng() % 256); break;
        case 1: t.erase(pos, 1 + rng() % 8); break;
        default: t.insert(pos, 1, "A.-_{\"\\"[rng() % 7]); break;
      }
      if (t.empty()) t = "x";
    }
    if (t == good) continue;
    EXPECT_NE(v.verifyConnect(t, kNow).status, TokenStatus::Ok) << t;
    EXPECT_NE(v.verifySubscribe(t, kNow).status, TokenStatus::Ok) << t;
  }
}

// ------------------------------------------------------------ audience, issuer

TEST_F(AuthTokenTest, AudienceAndIssuer) {
  ClientConfig cfg = hmacConfig();
  cfg.token_audience = "switchboard";
  cfg.token_issuer = "https://auth.example";
  TokenVerifier v(cfg);
  auto check = [&](const std::string& claims) { return v.verifyConnect(hsToken(claims), kNow); };
  const std::string iss = R"("iss":"https://auth.example")";
  EXPECT_EQ(check("{" + iss + R"(,"aud":"switchboard"})").status, TokenStatus::Ok);
  EXPECT_EQ(check("{" + iss + R"(,"aud":["other","switchboard"]})").status, TokenStatus::Ok);
  EXPECT_EQ(check("{" + iss + R"(,"aud":"other"})").reason, "wrong audience");
  EXPECT_EQ(check("{" + iss + R"(,"aud":[]})").reason, "wrong audience");
  EXPECT_EQ(check("{" + iss + "}").reason, "missing audience");
  EXPECT_EQ(check("{" + iss + R"(,"aud":5})").status, TokenStatus::Invalid);
  EXPECT_EQ(check(R"({"aud":"switchboard","iss":"https://evil.example"})").reason, "wrong issuer");
  EXPECT_EQ(check(R"({"aud":"switchboard"})").reason, "missing issuer");
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"channel":"c","aud":"other",)" + iss + "}"), kNow).reason,
            "wrong audience");

  // Not configured: not required, but still type-checked.
  TokenVerifier open(hmacConfig());
  EXPECT_EQ(open.verifyConnect(hsToken(R"({"aud":"anything","iss":"anyone"})"), kNow).status, TokenStatus::Ok);
  EXPECT_EQ(open.verifyConnect(hsToken(R"({"aud":{"x":1}})"), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(open.verifyConnect(hsToken(R"({"iss":1})"), kNow).status, TokenStatus::Invalid);
}

// ------------------------------------------------------------ claims

TEST_F(AuthTokenTest, ConnectClaims) {
  TokenVerifier v(hmacConfig());
  auto r = v.verifyConnect(
      hsToken(R"({ "sub" : "caf\u00e9 \"42\"", "exp": 1700003600, "iat": 1699999000,
                   "info": { "name" : "Ann Lee", "tags": [ 1, 2.5e3, true, null ] },
                   "channels": ["news", "chat:\u00e9", "$private"], "unknown": {"ignored": [1]} })"),
      kNow);
  ASSERT_EQ(r.status, TokenStatus::Ok) << r.reason;
  EXPECT_EQ(r.claims.user, "caf\xc3\xa9 \"42\"");
  EXPECT_EQ(r.claims.exp, 1700003600);
  EXPECT_EQ(r.claims.info, R"({"name":"Ann Lee","tags":[1,2.5e3,true,null]})");
  EXPECT_EQ(r.claims.channels, (std::vector<std::string>{"news", "chat:\xc3\xa9", "$private"}));

  auto anonymous = v.verifyConnect(hsToken(R"({"info":null,"sub":null,"channels":null})"), kNow);
  ASSERT_EQ(anonymous.status, TokenStatus::Ok) << anonymous.reason;
  EXPECT_EQ(anonymous.claims.user, "");
  EXPECT_EQ(anonymous.claims.info, "");
  EXPECT_TRUE(anonymous.claims.channels.empty());
  EXPECT_EQ(v.verifyConnect(hsToken(R"({"info":"text"})"), kNow).claims.info, "\"text\"");
  EXPECT_EQ(v.verifyConnect(hsToken(R"({"sub":"\ud83d\ude00"})"), kNow).claims.user, "\xf0\x9f\x98\x80");

  // Centrifugo's expire_at decides when the connection ends (0 = never).
  EXPECT_EQ(v.verifyConnect(hsToken(R"({"exp":1700003600,"expire_at":1800000000})"), kNow).claims.exp, 1800000000);
  EXPECT_EQ(v.verifyConnect(hsToken(R"({"exp":1700003600,"expire_at":0})"), kNow).claims.exp, 0);
  EXPECT_EQ(v.verifyConnect(hsToken(R"({"exp":1,"expire_at":1800000000})"), kNow).status, TokenStatus::Expired);
}

TEST_F(AuthTokenTest, WrongClaimTypesAreInvalid) {
  TokenVerifier v(hmacConfig());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"sub":42})", "claim \"sub\" must be a string"},
      {R"({"exp":"1700003600"})", "claim \"exp\" must be a number"},
      {R"({"exp":1e300})", "claim \"exp\" must be a number of seconds in range"},
      {R"({"exp":99999999999999999999})", "claim \"exp\" must be a number of seconds in range"},
      {R"({"nbf":true})", "claim \"nbf\" must be a number"},
      {R"({"iat":"now"})", "claim \"iat\" must be a number"},
      {R"({"channels":"news"})", "claim \"channels\" must be an array of strings"},
      {R"({"channels":["news",1]})", "claim \"channels\" must be an array of strings"},
      {R"({"channels":[["news"]]})", "claim \"channels\" must be an array of strings"},
      {R"({"expire_at":1.5})", "claim \"expire_at\" must be an integer"},
      {R"({"jti":1})", "claim \"jti\" must be a string"},
      {R"({"channel":"news"})", "connection token must not carry a \"channel\" claim"},
  };
  for (const auto& [claims, reason] : cases) {
    auto r = v.verifyConnect(hsToken(claims), kNow);
    EXPECT_EQ(r.status, TokenStatus::Invalid) << claims;
    EXPECT_EQ(r.reason, reason) << claims;
  }
}

TEST_F(AuthTokenTest, SubscribeClaims) {
  TokenVerifier v(hmacConfig());
  auto r = v.verifySubscribe(
      hsToken(R"({"sub":"42","channel":"$chat:room","client":"c-1","exp":1700003600,"info":{"role": "mod"}})"), kNow);
  ASSERT_EQ(r.status, TokenStatus::Ok) << r.reason;
  EXPECT_EQ(r.claims.user, "42");
  EXPECT_EQ(r.claims.channel, "$chat:room");
  EXPECT_EQ(r.claims.client, "c-1");
  EXPECT_EQ(r.claims.exp, 1700003600);
  EXPECT_EQ(r.claims.info, R"({"role":"mod"})");

  auto minimal = v.verifySubscribe(hsToken(R"({"channel":"news"})"), kNow);
  ASSERT_EQ(minimal.status, TokenStatus::Ok) << minimal.reason;
  EXPECT_EQ(minimal.claims.user, "");
  EXPECT_EQ(minimal.claims.client, "");
  EXPECT_EQ(minimal.claims.exp, 0);
  EXPECT_EQ(minimal.claims.info, "");

  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"sub":"42"})"), kNow).reason,
            "subscription token needs a \"channel\" claim");
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"channel":""})"), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"channel":5})"), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"channel":"news","client":5})"), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifySubscribe(hsToken(R"({"channel":"news","exp":1700000000})"), kNow).status, TokenStatus::Expired);
  EXPECT_EQ(v.verifySubscribe(esToken(R"({"channel":"news"})", ec256_), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(TokenVerifier(ecConfig(ec256_)).verifySubscribe(esToken(R"({"channel":"news"})", ec256_), kNow).status,
            TokenStatus::Ok);
}

// ------------------------------------------------------------ makeHs256Token

TEST_F(AuthTokenTest, MakeHs256TokenRoundTrip) {
  TokenVerifier v(hmacConfig());
  std::string token = makeHs256Token(kSecret, "42", kNow, 3600, R"({ "name": "Ann" })", {"news", "chat:1"});
  auto r = v.verifyConnect(token, kNow);
  ASSERT_EQ(r.status, TokenStatus::Ok) << r.reason;
  EXPECT_EQ(r.claims.user, "42");
  EXPECT_EQ(r.claims.exp, kNow + 3600);
  EXPECT_EQ(r.claims.info, R"({"name":"Ann"})");
  EXPECT_EQ(r.claims.channels, (std::vector<std::string>{"news", "chat:1"}));
  EXPECT_EQ(v.verifyConnect(token, kNow + 3600).status, TokenStatus::Expired);

  // A standard token: libjwt decodes it with the secret and sees the claims.
  jwt_t* decoded = nullptr;
  ASSERT_EQ(jwt_decode(&decoded, token.c_str(), reinterpret_cast<const unsigned char*>(kSecret.data()),
                       static_cast<int>(kSecret.size())),
            0);
  EXPECT_EQ(jwt_get_alg(decoded), JWT_ALG_HS256);
  EXPECT_STREQ(jwt_get_grant(decoded, "sub"), "42");
  EXPECT_EQ(jwt_get_grant_int(decoded, "iat"), kNow);
  jwt_free(decoded);

  auto forever = v.verifyConnect(makeHs256Token(kSecret, "", kNow, 0), kNow + 1'000'000);
  ASSERT_EQ(forever.status, TokenStatus::Ok);
  EXPECT_EQ(forever.claims.user, "");
  EXPECT_EQ(forever.claims.exp, 0);
  EXPECT_EQ(forever.claims.info, "");
  EXPECT_EQ(v.verifyConnect(makeHs256Token("other", "42", kNow, 60), kNow).reason, "bad signature");
  auto quoted = v.verifyConnect(makeHs256Token(kSecret, "a\"b\\c\n", kNow, 60, "[1]", {"x\"y"}), kNow);
  ASSERT_EQ(quoted.status, TokenStatus::Ok) << quoted.reason;
  EXPECT_EQ(quoted.claims.user, "a\"b\\c\n");
  EXPECT_EQ(quoted.claims.channels, std::vector<std::string>{"x\"y"});
}

TEST_F(AuthTokenTest, MakeHs256TokenRejectsBadInput) {
  EXPECT_THROW(makeHs256Token("", "42", kNow, 60), std::invalid_argument);
  EXPECT_THROW(makeHs256Token(kSecret, "42", kNow, -1), std::invalid_argument);
  EXPECT_THROW(makeHs256Token(kSecret, "42", kNow, 60, "{"), std::invalid_argument);
  EXPECT_THROW(makeHs256Token(kSecret, "42", kNow, 60, "nope"), std::invalid_argument);
  // Not one JSON value: must not splice other claims into the token.
  EXPECT_THROW(makeHs256Token(kSecret, "42", kNow, 60, R"(1,"sub":"admin")"), std::invalid_argument);
  EXPECT_THROW(makeHs256Token(kSecret, "\xff", kNow, 60), std::invalid_argument);
}

// ------------------------------------------------------------ keys

TEST_F(AuthTokenTest, KeysFromFilesAndCertificates) {
  auto dir = std::filesystem::temp_directory_path() / ("sb-auth-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto rsaPath = dir / "rsa.pem", ecPath = dir / "ec.pem";
  std::ofstream(rsaPath) << publicPem(rsa_);
  std::ofstream(ecPath) << certificatePem(ec256_);
  ClientConfig cfg;
  cfg.token_rsa_public_key = rsaPath.string();
  cfg.token_ecdsa_public_key = ecPath.string();
  TokenVerifier v(cfg);
  EXPECT_EQ(v.verifyConnect(rsToken(kClaims, rsa_), kNow).status, TokenStatus::Ok);
  EXPECT_EQ(v.verifyConnect(esToken(kClaims, ec256_), kNow).status, TokenStatus::Ok);
  std::filesystem::remove_all(dir);

  ClientConfig inlineCert;
  inlineCert.token_rsa_public_key = "\n  " + certificatePem(rsa_);  // leading space, as in a TOML multi-line string
  EXPECT_EQ(TokenVerifier(inlineCert).verifyConnect(rsToken(kClaims, rsa_), kNow).status, TokenStatus::Ok);
}

TEST_F(AuthTokenTest, KeyErrorsNameTheKey) {
  const std::string rsaKey = "config: client.token_rsa_public_key: ";
  const std::string ecKey = "config: client.token_ecdsa_public_key: ";
  ClientConfig c;

  c = {};
  c.token_rsa_public_key = "/nonexistent/key.pem";
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(rsaKey), HasSubstr("/nonexistent/key.pem")));

  c = {};
  c.token_rsa_public_key = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(rsaKey), HasSubstr("cannot parse")));

  c = {};
  c.token_rsa_public_key = publicPem(ec256_);
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(rsaKey), HasSubstr("the key is EC, not RSA")));

  c = {};
  c.token_rsa_public_key = privatePem(rsa_);
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(rsaKey), HasSubstr("private key")));

  c = {};
  Pkey small = generateRsa(1024);
  c.token_rsa_public_key = publicPem(small.get());
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(rsaKey), HasSubstr("1024 bits")));

  c = {};
  c.token_ecdsa_public_key = publicPem(rsa_);
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(ecKey), HasSubstr("the key is RSA, not EC")));

  c = {};
  Pkey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed);
  c.token_ecdsa_public_key = publicPem(ed.get());
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(ecKey), HasSubstr("Ed25519")));

  c = {};
  Pkey k1 = generateEc("secp256k1");
  c.token_ecdsa_public_key = publicPem(k1.get());
  EXPECT_THAT(configErrorOf(c), AllOf(StartsWith(ecKey), HasSubstr("unsupported curve secp256k1")));

  c = {};
  c.token_ecdsa_public_key = "not a key and not a file";
  EXPECT_THAT(configErrorOf(c), StartsWith(ecKey));
  EXPECT_EQ(ERR_peek_error(), 0u) << "OpenSSL error queue left dirty";
}

TEST_F(AuthTokenTest, NoKeysMeansEveryTokenIsInvalid) {
  TokenVerifier v(ClientConfig{});
  EXPECT_FALSE(v.enabled());
  EXPECT_EQ(v.verifyConnect(hsToken(kClaims), kNow).status, TokenStatus::Invalid);
  EXPECT_EQ(v.verifyConnect(hsToken(kClaims, ""), kNow).status, TokenStatus::Invalid);
}

TEST_F(AuthTokenTest, ConcurrentVerification) {
  ClientConfig all = hmacConfig();
  all.token_rsa_public_key = publicPem(rsa_);
  all.token_ecdsa_public_key = publicPem(ec256_);
  const TokenVerifier v(all);
  const std::vector<std::string> tokens = {hsToken(kClaims), rsToken(kClaims, rsa_), esToken(kClaims, ec256_),
                                           hsToken(kClaims, "wrong")};
  std::atomic<int> ok{0}, invalid{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto r = v.verifyConnect(tokens[static_cast<size_t>(i + t) % tokens.size()], kNow);
        (r.status == TokenStatus::Ok ? ok : invalid)++;
        if (r.status == TokenStatus::Ok && r.claims.user != "42") invalid += 1000;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 300);
  EXPECT_EQ(invalid.load(), 100);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
