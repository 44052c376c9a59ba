#include "ws_proto.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace sbbench {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains_token(std::string_view list, std::string_view token) {
  // Comma-separated header value, e.g. "keep-alive, Upgrade".
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

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

HandshakeResult parse_upgrade_response(std::string_view buf, std::string_view expected_accept) {
  HandshakeResult r;
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > 16384) {
      r.status = HandshakeResult::kBadHeaders;
      r.error = "response head larger than 16 KiB";
    }
    return r;
  }
  r.consumed = end + 4;
  std::string_view head = buf.substr(0, end);
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 101 Switching Protocols"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
    r.status = HandshakeResult::kBadHeaders;
    r.error = "malformed status line";
    return r;
  }
  std::string_view code = status_line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    r.status = HandshakeResult::kBadHeaders;
    r.error = "malformed status code";
    return r;
  }
  r.http_status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (r.http_status != 101) {
    r.status = HandshakeResult::kBadStatus;
    r.error = "HTTP " + std::string(status_line.substr(9));
    return r;
  }
  bool upgrade = false, connection = false, accept = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "upgrade")) upgrade = iequals(value, "websocket");
    else if (iequals(name, "connection")) connection = icontains_token(value, "upgrade");
    else if (iequals(name, "sec-websocket-accept")) accept = value == expected_accept;
  }
  if (!upgrade || !connection || !accept) {
    r.status = HandshakeResult::kBadHeaders;
    r.error = !upgrade ? "missing Upgrade: websocket" : !connection ? "missing Connection: upgrade"
                                                                    : "wrong or missing Sec-WebSocket-Accept";
    return r;
  }
  r.status = HandshakeResult::kOk;
  return r;
}

}  // namespace sbbench
