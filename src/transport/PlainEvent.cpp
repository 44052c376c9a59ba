#include "transport/PlainEvent.h"

#include <charconv>
#include <cstring>

#include "protocol/Codec.h"
#include "protocol/Json.h"

namespace sb::transport {

void writePlainEvent(std::string& out, std::string_view channel, const protocol::Publication& pub) {
  out += "{\"channel\":";
  protocol::writeString(out, channel);
  out += ",\"offset\":";
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, pub.offset);
  out.append(digits, r.ptr);
  // Publication data is compact JSON without raw newlines (protocol/Model.h),
  // so the object stays on one line, as an SSE `data:` line requires.
  out += ",\"data\":";
  out += pub.data.empty() ? std::string_view("null") : std::string_view(pub.data);
  if (pub.info) {
    out += ",\"info\":";
    protocol::writeClientInfo(out, *pub.info);
  }
  if (!pub.tags.empty()) {
    out += ",\"tags\":{";
    bool first = true;
    for (const auto& [k, v] : pub.tags) {
      if (!first) out += ',';
      first = false;
      protocol::writeString(out, k);
      out += ':';
      protocol::writeString(out, v);
    }
    out += '}';
  }
  out += '}';
}

namespace {

// The event object between `prefix` and `suffix`, built in one scratch
// string per thread (its capacity is reused) and copied once into the shared
// buffer (once per event per worker).
template <class Finish>
net::SharedBuffer::Ref encodeWith(const core::ChannelEvent& ev, std::string_view prefix, std::string_view suffix,
                                  Finish&& finish) {
  thread_local std::string scratch;
  scratch.clear();
  scratch += prefix;
  if (ev.pub) writePlainEvent(scratch, ev.channel, *ev.pub);
  scratch += suffix;
  net::SharedBuffer::Ref buf = finish(std::string_view(scratch));
  if (scratch.capacity() > 256 * 1024) std::string().swap(scratch);
  return buf;
}

net::SharedBuffer::Ref copy(std::string_view bytes) { return net::SharedBuffer::copyOf(bytes); }

}  // namespace

net::SharedBuffer::Ref encodeSseData(const core::ChannelEvent& ev) { return encodeWith(ev, "data: ", "\n\n", copy); }

net::SharedBuffer::Ref encodePlainWsFrame(const core::ChannelEvent& ev) {
  return encodeWith(ev, {}, {}, [](std::string_view json) { return core::Hub::frameText(json); });
}

net::SharedBuffer::Ref encodePlainJson(const core::ChannelEvent& ev) { return encodeWith(ev, {}, {}, copy); }

namespace {

// The "info" object of a join/leave push, {"push":{"channel":..,"join":{"info":{..}}}}
// (protocol::writeJoinPush): the hub keeps only the encoded push, which is
// our own well-formed output.
std::string_view joinLeaveInfo(const core::ChannelEvent& ev) {
  namespace json = protocol::json;
  json::ObjectReader top(ev.push);
  json::Member m;
  while (top.next(m)) {
    if (m.key != "push" || m.type != json::Type::Object) continue;
    json::ObjectReader push(m.raw);
    json::Member p;
    while (push.next(p)) {
      if ((p.key != "join" && p.key != "leave") || p.type != json::Type::Object) continue;
      json::ObjectReader body(p.raw);
      json::Member b;
      while (body.next(b)) {
        if (b.key == "info") return b.raw;
      }
    }
  }
  return "{}";
}

// {<lead>"channel":"a","info":{...}}
void writeJoinLeave(std::string& out, const core::ChannelEvent& ev, std::string_view lead) {
  out += '{';
  out += lead;
  out += "\"channel\":";
  protocol::writeString(out, ev.channel);
  out += ",\"info\":";
  out += joinLeaveInfo(ev);
  out += '}';
}

}  // namespace

net::SharedBuffer::Ref encodeSseJoinLeave(const core::ChannelEvent& ev) {
  std::string out = ev.kind == core::ChannelEvent::Kind::Join ? "event: join\ndata: " : "event: leave\ndata: ";
  writeJoinLeave(out, ev, {});
  out += "\n\n";
  return net::SharedBuffer::copyOf(out);
}

net::SharedBuffer::Ref encodePlainWsJoinLeaveFrame(const core::ChannelEvent& ev) {
  std::string out;
  writeJoinLeave(out, ev, ev.kind == core::ChannelEvent::Kind::Join ? "\"type\":\"join\"," : "\"type\":\"leave\",");
  return core::Hub::frameText(out);
}

size_t positionListMaxSize(const std::vector<protocol::StreamPosition>& positions) {
  size_t n = 0;
  for (const auto& p : positions) n += p.epoch.size() + 1 + 20 + 1;  // epoch ':' offset ','
  return n;
}

size_t writePositionList(char* out, const std::vector<protocol::StreamPosition>& positions) {
  char* p = out;
  bool first = true;
  for (const auto& pos : positions) {
    if (!first) *p++ = ',';
    first = false;
    if (!pos.epoch.empty()) {
      std::memcpy(p, pos.epoch.data(), pos.epoch.size());
      p += pos.epoch.size();
      *p++ = ':';
    }
    p = std::to_chars(p, p + 20, pos.offset).ptr;
  }
  return size_t(p - out);
}

std::string positionList(const std::vector<protocol::StreamPosition>& positions) {
  std::string out(positionListMaxSize(positions), '\0');
  out.resize(writePositionList(out.data(), positions));
  return out;
}

std::optional<std::vector<protocol::StreamPosition>> parsePositionList(std::string_view text, size_t channels,
                                                                       std::string& error) {
  std::vector<protocol::StreamPosition> out;
  while (true) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    protocol::StreamPosition pos;
    size_t colon = part.find(':');
    std::string_view offset = part;
    if (colon != std::string_view::npos) {
      pos.epoch.assign(part.substr(0, colon));
      offset = part.substr(colon + 1);
      if (pos.epoch.empty()) {
        error = "empty epoch in part " + std::to_string(out.size() + 1);
        return std::nullopt;
      }
    }
    auto r = std::from_chars(offset.data(), offset.data() + offset.size(), pos.offset);
    if (offset.empty() || r.ec != std::errc() || r.ptr != offset.data() + offset.size()) {
      error = "bad offset in part " + std::to_string(out.size() + 1);
      return std::nullopt;
    }
    out.push_back(std::move(pos));
    if (out.size() > channels) break;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (out.size() != channels) {
    error = "it has a position for " + std::string(out.size() > channels ? "more" : std::to_string(out.size())) +
            " channel(s), the request lists " + std::to_string(channels);
    return std::nullopt;
  }
  return out;
}

}  // namespace sb::transport
