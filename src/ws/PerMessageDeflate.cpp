#include "ws/PerMessageDeflate.h"

#include "http/Request.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

namespace sb::ws {

namespace {

// ---------------------------------------------------------------------------
// Sec-WebSocket-Extensions parsing (RFC 6455 §9.1, RFC 7692 §5)
//
//   extension-list  = 1#extension
//   extension       = extension-token *( ";" extension-param )
//   extension-param = token [ "=" (token | quoted-string) ]
//
// with the implied linear whitespace of RFC 2616 around the separators, and
// the list rule's tolerance for empty elements ("a, , b").
// ---------------------------------------------------------------------------

struct Param {
  std::string_view name;
  std::string value;  // quoted-strings are unescaped here
  bool hasValue = false;
  bool valueIsToken = true;  // RFC 6455 §9.1: an unescaped quoted value must still be a token
};

struct Offer {
  std::string_view name;
  std::vector<Param> params;
};

// Tokens are compared case-insensitively. RFC 6455 only says "token"; being
// lenient on receipt cannot cause a misinterpretation here, and we always
// answer with the registered lower-case spelling.
// zlib's avail_in is 32-bit: once it has consumed its input, hand it the
// next slice of at most UINT_MAX bytes.
template <class Byte>
void refillInput(z_stream* s, const Byte*& next, size_t& left) {
  if (s->avail_in != 0 || left == 0) return;
  const size_t take = std::min<size_t>(left, UINT_MAX);
  s->next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(next));
  s->avail_in = static_cast<uInt>(take);
  next += take;
  left -= take;
}

using http::iequals;
using http::isToken;

class OfferParser {
 public:
  explicit OfferParser(std::string_view s) : s_(s) {}

  // Parses the whole header value. false on any syntax error: the offer
  // boundaries cannot be trusted after one (a stray quote can hide commas).
  bool parse(std::vector<Offer>& offers) {
    for (;;) {
      skipWs();
      if (atEnd()) return true;
      if (peek() == ',') {  // empty list element
        ++pos_;
        continue;
      }
      Offer offer;
      offer.name = token();
      if (offer.name.empty()) return false;
      for (;;) {
        skipWs();
        if (atEnd()) break;
        if (peek() == ',') {
          ++pos_;
          break;
        }
        if (peek() != ';') return false;
        ++pos_;
        skipWs();
        Param p;
        p.name = token();
        if (p.name.empty()) return false;
        skipWs();
        if (!atEnd() && peek() == '=') {
          ++pos_;
          skipWs();
          p.hasValue = true;
          if (!atEnd() && peek() == '"') {
            if (!quotedString(p.value)) return false;
            p.valueIsToken = isToken(p.value);
          } else {
            std::string_view v = token();
            if (v.empty()) return false;
            p.value.assign(v);
          }
        }
        offer.params.push_back(std::move(p));
      }
      offers.push_back(std::move(offer));
    }
  }

