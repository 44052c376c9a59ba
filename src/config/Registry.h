#pragma once
// The table of every configuration key. One entry per key says where it lives
// (section, key), what it is (kind, constraints), what it means (doc), and how
// to read and write its field in a Config. The file loader, the environment
// overlay, validation and genconfig all walk this table, so they cannot
// disagree, and the defaults shown by genconfig are read from a
// default-constructed Config, so they cannot drift from the structs either.
//
// Sections that are arrays of tables ([[channel.namespace]]) have a descriptor
// of their own (ArraySectionDef) holding a table of the same shape over the
// element type (KeyDefOf<NamespaceConfig>) plus how to reach the Config's
// vector of elements; the loader and genconfig walk it the same way. Keys that
// appear in several places (the channel options, both directly in [channel]
// and in every namespace) are written once over their own struct and lifted
// onto each place with lift<>().
//
// Internal to src/config (and its unit tests); the rest of the code sees only
// Config.h.
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "config/Config.h"

namespace sb::config {

enum class Kind {
  String,    // TOML string; env: taken verbatim
  Int,       // TOML integer; env: decimal, optional '-'; stored in an int
  Size,      // bytes (or a count): TOML integer; env: decimal digits; stored in a size_t
  Bool,      // TOML boolean; env: true/false/1/0
  Duration,  // string with units ("25s", "1m30s"); stored in milliseconds
  StringList,  // TOML array of strings; env: comma-separated, blanks around items trimmed
};

// A parsed value on its way into the Config: Int and Size use int64_t (what
// TOML integers are), the rest their own type. A StringList key's check
// receives the whole list; it names the bad element in its message.
using Value = std::variant<std::string, int64_t, bool, std::chrono::milliseconds, std::vector<std::string>>;

// One key whose field lives in a Target: the Config itself for ordinary
// sections, the element type for the keys of an array section, or a nested
// struct (ChannelOptions) for keys written once and lifted onto several places.
template <class Target>
struct KeyDefOf {
  std::string_view section;  // for array elements: the array's name, "channel.namespace"
  std::string_view key;
  Kind kind;
  std::string_view doc;  // genconfig comment; '\n' separates lines
  Value (*get)(const Target&);
  void (*set)(Target&, const Value&);
  // Inclusive bounds for Int, Size (count) and Duration (milliseconds).
  int64_t min = 0;
  int64_t max = std::numeric_limits<int64_t>::max();
  // Extra constraint, run after the type and bounds checks; throws ConfigError
  // with a message that does not name the key (the caller prefixes it).
  void (*check)(const Value&) = nullptr;
  // A String key that holds a comma-separated list: the file may also give
  // it as a TOML array of strings (joined with ", " before the check).
  bool listOrString = false;

  // Builder-style modifiers, so table entries read as one expression.
  constexpr KeyDefOf range(int64_t lo, int64_t hi = std::numeric_limits<int64_t>::max()) const {
    KeyDefOf d = *this;
    d.min = lo;
    d.max = hi;
    return d;
  }
  constexpr KeyDefOf validate(void (*fn)(const Value&)) const {
    KeyDefOf d = *this;
    d.check = fn;
    return d;
  }
  constexpr KeyDefOf orArray() const {
    KeyDefOf d = *this;
    d.listOrString = true;
    return d;
  }

  std::string name() const { return std::string(section) + "." + std::string(key); }  // "websocket.max_message_size"
  // "SWITCHBOARD_WEBSOCKET_MAX_MESSAGE_SIZE"; '.' in a section becomes '_'.
  std::string envName() const;
};

using KeyDef = KeyDefOf<Config>;

struct SectionDef {
  std::string_view name;
  std::string_view doc;  // genconfig comment above [name]
};

// A section that is an array of tables, [[<section>.<key>]], whose elements
// are Element. Elements come from the file only: the environment cannot
// express a list of tables, and a variable under envPrefix() is an error.
template <class Element>
struct ArraySectionDefOf {
  std::string_view section;  // the table holding the array: "channel"
  std::string_view key;      // its key there: "namespace"
  std::string_view noun;     // one element, in messages: "namespace"
  std::string_view doc;      // genconfig comment above the example; '\n' separates lines
  // The element key that names an element: required, unique within the array,
  // and used in messages (channel.namespace["chat"].presence).
  std::string_view idKey;
  std::span<const KeyDefOf<Element>> keys;  // idKey first
  std::vector<Element>& (*elements)(Config&);
  const std::vector<Element>& (*elementsOf)(const Config&);
  // Checks across the keys of one element; throws ConfigError with a message
  // that names neither the array nor the element (the caller prefixes them).
  void (*check)(const Element&) = nullptr;
  // The element genconfig shows, commented out, so operators see the shape.
  Element (*example)() = nullptr;

