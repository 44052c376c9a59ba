// Strict RFC 8259 reader: one scanner walks raw text in place, validating as
// it goes. Containers are scanned iteratively with a fixed stack of kMaxDepth
// entries, so hostile nesting fails fast instead of recursing.
#include "protocol/Json.h"

#include <charconv>

namespace sb::protocol::json {

size_t utf8SequenceLength(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto byte = [&](size_t k) { return uint8_t(s[pos + k]); };
  const uint8_t lead = byte(0);
  const size_t left = s.size() - pos;
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // a continuation byte, or an overlong 2-byte lead
  if (lead < 0xE0) return left >= 2 && (byte(1) & 0xC0) == 0x80 ? 2 : 0;
  if (lead < 0xF0) {
    if (left < 3) return 0;
    const uint8_t lo = lead == 0xE0 ? 0xA0 : 0x80;  // E0: no overlongs
    const uint8_t hi = lead == 0xED ? 0x9F : 0xBF;  // ED: no UTF-16 surrogates
    if (byte(1) < lo || byte(1) > hi || (byte(2) & 0xC0) != 0x80) return 0;
    return 3;
  }
  if (lead < 0xF5) {
    if (left < 4) return 0;
    const uint8_t lo = lead == 0xF0 ? 0x90 : 0x80;  // F0: no overlongs
    const uint8_t hi = lead == 0xF4 ? 0x8F : 0xBF;  // F4: nothing above U+10FFFF
    if (byte(1) < lo || byte(1) > hi || (byte(2) & 0xC0) != 0x80 || (byte(3) & 0xC0) != 0x80) return 0;
    return 4;
  }
  return 0;
}

namespace {

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && isWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// A cursor over JSON text. Every scan* function validates what it consumes and
// on failure writes "<reason> at offset N" into the caller's error string.
class Scanner {
 public:
  Scanner(std::string_view text, size_t pos, std::string& error) : s_(text), pos_(pos), error_(error) {}

  size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void advance() { ++pos_; }
  void skipWhitespace() {
    while (pos_ < s_.size() && isWhitespace(s_[pos_])) ++pos_;
  }

  bool fail(std::string_view reason) {
    error_.assign(reason);
    error_ += " at offset ";
    error_ += std::to_string(pos_);
    return false;
  }

  bool expect(char c, std::string_view reason) {
    if (peek() != c || atEnd()) return fail(reason);
    ++pos_;
    return true;
  }

  // Scans a string literal starting at the opening quote. When `out` is set,
  // appends the unescaped contents to it.
  bool scanString(std::string* out) {
    if (!expect('"', "expected a string")) return false;
    size_t runStart = pos_;
    const auto flushRun = [&] {
      if (out) out->append(s_.substr(runStart, pos_ - runStart));
    };
    for (;;) {
      if (atEnd()) return fail("unterminated string");
      const uint8_t c = uint8_t(s_[pos_]);
      if (c == '"') {
        flushRun();
        ++pos_;
        return true;
      }
      if (c == '\\') {
        flushRun();
        ++pos_;
        if (!scanEscape(out)) return false;
        runStart = pos_;
        continue;
      }
      if (c < 0x20) return fail("control character in string");
      if (c < 0x80) {
        ++pos_;
        continue;
      }
      const size_t n = utf8SequenceLength(s_, pos_);
      if (n == 0) return fail("invalid UTF-8 in string");
      pos_ += n;
    }
  }

  // number = [ minus ] int [ frac ] [ exp ] (RFC 8259 section 6).
  bool scanNumber() {
    if (peek() == '-') ++pos_;
    if (atEnd()) return fail("invalid number");
    if (peek() == '0') {
      ++pos_;
      if (isDigit(peek()) && !atEnd()) return fail("leading zero in number");
    } else if (isDigit(peek())) {
      while (!atEnd() && isDigit(peek())) ++pos_;
    } else {
      return fail("invalid number");
    }
    if (!atEnd() && peek() == '.') {
      ++pos_;
      if (atEnd() || !isDigit(peek())) return fail("invalid number fraction");
      while (!atEnd() && isDigit(peek())) ++pos_;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!atEnd() && (peek() == '+' || peek() == '-')) ++pos_;
      if (atEnd() || !isDigit(peek())) return fail("invalid number exponent");
      while (!atEnd() && isDigit(peek())) ++pos_;
    }
    return true;
  }