 private:
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void skipWs() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }
  std::string_view token() {
    size_t start = pos_;
    while (!atEnd() && http::isTokenChar(peek())) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // RFC 7230 §3.2.6 quoted-string; pos_ is at the opening DQUOTE.
  bool quotedString(std::string& out) {
    ++pos_;
    while (!atEnd()) {
      unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c == '\\') {
        if (atEnd()) return false;
        unsigned char e = static_cast<unsigned char>(s_[pos_++]);
        if (e != '\t' && (e < 0x20 || e == 0x7f)) return false;
        out.push_back(char(e));
        continue;
      }
      if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;  // CTLs are not qdtext
      out.push_back(char(c));
    }
    return false;  // unterminated
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// RFC 7692 §7.1.2.1/§7.1.2.2: "a decimal integer value without leading
// zeroes between 8 to 15, inclusive". Returns 0 when the value does not qualify.
int parseWindowBits(const Param& p) {
  if (!p.valueIsToken) return 0;
  const std::string& v = p.value;
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// Validates one permessage-deflate offer against RFC 7692 §7.1 and builds our
// response to it; nullopt when the offer must (or, for
// server_max_window_bits=8, should) be declined.
std::optional<DeflateNegotiation> acceptOffer(const Offer& offer) {
  bool seenServerNct = false, seenClientNct = false, seenServerBits = false, seenClientBits = false;
  int serverBits = 0;  // 0 = not offered
  int clientBits = 0;  // 0 = not offered or offered without a value
  for (const Param& p : offer.params) {
    if (iequals(p.name, "server_no_context_takeover")) {
      // §7.1.1.1: no value; §7.1: a duplicate parameter invalidates the offer.
      if (seenServerNct || p.hasValue) return std::nullopt;
      seenServerNct = true;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      // §7.1.1.2
      if (seenClientNct || p.hasValue) return std::nullopt;
      seenClientNct = true;
    } else if (iequals(p.name, "server_max_window_bits")) {
      // §7.1.2.1: the value is mandatory in an offer.
      if (seenServerBits || !p.hasValue) return std::nullopt;
      seenServerBits = true;
      serverBits = parseWindowBits(p);
      if (serverBits == 0) return std::nullopt;
    } else if (iequals(p.name, "client_max_window_bits")) {
      // §7.1.2.2: the value is optional in an offer ("I can honour a limit").
      if (seenClientBits) return std::nullopt;
      seenClientBits = true;
      if (p.hasValue) {
        clientBits = parseWindowBits(p);
        if (clientBits == 0) return std::nullopt;
      }
    } else {
      return std::nullopt;  // §7.1: unknown parameter
    }
  }
  // zlib cannot compress raw deflate with an 8-bit window (up to 1.2.8 it
  // silently used 9 bits, newer versions refuse 8), and a response
  // must not carry a larger server_max_window_bits than offered (§7.1.2.1),
  // so we cannot honour 8: decline this offer and let the client's fallback
  // offer (or no compression) win.
  if (serverBits == 8) return std::nullopt;

  DeflateNegotiation n;
  // §7.1.1.1 lets the server add server_no_context_takeover unasked. We
  // always do: each message is compressed from scratch, so one compressed copy
  // can be shared by every receiver.
  n.params.server_no_context_takeover = true;
  n.response = "permessage-deflate; server_no_context_takeover";
  if (seenClientNct) {
    n.params.client_no_context_takeover = true;
    n.response += "; client_no_context_takeover";
  }
  if (serverBits != 0) {
    n.params.server_max_window_bits = serverBits;
    n.response += "; server_max_window_bits=" + std::to_string(serverBits);
  }
  if (clientBits != 0) {
    // Echoing the client's own limit is always allowed (§7.1.2.2). When the
    // client offered the parameter without a value we omit it: it then uses
    // up to 15 bits, which our inflater handles.
    n.params.client_max_window_bits = clientBits;
    n.response += "; client_max_window_bits=" + std::to_string(clientBits);
  }
  return n;
}

// Output of inflate() goes through this stack buffer before being appended,
// so the message buffer only grows by what was really produced.
constexpr size_t kInflateStep = 16 * 1024;

// Appends while keeping out.capacity() <= max(current capacity, maxSize):
// std::string's own geometric growth could reach ~2 * maxSize during a zip
// bomb. Precondition: out.size() + n <= maxSize.
void appendBounded(std::string& out, const unsigned char* p, size_t n, size_t maxSize) {
  const size_t need = out.size() + n;
  if (need > out.capacity()) {
    size_t grown = out.capacity() > maxSize / 2 ? maxSize : out.capacity() * 2;
    size_t cap = std::max(need, grown);
    // reserve() on an existing string may round up to twice the old capacity
    // (libstdc++ does), so move into a fresh string reserved exactly.
    std::string bigger;
    bigger.reserve(cap);
    bigger.append(out);
    out.swap(bigger);
  }
  out.append(reinterpret_cast<const char*>(p), n);
}

// Raw DEFLATE level for outgoing messages. Z_BEST_SPEED: compression runs on
// the event-loop thread that also serves every other connection of the
// worker, and today the send path compresses once per receiver, so its CPU
// cost scales with fan-out. Measured on chat-like JSON (zlib 1.2.13): a 2 KB
// message is 510 bytes at level 1 vs 470 at level 6 (8% smaller) for ~3.7x the
// time; at 20 KB level 6 saves 23% for ~4.6x the time. Typical messages are
// small, so latency wins. If sends start sharing one compressed copy across
// receivers, level 6 becomes worth revisiting for large messages.
constexpr int kDeflateLevel = Z_BEST_SPEED;
// memLevel 8 (zlib's default): 2^(8+9) bytes of hash/pending state; 9 buys
// almost nothing for small messages and costs twice the memory.
constexpr int kDeflateMemLevel = 8;

const unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};

}  // namespace

std::optional<DeflateNegotiation> negotiatePermessageDeflate(std::string_view offers) {
  std::vector<Offer> parsed;
  // RFC 6455 §9.1 says a malformed value fails the connection; this function
  // can only decline, so a malformed header means "no compression" and the
  // handshake code decides whether to reject the request altogether.
  if (!OfferParser(offers).parse(parsed)) return std::nullopt;
  for (const Offer& o : parsed) {
    if (!iequals(o.name, "permessage-deflate")) continue;  // other extensions are not ours
    if (auto n = acceptOffer(o)) return n;                 // §5: first acceptable offer wins
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Inflater
// ---------------------------------------------------------------------------

void Inflater::StreamDeleter::operator()(z_stream* s) const noexcept {
  inflateEnd(s);
  std::default_delete<z_stream>()(s);
}

Inflater::Inflater(const DeflateParams& params) : params_(params) {}

Inflater::~Inflater() = default;  // stream_ releases the zlib state

InflateStatus Inflater::feed(const uint8_t* data, size_t len, std::string& out, size_t maxSize) {
  return run(data, len, out, maxSize);
}

InflateStatus Inflater::finish(std::string& out, size_t maxSize) {
  // RFC 7692 §7.2.2: the sender removed the 00 00 FF FF that ends a sync
  // flush; putting it back lets inflate emit everything it buffered.
  InflateStatus st = run(kTail, sizeof kTail, out, maxSize);
  if (st != InflateStatus::Ok) return st;  // run() already dropped the stream
  if (params_.client_no_context_takeover) {
    // The next message starts with an empty window, so nothing needs to
    // survive: release it and keep idle connections free of zlib memory.
    release();
  } else if (ended_ && stream_) {
    // The sender closed its DEFLATE stream with a BFINAL block (§7.2.3.4
    // permits this); its next message must start a new stream. A compressor
    // that ended its stream has no LZ77 history left to refer to either.
    inflateReset(stream_.get());
  }
  ended_ = false;
  return InflateStatus::Ok;
}

InflateStatus Inflater::run(const uint8_t* data, size_t len, std::string& out, size_t maxSize) {
  if (!stream_) {
    auto s = std::make_unique<z_stream>();  // value-initialised: zalloc/zfree/opaque = Z_NULL
    // A decoder with a larger window decodes any smaller-window stream, so
    // the window only needs to be as large as what the client may use
    // (§7.1.2.2, default 15). 8 is raised to 9 because zlib-based clients
    // that negotiated 8 really compress with 9 bits (zlib <= 1.2.8 silently
    // did so for raw deflate), and rejecting their streams would break them.
    int bits = std::clamp(params_.client_max_window_bits, 9, 15);
    if (inflateInit2(s.get(), -bits) != Z_OK) return InflateStatus::Error;
    stream_.reset(s.release());
    ended_ = false;
  }
  if (ended_) return InflateStatus::Ok;  // after BFINAL the rest of the message (the tail) is ignored
  if (out.size() > maxSize) {
    release();
    return InflateStatus::TooBig;
  }

  z_stream* s = stream_.get();
  unsigned char buf[kInflateStep];
  const uint8_t* next = data;
  size_t left = len;
  for (;;) {
    refillInput(s, next, left);
    s->next_out = buf;
    s->avail_out = sizeof buf;
    const int rc = inflate(s, Z_SYNC_FLUSH);
    const size_t produced = sizeof buf - s->avail_out;
    if (produced > 0) {
      if (produced > maxSize - out.size()) {
        // Stop before the message buffer passes the limit: a zip bomb costs
        // at most maxSize bytes of output plus this one stack buffer.
        release();
        return InflateStatus::TooBig;
      }
      appendBounded(out, buf, produced, maxSize);
    }
    if (rc == Z_STREAM_END) {
      ended_ = true;
      s->next_in = nullptr;
      s->avail_in = 0;
      return InflateStatus::Ok;
    }
    if (rc == Z_BUF_ERROR && s->avail_in == 0 && left == 0) break;  // no input left: not an error
    if (rc != Z_OK) {
      // Z_DATA_ERROR (corrupt stream, distance beyond the window), Z_NEED_DICT,
      // Z_MEM_ERROR: the connection is failed by the caller (1007/1011);
      // drop the unusable state right away.
      release();
      return InflateStatus::Error;
    }
    // inflate() returns with output space left only once it has consumed all
    // of avail_in, so this is the end of the chunk.
    if (s->avail_out != 0 && s->avail_in == 0 && left == 0) break;
  }
  // Do not leave a pointer into the caller's buffer behind.
  s->next_in = nullptr;
  return InflateStatus::Ok;
}

// ---------------------------------------------------------------------------
// Deflater
// ---------------------------------------------------------------------------

void Deflater::StreamDeleter::operator()(z_stream* s) const noexcept {
  deflateEnd(s);
  std::default_delete<z_stream>()(s);
}

Deflater::Deflater() = default;
Deflater::~Deflater() = default;

bool Deflater::compress(std::string_view in, std::string& out, int windowBits) {
  out.clear();
  // We never negotiate 8 (see acceptOffer): zlib has no 8-bit raw deflate.
  if (windowBits < 9 || windowBits > 15) return false;
  auto& slot = streams_[windowBits];
  if (!slot) {
    auto s = std::make_unique<z_stream>();
    if (deflateInit2(s.get(), kDeflateLevel, Z_DEFLATED, -windowBits, kDeflateMemLevel, Z_DEFAULT_STRATEGY) != Z_OK)
      return false;
    slot.reset(s.release());
  } else if (deflateReset(slot.get()) != Z_OK) {
    // server_no_context_takeover (RFC 7692 §7.1.1.1): every message starts
    // with an empty window, which is what makes the output shareable.
    return false;
  }
  z_stream* s = slot.get();

  // deflateBound covers the data; the sync flush adds an empty stored block
  // (at most ~6 bytes) which the slack absorbs. The loop still grows on demand.
  out.resize(deflateBound(s, static_cast<uLong>(std::min<size_t>(in.size(), ULONG_MAX))) + 16);
  size_t written = 0;
  const char* next = in.data();
  size_t left = in.size();
  for (;;) {
    refillInput(s, next, left);
    if (written == out.size()) out.resize(out.size() * 2);
    const size_t room = std::min<size_t>(out.size() - written, UINT_MAX);
    s->next_out = reinterpret_cast<Bytef*>(out.data() + written);
    s->avail_out = static_cast<uInt>(room);
    // RFC 7692 §7.2.1: end the message with a sync flush so the receiver can
    // decode all of it; only the final slice of input is flushed.
    const bool last = left == 0;
    const int rc = deflate(s, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    written += room - s->avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out.clear();
      return false;
    }
    // With Z_SYNC_FLUSH, output space left over means the flush is complete.
    if (last && s->avail_in == 0 && s->avail_out != 0) break;
  }
  s->next_in = nullptr;
  out.resize(written);

  // §7.2.1 step 3: drop the 00 00 FF FF that the sync flush's empty stored
  // block ends with. For empty input this leaves the single byte 0x00
  // (§7.2.3.6).
  if (out.size() < sizeof kTail || std::memcmp(out.data() + out.size() - sizeof kTail, kTail, sizeof kTail) != 0) {
    out.clear();
    return false;
  }
  out.resize(out.size() - sizeof kTail);
  return true;
}

}  // namespace sb::ws
