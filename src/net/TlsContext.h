#pragma once
// The server's TLS configuration: one SSL_CTX shared by all workers (OpenSSL
// contexts are thread-safe once set up).
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

namespace sb::net {

class TlsError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TlsContext {
 public:
  // Loads a PEM certificate chain and private key; throws TlsError naming the
  // file and OpenSSL's reason.
  TlsContext(const std::string& certFile, const std::string& keyFile);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

}  // namespace sb::net
