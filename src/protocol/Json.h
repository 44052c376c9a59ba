#pragma once
// A small validating JSON reader for protocol commands and API bodies: it
// walks a document in place and hands out the raw text of values, so `data`
// payloads are copied verbatim instead of parsed and re-serialized.
// Strict RFC 8259: no comments, no trailing commas, no NaN, UTF-8 checked,
// nesting depth bounded.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::protocol::json {

inline constexpr int kMaxDepth = 64;

enum class Type : uint8_t { Object, Array, String, Number, True, False, Null };

// True when `text` is exactly one valid JSON value (surrounding whitespace
// allowed). `error` gets a short reason otherwise.
bool validate(std::string_view text, std::string* error = nullptr);

// Validates `text` and writes it to `out` without insignificant whitespace,
// so it can be embedded in a newline-delimited frame. False on invalid JSON.
bool compact(std::string_view text, std::string& out, std::string* error = nullptr);

// One member of an object: its unescaped key and the raw text of its value.
struct Member {
  std::string key;
  std::string_view raw;  // the value's exact text
  Type type;
};

// Iterates the members of the object whose raw text is `object`:
//   ObjectReader r(raw); Member m; while (r.next(m)) {...}; if (!r.ok()) ...
// Duplicate keys are reported as they come (callers take the last).
class ObjectReader {
 public:
  explicit ObjectReader(std::string_view object);
  bool next(Member& m);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  bool started_ = false, done_ = false;
  std::string error_;
};

// Iterates the elements of an array given as raw text.
class ArrayReader {
 public:
  explicit ArrayReader(std::string_view array);
  bool next(std::string_view& raw, Type& type);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  bool started_ = false, done_ = false;
  std::string error_;
};

// Scalar conversions from a member's raw text; nullopt on a type mismatch or
// out-of-range number.
std::optional<std::string> asString(std::string_view raw);
std::optional<bool> asBool(std::string_view raw);
// asInt/asUint take only the plain integer form: "5" yes, "5.0", "1e2" and
// "\"5\"" no (as Go's encoding/json does for integer fields). "-0" is 0 for
// asInt and refused by asUint (no sign is allowed in an unsigned literal).
std::optional<int64_t> asInt(std::string_view raw);     // integers only
std::optional<uint64_t> asUint(std::string_view raw);   // integers only, >= 0

// Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) starting at s[pos], or 0 when the bytes
// there are not one. For ASCII bytes it returns 1.
size_t utf8SequenceLength(std::string_view s, size_t pos);

}  // namespace sb::protocol::json
