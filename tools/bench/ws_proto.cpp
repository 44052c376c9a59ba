#include "ws_proto.h"

#include <openssl/evp.h>

namespace sbbench {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

std::string base64_encode(std::span<const uint8_t> in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t v = uint32_t(in[i]) << 16;
    if (rest == 2) v |= uint32_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string ws_accept_for(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
  return base64_encode(std::span<const uint8_t>(digest, len));
}

std::string make_ws_key(uint64_t r1, uint64_t r2) {
  uint8_t raw[16];
  std::memcpy(raw, &r1, 8);
  std::memcpy(raw + 8, &r2, 8);
  return base64_encode(raw);
}

std::string build_upgrade_request(const WsUrl& url, std::string_view key, std::string_view subprotocol,
                                  const std::vector<std::string>& extra_headers) {
  std::string req;
  req.reserve(256);
  req += "GET ";
  req += url.path;
  req += " HTTP/1.1\r\nHost: ";
  req += url.host_header;
  req += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  req += key;
  req += "\r\nSec-WebSocket-Version: 13\r\n";
  if (!subprotocol.empty()) {
    req += "Sec-WebSocket-Protocol: ";
    req += subprotocol;
    req += "\r\n";
  }
  for (const auto& h : extra_headers) {
    req += h;
    req += "\r\n";
  }
  req += "\r\n";
  return req;
}

HttpHeadResult parse_upgrade_response(std::string_view buf, std::string_view expected_accept) {
  std::string_view fields;
  HttpHeadResult r = parse_http_response_head(buf, 101, fields);
  if (r.status != HttpHeadResult::kOk) return r;
  bool upgrade = false, connection = false, accept = false;
  for_each_header_field(fields, [&](std::string_view name, std::string_view value) {
    if (equals_ignoring_case(name, "upgrade")) upgrade = equals_ignoring_case(value, "websocket");
    else if (equals_ignoring_case(name, "connection")) connection = lists_token(value, "upgrade");
    else if (equals_ignoring_case(name, "sec-websocket-accept")) accept = value == expected_accept;
  });
  if (!upgrade || !connection || !accept) {
    r.status = HttpHeadResult::kBadHeaders;
    r.error = !upgrade ? "missing Upgrade: websocket" : !connection ? "missing Connection: upgrade"
                                                                    : "wrong or missing Sec-WebSocket-Accept";
  }
  return r;
}

}  // namespace sbbench
