#pragma once
// A response that stays open and streams: the body of a plain SSE stream
// today, later the Centrifugo `sse`/`http_stream` emulation and the
// unidirectional SSE/HTTP-stream transports. It knows bytes and the
// connection's life, not the format of what it carries: the StreamSource that
// owns the stream's content writes framed bytes through it.
//
// Framing: close-delimited (RFC 9112 §6.3: no Content-Length, no chunked
// encoding, `Connection: close`). The stream only ends when the connection
// does, so chunking would add a per-write size line and buy nothing; without
// it the bytes a source queues are exactly the bytes on the wire, so one
// encoded event can be shared by every receiver (no per-connection chunk
// header), and HTTP/1.0 clients work too.
//
// Life: a route validates the request, queues the head (HttpStream::head),
// creates the stream and hands it to HttpSession::upgrade; the connection
// then belongs to the stream. (A plain stream whose positions a remote
// broker reads later is handed over first, with no timer, and queues the head
// and start()s once they arrive, or writes an error response and end()s.) (A long-poll source instead writes one whole
// response when it is ready, then ends the stream.) The source is told once, through
// onStreamClosed, when the stream ends for any reason (client gone, write
// error, slow consumer, server shutdown, end()).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/Connection.h"
#include "net/SharedBuffer.h"

namespace sb::transport {

// Where a streaming body goes. HttpStream on a connection; tests capture.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues bytes [offset, offset+len) of a shared buffer (no copy).
  virtual void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) = 0;
  void write(const net::SharedBuffer::Ref& buf) { write(buf, 0, buf->size()); }
  // Queues a copy of `bytes` (not for the fan-out path).
  virtual void writeCopy(std::string_view bytes) = 0;
  // False once the stream has ended: writes are dropped.
  virtual bool open() const = 0;
  // Ends the stream from the server side once what is queued is sent.
  virtual void end() = 0;
  // The connection's one timer, lent to a source with deadlines of its own
  // (a protocol session) on a stream without heartbeat: when it fires, the
  // source's onHeartbeat runs. A sink without a timer (a test capture)
  // ignores it.
  virtual void armTimer(uint64_t delayMs) {}
  virtual void cancelTimer() {}
};

// What a stream carries: the owner of its content.
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // The stream is live: write the opening bytes.
  virtual void onStreamOpen(StreamSink& sink) = 0;
  // Every heartbeat interval while the stream is open: write a keep-alive
  // (SSE comment, empty chunk, ...) or end the stream (expired credentials).
  // Also when a timer the source armed (StreamSink::armTimer) fires.
  virtual void onHeartbeat(StreamSink& sink) = 0;
  // Called once when the stream ends; nothing may be written after it.
  virtual void onStreamClosed() = 0;
  // The server is draining: say goodbye (e.g. a disconnect push) and end
  // the stream. The default just ends it.
  virtual void onServerShutdown(StreamSink& sink) { sink.end(); }
  // The client does not read (its unsent data passed server.write_queue_limit):
  // nothing more is queued but a short goodbye (a disconnect event, at most
  // net::Connection::kGoodbyeBytes), after what is queued; then the stream
  // ends. The default just ends it.
  virtual void onSlowConsumer(StreamSink& sink) { sink.end(); }
};

struct HttpStreamOptions {
  uint64_t heartbeatMs = 15000;  // 0 = no heartbeat (the source may arm the timer itself)
  // Bytes a client may send after its request before it is dropped (the
  // stream reads nothing; this only bounds a misbehaving client's input).
  size_t maxIgnoredInput = 4096;
};

class HttpStream final : public net::ProtocolHandler, public StreamSink {
 public:
  HttpStream(net::Connection& conn, std::unique_ptr<StreamSource> source, const HttpStreamOptions& opts);
  ~HttpStream() override;
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // The response head of a close-delimited stream: 200, `contentType`,
  // Cache-Control: no-cache, X-Accel-Buffering: no (nginx would otherwise
  // buffer the stream), Connection: close, then `extraHeaders` (each line
  // ending in "\r\n").
  static std::string head(std::string_view contentType, std::string_view extraHeaders = {});

  // Opens the stream (the route queued the head already): the source writes
  // its opening bytes and the heartbeat starts. Call once.
  void start();
  // Ends the stream from the server side: queued bytes are flushed, then the
  // connection closes. The source is told (onStreamClosed) now.
  void end() override;
  // Instead of opening (no head was sent yet): answers `status` with an error
  // JSON naming `message` and the `extra` headers (CORS), then ends.
  void refuse(int status, const std::string& message,
              const std::vector<std::pair<std::string, std::string>>& extra);

  // StreamSink
  void write(const net::SharedBuffer::Ref& buf, size_t offset, size_t len) override;
  using StreamSink::write;
  void writeCopy(std::string_view bytes) override;
  bool open() const override { return !ended_ && conn_.isOpen(); }
  void armTimer(uint64_t delayMs) override;
  void cancelTimer() override;

  // net::ProtocolHandler
  void onData(net::Connection& c, uint8_t* data, size_t len) override;
  void onTimer(net::Connection& c) override;
  void onShutdown(net::Connection& c) override;
  void onDisconnect(net::Connection& c) override;
  void onSlowConsumer(net::Connection& c) override;
  const char* name() const override { return "http-stream"; }

 private:
  void notifyClosed();

  net::Connection& conn_;
  std::unique_ptr<StreamSource> source_;
  HttpStreamOptions opts_;
  size_t ignoredInput_ = 0;
  bool ended_ = false;
};

}  // namespace sb::transport
