// Fuzzes the client-frame parser and the message state machine together:
// arbitrary bytes, cut into pieces chosen by the input, go through
// WebSocketProtocol::feed() with a handler that checks the invariants the
// connection code relies on.
//
// Input layout: byte 0 = options (limit, deflate on/off, server close point),
// byte 1 = split seed, rest = wire bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ws/CloseCode.h"
#include "ws/PerMessageDeflate.h"
#include "ws/Utf8Validator.h"
#include "ws/WebSocketProtocol.h"

using namespace sb::ws;

namespace {

#define CHECK(cond) \
  do {              \
    if (!(cond)) abort(); \
  } while (0)

volatile uint8_t gSink;
// Reads every byte of a view the protocol handed us.
void touch(std::string_view s) {
  uint8_t x = 0;
  for (char c : s) x = uint8_t(x ^ uint8_t(c));
  gSink = x;
}

struct CheckingHandler : WebSocketProtocol::Handler {
  size_t maxMessage = 0;
  int closeFrames = 0;
  int closedCalls = 0;
  bool serverClosed = false;

  void onMessage(Opcode op, std::string_view p) override {
    CHECK(closedCalls == 0);
    CHECK(closeFrames == 0);  // nothing delivered once we sent Close
    CHECK(op == Opcode::Text || op == Opcode::Binary);
    CHECK(p.size() <= maxMessage);
    if (op == Opcode::Text) CHECK(Utf8Validator::isValid(p));
    touch(p);  // ASan sees any dangling view
  }
  void writeFrame(Opcode op, std::string_view p) override {
    CHECK(closedCalls == 0);
    CHECK(closeFrames == 0);  // after a Close, nothing else goes out
    CHECK(p.size() <= 125);
    CHECK(op == Opcode::Close || op == Opcode::Pong);
    if (op == Opcode::Close) {
      ++closeFrames;
      CHECK(p.size() != 1);
      if (p.size() >= 2) {
        uint16_t code = uint16_t((uint8_t(p[0]) << 8) | uint8_t(p[1]));
        CHECK(isValidReceivedCloseCode(code));
        CHECK(Utf8Validator::isValid(p.substr(2)));
      }
    }
  }
  void onClosed(uint16_t code, std::string_view reason) override {
    CHECK(closedCalls == 0);
    ++closedCalls;
    CHECK(Utf8Validator::isValid(reason));
    touch(reason);
  }
  void onPing(std::string_view p) override {
    CHECK(p.size() <= 125);
    CHECK(closedCalls == 0);
  }
  void onPong(std::string_view p) override {
    CHECK(p.size() <= 125);
    CHECK(closedCalls == 0);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t opt = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  std::vector<uint8_t> wire(data + 2, data + size);  // writable copy (unmasked in place)

  static const size_t kLimits[4] = {0, 16, 1000, 64 * 1024};
  WebSocketProtocol::Options o;
  o.max_message_size = kLimits[opt & 3];
  std::unique_ptr<Inflater> inflater;
  if (opt & 4) inflater = std::make_unique<Inflater>(DeflateParams{});
  size_t serverCloseAt = (opt & 8) ? size_t(opt >> 4) * 8 : SIZE_MAX;

  WebSocketProtocol proto(o, inflater.get());
  CheckingHandler h;
  h.maxMessage = o.max_message_size;

  size_t pos = 0;
  bool open = true;
  while (pos < wire.size()) {
    seed = seed * 1664525u + 1013904223u;
    size_t n = 1 + (seed >> 20) % 64;
    if (n > wire.size() - pos) n = wire.size() - pos;
    if (!h.serverClosed && pos >= serverCloseAt) {
      h.serverClosed = true;
      proto.close(close_code::GoingAway, "fuzz", h);
      CHECK(proto.closing() || proto.closed());
    }
    bool r = proto.feed(wire.data() + pos, n, h);
    CHECK(r == !proto.closed());
    CHECK(r == (h.closedCalls == 0));
    if (!open) CHECK(!r);  // once closed, stays closed
    open = r;
    if (!r) CHECK(proto.bufferedCapacity() == 0);
    pos += n;
  }
  CHECK(h.closeFrames <= 1);
  if (proto.closed()) CHECK(h.closedCalls == 1);
  return 0;
}