  // Scans one complete value (scalar or container) at the cursor, with
  // `depth` containers already open around it. Iterative: the open containers
  // live in a fixed array, so depth is bounded by kMaxDepth without recursion.
  bool scanValue(Type& type, int depth) {
    char open[kMaxDepth];  // '{' or '[' per open container
    int top = 0;
    bool first = true;
    for (;;) {
      // Expect a value.
      skipWhitespace();
      if (atEnd()) return fail("unexpected end of input");
      const char c = peek();
      if (first) type = typeOf(c);
      first = false;
      if (c == '{' || c == '[') {
        if (depth + top + 1 > kMaxDepth) return fail("nesting too deep");
        open[top++] = c;
        ++pos_;
        skipWhitespace();
        if (!atEnd() && peek() == (c == '{' ? '}' : ']')) {
          ++pos_;  // an empty container: a complete value
          --top;
        } else if (c == '{') {
          if (!scanMemberName()) return false;
          continue;
        } else {
          continue;
        }
      } else if (c == '"') {
        if (!scanString(nullptr)) return false;
      } else if (c == '-' || isDigit(c)) {
        if (!scanNumber()) return false;
      } else if (c == 't') {
        if (!scanLiteral("true")) return false;
      } else if (c == 'f') {
        if (!scanLiteral("false")) return false;
      } else if (c == 'n') {
        if (!scanLiteral("null")) return false;
      } else {
        return fail("unexpected character");
      }
      // A value ended: close containers or move on to the next element.
      for (;;) {
        if (top == 0) return true;
        skipWhitespace();
        if (atEnd()) return fail("unexpected end of input");
        const char next = peek();
        const char want = open[top - 1] == '{' ? '}' : ']';
        if (next == want) {
          ++pos_;
          --top;
          continue;
        }
        if (next != ',') return fail(open[top - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        ++pos_;
        if (open[top - 1] == '{') {
          skipWhitespace();
          if (!scanMemberName()) return false;
        }
        break;
      }
    }
  }

  // Scans `"name"` `:` with surrounding whitespace; the name is discarded.
  bool scanMemberName() {
    if (atEnd() || peek() != '"') return fail("expected a member name");
    if (!scanString(nullptr)) return false;
    skipWhitespace();
    return expect(':', "expected ':'");
  }

 private:
  static Type typeOf(char c) {
    switch (c) {
      case '{': return Type::Object;
      case '[': return Type::Array;
      case '"': return Type::String;
      case 't': return Type::True;
      case 'f': return Type::False;
      case 'n': return Type::Null;
      default: return Type::Number;
    }
  }

  bool scanLiteral(std::string_view literal) {
    if (s_.substr(pos_, literal.size()) != literal) return fail("invalid literal");
    pos_ += literal.size();
    return true;
  }

  bool readHex4(uint32_t& value) {
    if (s_.size() - pos_ < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_ + i];
      uint32_t digit;
      if (h >= '0' && h <= '9') digit = uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f') digit = uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') digit = uint32_t(h - 'A' + 10);
      else return false;
      value = value * 16 + digit;
    }
    pos_ += 4;
    return true;
  }

  // After the backslash. \uD800-\uDBFF must be followed by \uDC00-\uDFFF; a
  // lone surrogate is an error since it has no UTF-8 form.
  bool scanEscape(std::string* out) {
    if (atEnd()) return fail("unterminated string");
    const char e = s_[pos_++];
    char simple = 0;
    switch (e) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '/': simple = '/'; break;
      case 'b': simple = '\b'; break;
      case 'f': simple = '\f'; break;
      case 'n': simple = '\n'; break;
      case 'r': simple = '\r'; break;
      case 't': simple = '\t'; break;
      case 'u': break;
      default: --pos_; return fail("invalid escape");
    }
    if (e != 'u') {
      if (out) *out += simple;
      return true;
    }
    uint32_t cp;
    if (!readHex4(cp)) return fail("invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (s_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate");
      pos_ += 2;
      if (!readHex4(low)) return fail("invalid \\u escape");
      if (low < 0xDC00 || low > 0xDFFF) return fail("unpaired surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out) appendUtf8(*out, cp);
    return true;
  }

