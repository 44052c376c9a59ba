#pragma once
// The table of every configuration key. One entry per key says where it lives
// (section, key), what it is (kind, constraints), what it means (doc), and how
// to read and write its field in a Config. The file loader, the environment
// overlay, validation and genconfig all walk this table, so they cannot
// disagree, and the defaults shown by genconfig are read from a
// default-constructed Config, so they cannot drift from the structs either.
//
// Sections that are arrays of tables (e.g. [[channel.namespace]]) are meant to
// get a descriptor of their own holding a table of the same shape over the
// element type, plus how to append an element to the Config; the loader and
// genconfig walk it the same way.
//
// Internal to src/config (and its unit tests); the rest of the code sees only
// Config.h.
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "config/Config.h"

namespace sb::config {

enum class Kind {
  String,    // TOML string; env: taken verbatim
  Int,       // TOML integer; env: decimal, optional '-'; stored in an int
  Size,      // bytes: TOML integer; env: decimal digits; stored in a size_t
  Bool,      // TOML boolean; env: true/false/1/0
  Duration,  // string with units ("25s", "1m30s"); stored in milliseconds
};

// A parsed value on its way into the Config: Int and Size use int64_t (what
// TOML integers are), the rest their own type.
using Value = std::variant<std::string, int64_t, bool, std::chrono::milliseconds>;

struct KeyDef {
  std::string_view section;
  std::string_view key;
  Kind kind;
  std::string_view doc;  // genconfig comment; '\n' separates lines
  Value (*get)(const Config&);
  void (*set)(Config&, const Value&);
  // Inclusive bounds for Int, Size (count) and Duration (milliseconds).
  int64_t min = 0;
  int64_t max = std::numeric_limits<int64_t>::max();
  // Extra constraint, run after the type and bounds checks; throws ConfigError
  // with a message that does not name the key (the caller prefixes it).
  void (*check)(const Value&) = nullptr;

  // Builder-style modifiers, so table entries read as one expression.
  constexpr KeyDef range(int64_t lo, int64_t hi = std::numeric_limits<int64_t>::max()) const {
    KeyDef d = *this;
    d.min = lo;
    d.max = hi;
    return d;
  }
  constexpr KeyDef validate(void (*fn)(const Value&)) const {
    KeyDef d = *this;
    d.check = fn;
    return d;
  }

  std::string name() const;     // "websocket.max_message_size"
  std::string envName() const;  // "SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE"
};

struct SectionDef {
  std::string_view name;
  std::string_view doc;  // genconfig comment above [name]
};

// A check across keys (e.g. tls_cert and tls_key set together), run once
// after the file and the environment are applied. Throws ConfigError.
using ConfigCheck = void (*)(const Config&);

// In genconfig order.
std::span<const SectionDef> sections();
std::span<const KeyDef> keys();
std::span<const ConfigCheck> configChecks();

// The entry for `section`.`key`, or nullptr.
const KeyDef* findKey(std::string_view section, std::string_view key);

namespace detail {

template <class T>
constexpr Kind kindOf() {
  if constexpr (std::is_same_v<T, std::string>) return Kind::String;
  else if constexpr (std::is_same_v<T, bool>) return Kind::Bool;
  else if constexpr (std::is_same_v<T, int>) return Kind::Int;
  else if constexpr (std::is_same_v<T, size_t>) return Kind::Size;
  else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) return Kind::Duration;
  else static_assert(!sizeof(T), "unsupported configuration field type");
}

}  // namespace detail

// Declares the entry for the field Config::*Section.*Field; the kind follows
// from the field's C++ type, and the default bounds from the kind (Int fits an
// int, Size is positive, Duration non-negative); narrow them with range().
template <auto Section, auto Field>
constexpr KeyDef field(std::string_view section, std::string_view key, std::string_view doc) {
  using T = std::remove_cvref_t<decltype(std::declval<Config&>().*Section.*Field)>;
  constexpr Kind kind = detail::kindOf<T>();
  KeyDef d{
      .section = section,
      .key = key,
      .kind = kind,
      .doc = doc,
      .get = [](const Config& c) -> Value {
        const T& v = c.*Section.*Field;
        if constexpr (kind == Kind::Int || kind == Kind::Size) return int64_t(v);
        else return v;
      },
      .set =
          [](Config& c, const Value& v) {
            T& out = c.*Section.*Field;
            if constexpr (kind == Kind::Int || kind == Kind::Size) out = T(std::get<int64_t>(v));
            else out = std::get<T>(v);
          },
  };
  if constexpr (kind == Kind::Int) d = d.range(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if constexpr (kind == Kind::Size) d = d.range(1);
  return d;
}

}  // namespace sb::config
