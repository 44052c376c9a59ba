#pragma once
// A gtest fixture: a one-worker Node on a DeferredBroker (answers only when
// the test runs them, as Redis answers on a later loop turn), its hub
// attached to a loop, and the last server API reply. Tests of the callers
// that must wait for the broker (the API, the control channel) derive from
// it with their own config.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "DeferredBroker.h"
#include "api/ServerApi.h"
#include "config/Config.h"
#include "core/Node.h"
#include "net/EventLoop.h"

namespace sb::testsupport {

class DeferredNodeTest : public ::testing::Test {
 protected:
  explicit DeferredNodeTest(config::Config cfg = {})
      : broker(new DeferredBroker()), node(std::move(cfg), std::unique_ptr<broker::Broker>(broker), 1) {
    node.hub().attachLoop(0, &loop);
  }

  // Calls the server API; the reply lands in `last` (when the broker answers).
  void callApi(std::string_view method, std::string_view body) {
    api::call(node, method, body, [this](api::ApiReply r) { last = std::move(r); });
  }

  net::EventLoop loop;
  DeferredBroker* broker;  // owned by node
  core::Node node;
  std::optional<api::ApiReply> last;
};

}  // namespace sb::testsupport
