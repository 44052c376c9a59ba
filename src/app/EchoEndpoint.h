#pragma once
// The debug echo endpoint ([debug] echo_path): every message goes back with
// its opcode. Used by the conformance suite and the echo benchmark.
#include "ws/WebSocketConnection.h"

namespace sb::app {

class EchoEndpoint final : public ws::WebSocketApp {
 public:
  void onMessage(ws::WebSocketConnection& ws, ws::Opcode op, std::string_view payload) override {
    ws.sendMessage(op, payload);
  }
};

}  // namespace sb::app
