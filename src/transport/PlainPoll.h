#pragma once
// GET /poll?channel=a[&channel=b][&since=<positions>][&timeout=<s>]: long
// polling for clients that can only make requests (curl loops, old
// proxies); docs/plain.md, "/poll". One answer per request:
//   {"publications":[{"channel":"a","offset":4,"data":{...}},...],
//    "position":"<positions>","resets":[{"channel":"a","recovered":false,...}]}
// ("resets" only when a position could not be recovered). It comes at once
// when `since` has missed publications or a reset, or with timeout=0;
// otherwise at the first live publication, or after `timeout` seconds
// (default 25, at most 60) with an empty list. Pass "position" back as
// `since` for the next poll: with history nothing is lost between polls;
// channels without history deliver only while a poll waits. Each answer
// closes its connection.
//
// The request is held by an HttpStream (client-gone detection, shutdown);
// its heartbeat is the poll timeout.
#include <string>
#include <utility>
#include <vector>

#include "core/Node.h"
#include "http/Router.h"
#include "transport/HttpStream.h"
#include "transport/PlainSubscription.h"

namespace sb::transport {

class PlainPoll final : public PlainSubscription, public StreamSource {
 public:
  // `wait`: false answers right after the catch-up even when it is empty.
  PlainPoll(core::Node& node, size_t worker, bool wait);
  // Extra headers of the answer (CORS).
  void setResponseHeaders(std::vector<std::pair<std::string, std::string>> headers) {
    responseHeaders_ = std::move(headers);
  }

  // StreamSource
  void onStreamOpen(StreamSink& sink) override;
  void onHeartbeat(StreamSink& sink) override { answer(); }  // the timeout
  void onStreamClosed() override;

 protected:
  void emitLive(size_t channel, const core::ChannelEvent& ev) override;
  void emitMissed(size_t channel, const protocol::Publication& pub) override;
  void emitReset(size_t channel, std::string_view reason) override;

 private:
  void answer();

  StreamSink* sink_ = nullptr;
  bool wait_;
  bool inCatchUp_ = false;
  std::string publications_;  // comma-separated event objects
  std::string resets_;        // comma-separated reset objects
  std::vector<std::pair<std::string, std::string>> responseHeaders_;
};

void servePlainPoll(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts);

}  // namespace sb::transport
