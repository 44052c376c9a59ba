// switchboard-bench's streaming decoder of server frames (RFC 6455 §5.2):
// every length encoding, fragmented messages with control frames between the
// fragments, protocol violations, and the same events however reads cut the
// bytes. Also the masked client frames it writes.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ws_proto.h"

using namespace sbbench;

namespace {

// A server frame: unmasked, with the shortest length encoding.
std::string server_frame(uint8_t op, bool fin, const std::string& payload, uint8_t rsv = 0) {
  std::string f;
  f += char((fin ? 0x80 : 0) | rsv | op);
  if (payload.size() < 126) {
    f += char(payload.size());
  } else if (payload.size() <= 0xFFFF) {
    f += char(126);
    f += char(payload.size() >> 8);
    f += char(payload.size() & 0xFF);
  } else {
    f += char(127);
    for (int s = 56; s >= 0; s -= 8) f += char((uint64_t(payload.size()) >> s) & 0xFF);
  }
  return f + payload;
}

// What the decoder reported, as text: data messages as "T:<payload>" or
// "B:<payload>", control frames as "C<op>:<payload>", an error as "E:<why>".
struct Events {
  std::vector<std::string> list;
  std::string message;
  void on_data(const uint8_t* p, size_t n) { message.append(reinterpret_cast<const char*>(p), n); }
  void on_message_end(uint8_t op) {
    list.push_back((op == opcode::kText ? "T:" : "B:") + message);
    message.clear();
  }
  void on_control(uint8_t op, const uint8_t* p, size_t n) {
    list.push_back("C" + std::to_string(op) + ":" + std::string(reinterpret_cast<const char*>(p), n));
  }
};

std::vector<std::string> decode(const std::string& wire, const std::vector<size_t>& pieces) {
  FrameDecoder dec;
  Events ev;
  const auto* p = reinterpret_cast<const uint8_t*>(wire.data());
  size_t at = 0;
  auto feed = [&](size_t n) {
    if (!dec.feed(p + at, n, ev)) {
      ev.list.push_back(std::string("E:") + dec.error());
      return false;
    }
    at += n;
    return true;
  };
  for (size_t n : pieces) {
    if (!feed(std::min(n, wire.size() - at))) return ev.list;
  }
  feed(wire.size() - at);
  return ev.list;
}

void expect_split_independent(const std::string& wire, bool every_cut) {
  const auto whole = decode(wire, {});
  if (every_cut) {
    for (size_t cut = 0; cut <= wire.size(); ++cut) ASSERT_EQ(decode(wire, {cut}), whole) << "cut at " << cut;
  }
  std::mt19937 rng(3);
  for (int round = 0; round < 100; ++round) {
    std::vector<size_t> pieces;
    for (size_t left = wire.size(); left > 0;) {
      size_t n = std::min<size_t>(left, 1 + rng() % (round % 2 ? 4 : 3000));
      pieces.push_back(n);
      left -= n;
    }
    ASSERT_EQ(decode(wire, pieces), whole) << "round " << round;
  }
}

TEST(BenchFrameDecoder, EveryLengthEncoding) {
  for (size_t len : {size_t(0), size_t(1), size_t(125), size_t(126), size_t(65535), size_t(65536), size_t(70000)}) {
    std::string payload(len, 'a');
    for (size_t k = 0; k < len; ++k) payload[k] = char('a' + k % 26);
    std::string wire = server_frame(opcode::kText, true, payload);
    EXPECT_EQ(decode(wire, {}), std::vector<std::string>{"T:" + payload}) << len;
    expect_split_independent(wire, len < 200);
  }
}

TEST(BenchFrameDecoder, FragmentsWithControlFramesBetween) {
  std::string wire = server_frame(opcode::kBinary, false, "he") + server_frame(opcode::kPing, true, "p1") +
                     server_frame(opcode::kContinuation, false, "ll") + server_frame(opcode::kPong, true, "") +
                     server_frame(opcode::kContinuation, true, "o") + server_frame(opcode::kText, true, "{}") +
                     server_frame(opcode::kClose, true, std::string("\x03\xe8", 2) + "bye");
  EXPECT_EQ(decode(wire, {}), (std::vector<std::string>{"C9:p1", "C10:", "B:hello", "T:{}",
                                                         "C8:" + std::string("\x03\xe8", 2) + "bye"}));
  expect_split_independent(wire, true);
}

TEST(BenchFrameDecoder, ProtocolViolationsStopTheStream) {
  struct Case {
    std::string wire;
    const char* error;
  } cases[] = {
      {std::string("\x81\x82\x01\x02\x03\x04" "ab", 8), "server sent a masked frame"},
      {server_frame(opcode::kText, true, "x", 0x40), "RSV bits set without a negotiated extension"},
      {server_frame(opcode::kContinuation, true, "x"), "continuation frame without a message in progress"},
      {server_frame(opcode::kText, false, "a") + server_frame(opcode::kText, true, "b"),
       "new data frame inside a fragmented message"},
      {server_frame(opcode::kPing, false, "x"), "fragmented or oversized control frame"},
      {server_frame(opcode::kPing, true, std::string(126, 'x')), "fragmented or oversized control frame"},
      {server_frame(0x3, true, "x"), "reserved data opcode"},
      {server_frame(0xB, true, "x"), "reserved control opcode"},
      {std::string("\x82\x7f\x80\0\0\0\0\0\0\0", 10), "64-bit length with the top bit set"},
  };
  for (const auto& c : cases) {
    auto events = decode(c.wire, {});
    ASSERT_FALSE(events.empty()) << c.error;
    EXPECT_EQ(events.back(), std::string("E:") + c.error);
    expect_split_independent(c.wire, true);
  }
}

TEST(BenchFrameDecoder, ClientFramesAreMaskedAndDecodeBack) {
  for (size_t len : {size_t(0), size_t(5), size_t(125), size_t(126), size_t(300), size_t(70000)}) {
    std::string payload(len, 'q');
    for (size_t k = 0; k < len; ++k) payload[k] = char(k * 7);
    std::vector<uint8_t> frame(client_frame_size(len));
    size_t n = write_client_frame(frame.data(), opcode::kBinary, true, reinterpret_cast<const uint8_t*>(payload.data()),
                                  len, 0xA1B2C3D4u);
    ASSERT_EQ(n, frame.size());
    EXPECT_EQ(frame[0], 0x82);
    EXPECT_TRUE(frame[1] & 0x80) << "client frames are masked";
    size_t header = n - len;
    const uint8_t* mask = frame.data() + header - 4;
    std::string unmasked(len, '\0');
    for (size_t k = 0; k < len; ++k) unmasked[k] = char(frame[header + k] ^ mask[k % 4]);
    EXPECT_EQ(unmasked, payload) << len;
  }
}

}  // namespace
