#pragma once
// GET /sse?channel=a&channel=b: a browser's native EventSource (or curl)
// subscribes to 1..N channels without any SDK (docs/protocol.md, "Plain
// endpoints: /sse").
//
// The stream, after the 200 head:
//   retry: <ms>                       once, the reconnect delay
//   event: subscribed                 once, before anything else
//   id: <positions>
//   data: {"channels":[{"channel":"a","epoch":"..","offset":3},{"channel":"b","offset":0}],"client":".."}
//                                     ("client" for a stream with a user token)
//
//   id: <positions>                   one per publication (unnamed: onmessage)
//   data: {"channel":"a","offset":4,"data":{...}}
//
//   event: reset                      a position that could not be recovered
//   id: <positions>
//   data: {"channel":"a","recovered":false,"epoch":"..","offset":12,"reason":"..."}
//
//   event: join / event: leave        with ?join_leave=true (or the
//   data: {"channel":"a","info":{..}}  namespace's force_push_join_leave)
//
//   event: disconnect                 the server API disconnected the user,
//   data: {"code":3011,"reason":".."}  or 3008 "slow": the client stopped
//                                     reading; the stream ends after it
//
//   : ping                            every heartbeat interval (also
//                                     refreshes the stream's presence)
//
// `id:` is the client's position in every channel (PlainEvent.h), so the
// browser's automatic reconnect (Last-Event-ID, or ?last_event_id=) resumes
// exactly where it stopped.
//
// Fan-out: the `data:` part of a live event is encoded once per publication
// per worker (Hub::encoded) and shared; the per-subscriber `id:` line is cut
// from the worker's SliceArena. Nothing is allocated per delivery.
#include <memory>
#include <string>

#include "core/Node.h"
#include "http/Router.h"
#include "transport/HttpStream.h"
#include "transport/PlainSubscription.h"

namespace sb::transport {

class PlainSseStream final : public PlainSubscription, public StreamSource {
 public:
  PlainSseStream(core::Node& node, size_t worker, const PlainOptions& opts, int64_t expiresAt);

  // StreamSource
  void onStreamOpen(StreamSink& sink) override;
  void onHeartbeat(StreamSink& sink) override;
  void onStreamClosed() override;
  // The server API's disconnect: `event: disconnect` with the code, then the end.
  void disconnectStream(uint16_t code, std::string_view reason) override;
  // The client does not read: `event: disconnect` 3008 "slow" after what is
  // queued, then the end (it reconnects with Last-Event-ID).
  void onSlowConsumer(StreamSink& sink) override;

 protected:
  void emitLive(size_t channel, const core::ChannelEvent& ev) override;
  void emitMissed(size_t channel, const protocol::Publication& pub) override;
  void emitReset(size_t channel, std::string_view reason) override;
  void emitJoinLeave(size_t channel, const core::ChannelEvent& ev) override;

 private:
  // Appends "id: <positions>\n" to `out`.
  void appendIdLine(std::string& out) const;

  PlainOptions opts_;
  int64_t expiresAt_;           // connection token exp (unix s), 0 = never
  StreamSink* sink_ = nullptr;  // set by onStreamOpen, cleared by onStreamClosed
  // While the opening burst is built, events collect here and go out as one
  // write (live events buffered while pending included, in order).
  std::string burst_;
  bool inBurst_ = false;
};

// The route: validates, subscribes, writes the head and hands the connection
// to an HttpStream carrying a PlainSseStream.
void servePlainSse(http::HttpContext& ctx, core::Node& node, const PlainOptions& opts);

}  // namespace sb::transport
