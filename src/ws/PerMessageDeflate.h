#pragma once
// permessage-deflate (RFC 7692). The server always compresses with
// server_no_context_takeover, so one Deflater per worker can compress a message
// once and the bytes serve every receiver that negotiated the same window size
// (fan-out). Each connection owns an Inflater only when the extension was
// negotiated; its zlib state is allocated lazily and released after each
// message when the client does not keep context.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

typedef struct z_stream_s z_stream;

namespace sb::ws {

struct DeflateParams {
  bool server_no_context_takeover = true;   // always true in what we send
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;          // 8..15 (we never use 8 with zlib: 9 is the floor)
  int client_max_window_bits = 15;          // 8..15
};

struct DeflateNegotiation {
  DeflateParams params;
  std::string response;  // value for the Sec-WebSocket-Extensions response header
};

// Picks the first acceptable permessage-deflate offer from the client's
// Sec-WebSocket-Extensions header value(s) (joined with ", "). nullopt when
// there is none we can accept (no offer, or every offer has bad parameters);
// the handshake then proceeds without compression.
std::optional<DeflateNegotiation> negotiatePermessageDeflate(std::string_view offers);

enum class InflateStatus { Ok, TooBig, Error };

class Inflater {
 public:
  explicit Inflater(const DeflateParams& params);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates one chunk of a compressed message's payload, appending to `out`.
  // Fails with TooBig as soon as out.size() would pass maxSize (a zip bomb is
  // stopped after at most maxSize bytes of output).
  InflateStatus feed(const uint8_t* data, size_t len, std::string& out, size_t maxSize);
  // Ends the message (feeds the 00 00 FF FF tail of RFC 7692 §7.2.2).
  InflateStatus finish(std::string& out, size_t maxSize);
  bool allocated() const { return stream_ != nullptr; }

 private:
  // Owns a z_stream set up by inflateInit2: calls inflateEnd, then frees it.
  struct StreamDeleter {
    void operator()(z_stream* s) const noexcept;
  };
  InflateStatus run(const uint8_t* data, size_t len, std::string& out, size_t maxSize);
  void release() noexcept { stream_.reset(); }
  DeflateParams params_;
  std::unique_ptr<z_stream, StreamDeleter> stream_;
  bool ended_ = false;  // the sender closed the DEFLATE stream (BFINAL) in this message
};

class Deflater {
 public:
  Deflater();
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // Compresses a whole message with no context takeover and window size
  // `windowBits`, writing the payload (without the 00 00 FF FF tail) to `out`
  // (replaced, not appended). Returns false on a zlib failure.
  bool compress(std::string_view in, std::string& out, int windowBits = 15);

 private:
  // Owns a z_stream set up by deflateInit2: calls deflateEnd, then frees it.
  struct StreamDeleter {
    void operator()(z_stream* s) const noexcept;
  };
  std::unique_ptr<z_stream, StreamDeleter> streams_[16];  // one lazily created stream per window size
};

}  // namespace sb::ws
