// Client side of an EventSource (Server-Sent Events) stream, as far as a
// load generator needs it: the GET request, the check of the response head,
// and a streaming decoder for `Transfer-Encoding: chunked` bodies so that the
// bytes handed on are exactly the event stream, whatever the chunking (a
// chunk-size line can never split or fake a publication stamp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http_head.h"
#include "url.h"

namespace sbbench {

// "GET target HTTP/1.1" with Accept: text/event-stream and the extra headers.
std::string build_sse_request(const WsUrl& url, std::string_view target, const std::vector<std::string>& extra_headers);

// Checks for "HTTP/1.x 200" with Content-Type text/event-stream; notes chunking.
HttpHeadResult parse_sse_response(std::string_view buf);

// Streaming decoder of a chunked body: feed() hands the data bytes of every
// chunk to sink.on_body(p, n) and skips the size lines, extensions and CRLFs.
// Returns false on a malformed size line (see error()); end() is true once the
// last (zero-size) chunk was seen.
class ChunkedDecoder {
 public:
  template <class Sink>
  bool feed(const uint8_t* p, size_t n, Sink& sink);
  bool end() const { return state_ == State::kEnd; }
  const char* error() const { return error_; }
  void reset() { *this = ChunkedDecoder{}; }

 private:
  enum class State : uint8_t { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kEnd };
  State state_ = State::kSize;
  uint8_t digits_ = 0;
  uint64_t left_ = 0;
  const char* error_ = nullptr;
};

template <class Sink>
bool ChunkedDecoder::feed(const uint8_t* p, size_t n, Sink& sink) {
  const uint8_t* end = p + n;
  while (p < end) {
    if (error_) return false;
    switch (state_) {
      case State::kSize: {
        uint8_t c = *p++;
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v >= 0) {
          if (++digits_ > 15) error_ = "chunk size too large";
          left_ = left_ * 16 + uint64_t(v);
        } else if (digits_ == 0) {
          error_ = "chunk size line without a size";
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kExtension;
        } else if (c == '\n') {
          state_ = left_ == 0 ? State::kTrailer : State::kData;
        } else {
          error_ = "bad character in a chunk size line";
        }
        break;
      }
      case State::kExtension:
        if (*p++ == '\n') state_ = left_ == 0 ? State::kTrailer : State::kData;
        break;
      case State::kSizeLf:
        if (*p++ != '\n') error_ = "chunk size line not ended by CRLF";
        else state_ = left_ == 0 ? State::kTrailer : State::kData;
        break;
      case State::kData: {
        size_t take = size_t(end - p) < left_ ? size_t(end - p) : size_t(left_);
        sink.on_body(p, take);
        p += take;
        left_ -= take;
        if (left_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (*p == '\r') {
          ++p;
          state_ = State::kDataLf;
        } else if (*p == '\n') {
          ++p;
          state_ = State::kSize;
          digits_ = 0;
        } else {
          error_ = "chunk data not followed by CRLF";
        }
        break;
      case State::kDataLf:
        if (*p++ != '\n') error_ = "chunk data not followed by CRLF";
        state_ = State::kSize;
        digits_ = 0;
        break;
      case State::kTrailer:
        // Trailer fields are ignored; the stream is over.
        state_ = State::kEnd;
        p = end;
        break;
      case State::kEnd: p = end; break;
    }
  }
  return error_ == nullptr;
}

}  // namespace sbbench