  std::string name() const { return std::string(section) + "." + std::string(key); }  // "channel.namespace"
  std::string envPrefix() const;  // "SWITCHBOARD_CHANNEL_NAMESPACE"
};

// The only element type so far; a second one would make arraySections()
// return a variant per entry.
using ArraySectionDef = ArraySectionDefOf<NamespaceConfig>;

// A check across keys (e.g. tls_cert and tls_key set together), run once
// after the file and the environment are applied. Throws ConfigError.
using ConfigCheck = void (*)(const Config&);

// In genconfig order.
std::span<const SectionDef> sections();
std::span<const KeyDef> keys();
std::span<const ArraySectionDef> arraySections();  // printed after the keys of their `section`
std::span<const ConfigCheck> configChecks();

// The entry for `section`.`key`, or nullptr.
const KeyDef* findKey(std::string_view section, std::string_view key);

// `cfg` as a commented TOML file that loads back to exactly `cfg` (array
// elements are written with their idKey and the keys that differ from a
// default element). generateDefaultConfig() is this over a default Config.
std::string generateConfig(const Config& cfg);

namespace detail {

template <class T>
constexpr Kind kindOf() {
  if constexpr (std::is_same_v<T, std::string>) return Kind::String;
  else if constexpr (std::is_same_v<T, bool>) return Kind::Bool;
  else if constexpr (std::is_same_v<T, int>) return Kind::Int;
  else if constexpr (std::is_same_v<T, size_t>) return Kind::Size;
  else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) return Kind::Duration;
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return Kind::StringList;
  else static_assert(!sizeof(T), "unsupported configuration field type");
}

template <class M>
struct MemberClass;
template <class C, class T>
struct MemberClass<T C::*> {
  using type = C;
};

// t.*P1.*P2... : the field reached from t through a chain of member pointers.
template <auto... Path, class Target>
constexpr auto& member(Target& t) {
  return (t .* ... .* Path);
}

}  // namespace detail

// Declares the entry for the field reached through the member pointers Path
// (e.g. &Config::server, &ServerConfig::listen); the target type is the class
// of the first one, the kind follows from the field's C++ type, and the
// default bounds from the kind (Int fits an int, Size is positive, Duration
// non-negative); narrow them with range().
template <auto First, auto... Rest>
constexpr auto field(std::string_view section, std::string_view key, std::string_view doc) {
  using Target = typename detail::MemberClass<decltype(First)>::type;
  using T = std::remove_cvref_t<decltype(detail::member<First, Rest...>(std::declval<Target&>()))>;
  constexpr Kind kind = detail::kindOf<T>();
  KeyDefOf<Target> d{
      .section = section,
      .key = key,
      .kind = kind,
      .doc = doc,
      .get = [](const Target& c) -> Value {
        const T& v = detail::member<First, Rest...>(c);
        if constexpr (kind == Kind::Int || kind == Kind::Size) return int64_t(v);
        else return v;
      },
      .set =
          [](Target& c, const Value& v) {
            T& out = detail::member<First, Rest...>(c);
            if constexpr (kind == Kind::Int || kind == Kind::Size) out = T(std::get<int64_t>(v));
            else out = std::get<T>(v);
          },
  };
  if constexpr (kind == Kind::Int) d = d.range(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if constexpr (kind == Kind::Size) d = d.range(1);
  return d;
}

namespace detail {

template <class Outer, const auto& Table, auto... Path>
struct Lift {
  template <size_t I>
  static constexpr KeyDefOf<Outer> one(std::string_view section) {
    const auto& inner = Table[I];
    return KeyDefOf<Outer>{
        .section = section,
        .key = inner.key,
        .kind = inner.kind,
        .doc = inner.doc,
        .get = [](const Outer& o) -> Value { return Table[I].get(member<Path...>(o)); },
        .set = [](Outer& o, const Value& v) { Table[I].set(member<Path...>(o), v); },
        .min = inner.min,
        .max = inner.max,
        .check = inner.check,
    };
  }
  template <size_t... I>
  static constexpr std::array<KeyDefOf<Outer>, sizeof...(I)> all(std::string_view section, std::index_sequence<I...>) {
    return {one<I>(section)...};
  }
};

}  // namespace detail

// The entries of Table (keys over some struct S) re-targeted at the S reached
// from an Outer through Path, under `section`: one list of keys, used in
// several places without repeating it.
template <class Outer, const auto& Table, auto... Path>
constexpr auto lift(std::string_view section) {
  return detail::Lift<Outer, Table, Path...>::all(section, std::make_index_sequence<std::size(Table)>{});
}

namespace detail {
std::string envWord(std::string_view s);  // upper case, '.' → '_'
}  // namespace detail

template <class Target>
std::string KeyDefOf<Target>::envName() const {
  return "SWITCHBOARD_" + detail::envWord(section) + "_" + detail::envWord(key);
}

template <class Element>
std::string ArraySectionDefOf<Element>::envPrefix() const {
  return "SWITCHBOARD_" + detail::envWord(section) + "_" + detail::envWord(key);
}

}  // namespace sb::config
