#pragma once
// A client-protocol session (core::ClientSession) carried by an open HTTP
// response (HttpStream): the server-to-client half of the emulation
// transports `sse` and `http_stream` (their client-to-server half is POST
// /emulation, through the EmulationRegistry), and the whole of the
// unidirectional `uni_sse` and `uni_http_stream` (docs/transports.md).
//
// Framing is SessionFraming's. A disconnect is a disconnect push, then the
// end of the stream. Pings are the session's own ("{}" every
// client.ping_interval; an emulation client answers through /emulation, a
// unidirectional one does not answer).
//
// Fan-out: a publication's push is framed once per worker (Hub::encoded with
// encodeEmulationEvent / encodeUniEvent) and every stream queues a reference
// to a slice of that buffer: nothing is allocated per delivery.
#include <memory>
#include <string>
#include <string_view>

#include "core/ClientSession.h"
#include "net/EventLoop.h"
#include "transport/HttpStream.h"
#include "transport/SessionFraming.h"

namespace sb::transport {

class EmulationRegistry;

// What differs between the four streaming transports.
struct SessionStreamKind {
  const char* name;  // the transport's name in logs and metrics
  StreamFraming framing;
  bool unidirectional;
  const char* contentType;
};
inline constexpr SessionStreamKind kSseEmulation{"sse", StreamFraming::Sse, false, "text/event-stream; charset=utf-8"};
inline constexpr SessionStreamKind kHttpStreamEmulation{"http_stream", StreamFraming::Ndjson, false,
                                                        "application/x-ndjson"};
inline constexpr SessionStreamKind kUniSse{"uni_sse", StreamFraming::Sse, true, "text/event-stream; charset=utf-8"};
inline constexpr SessionStreamKind kUniHttpStream{"uni_http_stream", StreamFraming::Ndjson, true,
                                                  "application/x-ndjson"};

class SessionStream final : public core::SessionTransport, public StreamSource {
 public:
  // On worker `worker`, whose loop is `loop` (the connection's).
  // `kind` must be one of the constants above. Emulation kinds pass the
  // registry and the session id the client will address; the session is
  // registered while the stream is open. Unidirectional kinds pass neither.
  SessionStream(core::Node& node, net::EventLoop& loop, size_t worker, const SessionStreamKind& kind,
                std::shared_ptr<EmulationRegistry> registry = nullptr, std::string emulationSession = {});
  ~SessionStream() override;
  SessionStream(const SessionStream&) = delete;
  SessionStream& operator=(const SessionStream&) = delete;

  // Loop thread, once the stream is open. Commands from the client: the
  // stream's own request (the connect command) or a POST /emulation.
  void receive(std::string_view commands) { session_.handleMessage(commands); }
  // Unidirectional kinds: the connect request of the stream's request.
  void connect(protocol::ConnectRequest req) { session_.connectUnidirectional(std::move(req)); }

  // StreamSource
  void onStreamOpen(StreamSink& sink) override;
  // The session's timer (the connection's, lent through the sink: the
  // stream has no heartbeat of its own, the session pings).
  void onHeartbeat(StreamSink&) override { session_.timerFired(); }
  void onStreamClosed() override;
  void onServerShutdown(StreamSink& sink) override;
  // A disconnect push 3008 "slow", as on a WebSocket.
  void onSlowConsumer(StreamSink& sink) override;

  // core::SessionTransport
  void sendText(std::string_view text) override;
  void sendShared(const core::ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) override;
  void close(uint16_t code, std::string_view reason) override;
  net::EventLoop& loop() override { return loop_; }
  size_t workerIndex() const override { return worker_; }
  void armTimer(uint64_t delayMs) override {
    if (sink_) sink_->armTimer(delayMs);
  }
  // After the stream ended the timer is the connection's linger: not ours.
  void cancelTimer() override {
    if (sink_) sink_->cancelTimer();
  }
  const char* name() const override { return kind_->name; }
  std::string_view emulationSession() const override { return emulationSession_; }
  bool unidirectional() const override { return kind_->unidirectional; }

 private:
  core::Node& node_;
  net::EventLoop& loop_;
  size_t worker_;
  const SessionStreamKind* kind_;
  StreamSink* sink_ = nullptr;  // set by onStreamOpen, cleared by onStreamClosed
  std::shared_ptr<EmulationRegistry> registry_;
  std::string emulationSession_;
  core::ClientSession session_;  // last: destroyed first, while the members it uses live
};

}  // namespace sb::transport
