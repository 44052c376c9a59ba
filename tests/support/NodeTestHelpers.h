#pragma once
// Helpers for unit tests that drive a core::Node / Hub on a test EventLoop.
#include <string>
#include <string_view>
#include <utility>

#include "core/Node.h"
#include "net/EventLoop.h"

namespace sb::testsupport {

// Runs everything posted to `loop` so far, then returns.
inline void runPosted(net::EventLoop& loop) {
  loop.post([&loop] { loop.stop(); });
  loop.run();
}

// Publishes through the node and returns the stream position; the memory
// broker answers before publish() returns.
inline protocol::StreamPosition publishNow(core::Node& node, std::string_view channel, std::string data) {
  protocol::StreamPosition pos;
  node.publish(channel, std::move(data), std::nullopt, {}, {},
               [&](broker::PublishResult r, const broker::BrokerError*) { pos = r.position; });
  return pos;
}

}  // namespace sb::testsupport
