#include "transport/SessionFraming.h"

#include <openssl/rand.h>

#include <cstring>

#include "protocol/Codec.h"
#include "protocol/Json.h"

namespace sb::transport {

void appendFramed(std::string& out, StreamFraming framing, bool unwrap, std::string_view text) {
  bool any = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    if (unwrap) line = protocol::unwrapPush(line);
    if (framing == StreamFraming::Sse) out += "data: ";
    out += line;
    out += '\n';
    any = true;
  }
  if (any && framing == StreamFraming::Sse) out += '\n';  // ends the event
}

namespace {

net::SharedBuffer::Ref sseEvent(std::string_view json) {
  net::SharedBuffer::Ref buf = net::SharedBuffer::create(kSseDataPrefix + json.size() + 2);
  uint8_t* p = buf->data();
  std::memcpy(p, "data: ", kSseDataPrefix);
  std::memcpy(p + kSseDataPrefix, json.data(), json.size());
  p[kSseDataPrefix + json.size()] = '\n';
  p[kSseDataPrefix + json.size() + 1] = '\n';
  return buf;
}

}  // namespace

net::SharedBuffer::Ref encodeEmulationEvent(const core::ChannelEvent& ev) { return sseEvent(ev.push); }

net::SharedBuffer::Ref encodeUniEvent(const core::ChannelEvent& ev) { return sseEvent(protocol::unwrapPush(ev.push)); }

net::SharedBuffer::Ref encodeUniWebSocketFrame(const core::ChannelEvent& ev) {
  return core::Hub::frameText(protocol::unwrapPush(ev.push));
}

std::string parseEmulationRequest(std::string_view body, EmulationRequest& out) {
  out = EmulationRequest{};
  std::string why;
  if (!protocol::json::validate(body, &why)) return "the body is not valid JSON: " + why;
  size_t start = body.find_first_not_of(" \t\r\n");
  if (body[start] != '{')
    return "the body must be a JSON object {\"session\":..,\"node\":..,\"data\":..}";
  size_t end = body.find_last_not_of(" \t\r\n");
  protocol::json::ObjectReader r(body.substr(start, end - start + 1));
  protocol::json::Member m;
  bool hasData = false;
  while (r.next(m)) {
    std::string* field = m.key == "session" ? &out.session : m.key == "node" ? &out.node : m.key == "data" ? &out.data
                                                                                                           : nullptr;
    if (!field || m.type == protocol::json::Type::Null) continue;
    auto value = m.type == protocol::json::Type::String ? protocol::json::asString(m.raw) : std::nullopt;
    if (!value) {
      return m.key == "data" ? "\"data\" must be a JSON string holding the commands (the JSON protocol)"
                             : "\"" + m.key + "\" must be a string";
    }
    *field = std::move(*value);
    if (m.key == "data") hasData = true;
  }
  if (!r.ok()) return "the body is not a valid object: " + r.error();
  if (out.session.empty()) return "\"session\" is missing: the session id from the connect reply";
  if (!hasData || out.data.empty()) return "\"data\" is missing: the commands to deliver";
  return {};
}

bool newEmulationSession(std::string& out) {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) return false;
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  out.clear();
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return true;
}

}  // namespace sb::transport
