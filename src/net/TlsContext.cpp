#include "net/TlsContext.h"

#include <openssl/err.h>

namespace sb::net {

static std::string opensslReason() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return e ? buf : "unknown error";
}

TlsContext::TlsContext(const std::string& certFile, const std::string& keyFile) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw TlsError("TLS: cannot create context: " + opensslReason());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx_, certFile.c_str()) != 1) {
    std::string why = opensslReason();
    SSL_CTX_free(ctx_);
    throw TlsError("server.tls_cert: cannot load certificate chain from '" + certFile + "': " + why);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx_, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string why = opensslReason();
    SSL_CTX_free(ctx_);
    throw TlsError("server.tls_key: cannot load private key from '" + keyFile + "': " + why);
  }
  if (SSL_CTX_check_private_key(ctx_) != 1) {
    std::string why = opensslReason();
    SSL_CTX_free(ctx_);
    throw TlsError("server.tls_key: private key does not match the certificate: " + why);
  }
}

TlsContext::~TlsContext() {
  if (ctx_) SSL_CTX_free(ctx_);
}

}  // namespace sb::net