  std::string_view s_;
  size_t pos_;
  std::string& error_;
};

// Checks that only whitespace follows a complete top-level value.
bool scanTopLevel(std::string_view text, std::string& error) {
  Scanner sc(text, 0, error);
  sc.skipWhitespace();
  if (sc.atEnd()) return sc.fail("empty input");
  Type type;
  if (!sc.scanValue(type, 0)) return false;
  sc.skipWhitespace();
  if (!sc.atEnd()) return sc.fail("trailing characters");
  return true;
}

// Integer grammar without fraction or exponent: -?(0|[1-9][0-9]*).
bool isPlainInteger(std::string_view s, bool allowMinus) {
  if (!s.empty() && s.front() == '-') {
    if (!allowMinus) return false;
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  if (s.front() == '0') return s.size() == 1;
  for (char c : s)
    if (!isDigit(c)) return false;
  return true;
}

}  // namespace

bool validate(std::string_view text, std::string* error) {
  std::string reason;
  const bool ok = scanTopLevel(text, reason);
  if (!ok && error) *error = std::move(reason);
  return ok;
}

bool compact(std::string_view text, std::string& out, std::string* error) {
  if (!validate(text, error)) return false;
  // Valid JSON: whitespace outside strings is insignificant, and strings hold
  // no raw control characters, so dropping it is all compaction needs.
  out.reserve(out.size() + text.size());
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    if (isWhitespace(c)) {
      ++i;
      continue;
    }
    if (c != '"') {
      out += c;
      ++i;
      continue;
    }
    // Copy a whole string literal in one append.
    size_t end = i + 1;
    while (text[end] != '"') end += text[end] == '\\' ? 2 : 1;
    out.append(text.substr(i, end + 1 - i));
    i = end + 1;
  }
  return true;
}

ObjectReader::ObjectReader(std::string_view object) : text_(object) {}

bool ObjectReader::next(Member& m) {
  if (done_ || !error_.empty()) return false;
  Scanner sc(text_, pos_, error_);
  const auto finish = [&] {  // at the closing brace
    sc.advance();
    sc.skipWhitespace();
    if (!sc.atEnd()) return sc.fail("trailing characters");
    done_ = true;
    return false;
  };
  sc.skipWhitespace();
  if (!started_) {
    started_ = true;
    if (sc.atEnd() || sc.peek() != '{') return sc.fail("expected an object");
    sc.advance();
    sc.skipWhitespace();
    if (!sc.atEnd() && sc.peek() == '}') return finish();
  } else if (!sc.atEnd() && sc.peek() == '}') {
    return finish();
  } else if (!sc.atEnd() && sc.peek() == ',') {
    sc.advance();
    sc.skipWhitespace();
  } else {
    return sc.fail(sc.atEnd() ? "unexpected end of input" : "expected ',' or '}'");
  }
  if (sc.atEnd() || sc.peek() != '"') return sc.fail("expected a member name");
  m.key.clear();
  if (!sc.scanString(&m.key)) return false;
  sc.skipWhitespace();
  if (!sc.expect(':', "expected ':'")) return false;
  sc.skipWhitespace();
  const size_t start = sc.pos();
  if (!sc.scanValue(m.type, 1)) return false;
  m.raw = text_.substr(start, sc.pos() - start);
  pos_ = sc.pos();
  return true;
}

ArrayReader::ArrayReader(std::string_view array) : text_(array) {}

bool ArrayReader::next(std::string_view& raw, Type& type) {
  if (done_ || !error_.empty()) return false;
  Scanner sc(text_, pos_, error_);
  const auto finish = [&] {  // at the closing bracket
    sc.advance();
    sc.skipWhitespace();
    if (!sc.atEnd()) return sc.fail("trailing characters");
    done_ = true;
    return false;
  };
  sc.skipWhitespace();
  if (!started_) {
    started_ = true;
    if (sc.atEnd() || sc.peek() != '[') return sc.fail("expected an array");
    sc.advance();
    sc.skipWhitespace();
    if (!sc.atEnd() && sc.peek() == ']') return finish();
  } else if (!sc.atEnd() && sc.peek() == ']') {
    return finish();
  } else if (!sc.atEnd() && sc.peek() == ',') {
    sc.advance();
    sc.skipWhitespace();
  } else {
    return sc.fail(sc.atEnd() ? "unexpected end of input" : "expected ',' or ']'");
  }
  const size_t start = sc.pos();
  if (!sc.scanValue(type, 1)) return false;
  raw = text_.substr(start, sc.pos() - start);
  pos_ = sc.pos();
  return true;
}

std::optional<std::string> asString(std::string_view raw) {
  raw = trimWhitespace(raw);
  std::string error;
  std::string value;
  Scanner sc(raw, 0, error);
  if (sc.atEnd() || sc.peek() != '"') return std::nullopt;
  if (!sc.scanString(&value) || !sc.atEnd()) return std::nullopt;
  return value;
}

std::optional<bool> asBool(std::string_view raw) {
  raw = trimWhitespace(raw);
  if (raw == "true") return true;
  if (raw == "false") return false;
  return std::nullopt;
}

std::optional<int64_t> asInt(std::string_view raw) {
  raw = trimWhitespace(raw);
  if (!isPlainInteger(raw, true)) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (ec != std::errc() || end != raw.data() + raw.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> asUint(std::string_view raw) {
  raw = trimWhitespace(raw);
  if (!isPlainInteger(raw, false)) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (ec != std::errc() || end != raw.data() + raw.size()) return std::nullopt;
  return value;
}

}  // namespace sb::protocol::json
