#include "broker/RedisCodec.h"

#include "http/Response.h"
#include "protocol/Json.h"

namespace sb::broker::rediscodec {

namespace json = protocol::json;

namespace {

void appendString(std::string& out, std::string_view key, std::string_view value) {
  out += '"';
  out += key;
  out += "\":\"";
  out += http::jsonEscape(value);
  out += '"';
}

}  // namespace

std::string encodeClientInfo(const protocol::ClientInfo& info) {
  std::string out;
  out.reserve(48 + info.user.size() + info.client.size() + info.connInfo.size() + info.chanInfo.size());
  out += '{';
  appendString(out, "user", info.user);
  out += ',';
  appendString(out, "client", info.client);
  if (!info.connInfo.empty()) {
    out += ',';
    appendString(out, "conn_info", info.connInfo);
  }
  if (!info.chanInfo.empty()) {
    out += ',';
    appendString(out, "chan_info", info.chanInfo);
  }
  out += '}';
  return out;
}

bool decodeClientInfo(std::string_view text, protocol::ClientInfo& out) {
  json::ObjectReader reader(text);
  json::Member m;
  while (reader.next(m)) {
    std::string* field = m.key == "user"        ? &out.user
                         : m.key == "client"    ? &out.client
                         : m.key == "conn_info" ? &out.connInfo
                         : m.key == "chan_info" ? &out.chanInfo
                                                : nullptr;
    if (!field) continue;
    auto value = json::asString(m.raw);
    if (!value) return false;
    *field = std::move(*value);
  }
  return reader.ok();
}

std::string encodePublication(const protocol::Publication& pub) {
  std::string out;
  out.reserve(32 + pub.data.size() + pub.data.size() / 8);
  out += '{';
  appendString(out, "data", pub.data);
  if (pub.info) {
    out += ",\"info\":";
    out += encodeClientInfo(*pub.info);
  }
  if (!pub.tags.empty()) {
    out += ",\"tags\":{";
    bool first = true;
    for (const auto& [k, v] : pub.tags) {
      if (!first) out += ',';
      first = false;
      appendString(out, http::jsonEscape(k), v);
    }
    out += '}';
  }
  if (pub.time != 0) {
    out += ",\"time\":";
    out += std::to_string(pub.time);
  }
  out += '}';
  return out;
}

bool decodePublication(std::string_view text, protocol::Publication& out) {
  json::ObjectReader reader(text);
  json::Member m;
  bool sawData = false;
  while (reader.next(m)) {
    if (m.key == "data") {
      auto value = json::asString(m.raw);
      if (!value) return false;
      out.data = std::move(*value);
      sawData = true;
    } else if (m.key == "info") {
      protocol::ClientInfo info;
      if (!decodeClientInfo(m.raw, info)) return false;
      out.info = std::move(info);
    } else if (m.key == "tags") {
      json::ObjectReader tags(m.raw);
      json::Member tag;
      while (tags.next(tag)) {
        auto value = json::asString(tag.raw);
        if (!value) return false;
        out.tags.emplace_back(tag.key, std::move(*value));
      }
      if (!tags.ok()) return false;
    } else if (m.key == "time") {
      auto value = json::asInt(m.raw);
      if (!value) return false;
      out.time = *value;
    }
  }
  return reader.ok() && sawData;
}

std::string joinMessage(const protocol::ClientInfo& info) { return "{\"j\":" + encodeClientInfo(info) + "}"; }
std::string leaveMessage(const protocol::ClientInfo& info) { return "{\"l\":" + encodeClientInfo(info) + "}"; }

bool decodeMessage(std::string_view text, Message& out) {
  json::ObjectReader reader(text);
  json::Member m;
  bool known = false;
  while (reader.next(m)) {
    if (m.key == "o") {
      auto value = json::asUint(m.raw);
      if (!value) return false;
      out.offset = *value;
    } else if (m.key == "e") {
      auto value = json::asString(m.raw);
      if (!value) return false;
      out.epoch = std::move(*value);
    } else if (m.key == "p") {
      out.kind = Message::Kind::Publication;
      if (!decodePublication(m.raw, out.publication)) return false;
      known = true;
    } else if (m.key == "j" || m.key == "l") {
      out.kind = m.key == "j" ? Message::Kind::Join : Message::Kind::Leave;
      if (!decodeClientInfo(m.raw, out.info)) return false;
      known = true;
    }
  }
  return reader.ok() && known;
}

}  // namespace sb::broker::rediscodec
