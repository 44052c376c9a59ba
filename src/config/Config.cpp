// Loading the configuration: defaults, then the TOML file, then SWITCHBOARD_*
// environment variables, each value checked against its registry entry
// (config/Registry.cpp) on the way in; and genconfig, printed from the same
// registry. Every error message starts with "config: " and names the key.
#include "config/Config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "config/Registry.h"

namespace sb::config {

namespace {

constexpr std::string_view kEnvPrefix = "SWITCHBOARD_";

// ---- text helpers ----------------------------------------------------------

// A TOML basic string literal.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", int(c));
        else out += c;
    }
  }
  return out + "\"";
}

// How a TOML value is shown after "got": as written in TOML for scalars.
std::string describe(const toml::node& node) {
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (auto s = node.as_string()) return quoted(s->get());
  std::ostringstream os;
  node.visit([&](const auto& v) { os << v; });
  return os.str();
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean X?)" for the closest candidate within a typo's reach, else "".
std::string suggest(std::string_view wrong, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t bestDist = std::max<size_t>(2, wrong.size() / 4) + 1;
  for (const auto& c : candidates) {
    size_t d = editDistance(wrong, c);
    if (d < bestDist) {
      bestDist = d;
      best = &c;
    }
  }
  return best ? fmt::format(" (did you mean {}?)", *best) : std::string();
}

// ---- values ----------------------------------------------------------------

// What a key accepts, as the object of "expected ...".
template <class Target>
std::string expected(const KeyDefOf<Target>& def) {
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  switch (def.kind) {
    case Kind::String: return def.listOrString ? "a string or an array of strings" : "a string";
    case Kind::Bool: return "true or false";
    case Kind::Int:
    case Kind::Size: {
      int64_t top = def.kind == Kind::Int ? std::numeric_limits<int>::max() : kMax64;
      std::string s;
      if (def.max < top) s = fmt::format("an integer from {} to {}", def.min, def.max);
      else if (def.min == 0) s = "a non-negative integer";
      else if (def.min == 1) s = "a positive integer";
      else if (def.min <= std::numeric_limits<int>::min()) s = "an integer";
      else s = fmt::format("an integer of at least {}", def.min);
      return def.kind == Kind::Size ? s + " (bytes)" : s;
    }
    case Kind::Duration: {
      using std::chrono::milliseconds;
      std::string s = "a duration with a unit, like \"25s\"";
      if (def.max < kMax64)
        s += fmt::format(", from {} to {}", formatDuration(milliseconds{def.min}), formatDuration(milliseconds{def.max}));
      else if (def.min > 0)
        s += fmt::format(", at least {}", formatDuration(milliseconds{def.min}));
      return s;
    }
    case Kind::StringList: return "an array of strings";
  }
  return "a value";
}

// Renders a value as a TOML literal (genconfig).
template <class Target>
std::string toToml(const KeyDefOf<Target>& def, const Value& v) {
  switch (def.kind) {
    case Kind::String: return quoted(std::get<std::string>(v));
    case Kind::Bool: return std::get<bool>(v) ? "true" : "false";
    case Kind::Int:
    case Kind::Size: return std::to_string(std::get<int64_t>(v));
    case Kind::Duration: return quoted(formatDuration(std::get<std::chrono::milliseconds>(v)));
    case Kind::StringList: {
      std::string out = "[";
      for (const auto& item : std::get<std::vector<std::string>>(v)) out += (out.size() > 1 ? ", " : "") + quoted(item);
      return out + "]";
    }
  }
  return {};
}

// Where a value came from, appended to error messages: " (in FILE, line N)",
// " (from SWITCHBOARD_X)", or "" for text given without a name.
struct Origin {
  std::string suffix;
};

// Errors name the key as `name`: def.name() for a section's key, or
// "channel.namespace[\"chat\"].presence" for a key of an array element.
[[noreturn]] void fail(std::string_view name, const Origin& origin, std::string_view problem) {
  throw ConfigError(fmt::format("config: {}: {}{}", name, problem, origin.suffix));
}

template <class Target>
[[noreturn]] void failExpected(const KeyDefOf<Target>& def, std::string_view name, const Origin& origin,
                               std::string_view got) {
  fail(name, origin, fmt::format("expected {}, got {}", expected(def), got));
}

// The shared last step of the file and the environment: bounds and the key's
// own check, then into the target (the Config, or an array element).
template <class Target>
void store(Target& target, const KeyDefOf<Target>& def, std::string_view name, const Value& value,
           const Origin& origin, std::string_view got) {
  int64_t n = 0;
  if (def.kind == Kind::Int || def.kind == Kind::Size) n = std::get<int64_t>(value);
  if (def.kind == Kind::Duration) n = std::get<std::chrono::milliseconds>(value).count();
  if (n < def.min || n > def.max) failExpected(def, name, origin, got);
  if (def.check) {
    try {
      def.check(value);
    } catch (const ConfigError& e) {
      fail(name, origin, e.what());
    }
  }
  def.set(target, value);
}

Value parseDurationFor(std::string_view name, const Origin& origin, std::string_view text) {
  try {
    return parseDuration(text);
  } catch (const ConfigError& e) {
    fail(name, origin, e.what());
  }
}

template <class Target>
Value fromToml(const KeyDefOf<Target>& def, std::string_view name, const toml::node& node, const Origin& origin) {
  switch (def.kind) {
    case Kind::String:
      if (auto s = node.as_string()) return s->get();
      if (auto a = node.as_array(); a && def.listOrString) {
        std::string joined;
        for (size_t i = 0; i < a->size(); ++i) {
          const toml::node& item = (*a)[i];
          auto s = item.as_string();
          if (!s) fail(name, origin, fmt::format("expected a string or an array of strings, element {} is {}", i, describe(item)));
          if (s->get().find(',') != std::string::npos)
            fail(name, origin, fmt::format("element {} ({}) holds a comma: give one item per element", i, quoted(s->get())));
          if (i) joined += ", ";
          joined += s->get();
        }
        return joined;
      }
      break;
    case Kind::Bool:
      if (auto b = node.as_boolean()) return b->get();
      break;
    case Kind::Int:
    case Kind::Size:
      if (auto i = node.as_integer()) return i->get();
      break;
    case Kind::Duration:
      if (auto s = node.as_string()) return parseDurationFor(name, origin, s->get());
      break;
    case Kind::StringList:
      if (auto a = node.as_array()) {
        std::vector<std::string> items;
        for (size_t i = 0; i < a->size(); ++i) {
          const toml::node& item = (*a)[i];
          auto s = item.as_string();
          if (!s) fail(name, origin, fmt::format("expected an array of strings, element {} is {}", i, describe(item)));
          items.push_back(s->get());
        }
        return items;
      }
      break;
  }
  failExpected(def, name, origin, describe(node));
}

Value fromEnv(const KeyDef& def, std::string_view text, const Origin& origin) {
  std::string got = quoted(text);
  std::string name = def.name();
  switch (def.kind) {
    case Kind::String: return std::string(text);
    case Kind::Bool: {
      std::string lower(text);
      for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "true" || lower == "1") return true;
      if (lower == "false" || lower == "0") return false;
      fail(name, origin, fmt::format("expected true, false, 1 or 0, got {}", got));
    }
    case Kind::Int:
    case Kind::Size: {
      // Sizes are plain digits; ints may carry a '-'. No '+', spaces or suffixes.
      std::string_view digits = text;
      if (def.kind == Kind::Int && !digits.empty() && digits.front() == '-') digits.remove_prefix(1);
      bool ok = !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      int64_t n = 0;
      if (ok) {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        ok = ec == std::errc{} && end == text.data() + text.size();
      }
      if (!ok) failExpected(def, name, origin, got);
      return n;
    }
    case Kind::Duration: return parseDurationFor(name, origin, text);
    case Kind::StringList: {
      // "a, b,c" → {"a", "b", "c"}; "" → {}. An empty item is a typo, not a value.
      std::vector<std::string> items;
      if (text.find_first_not_of(" \t") == std::string_view::npos) return items;
      size_t index = 0;
      for (std::string_view rest = text;; ++index) {
        size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item.empty())
          fail(name, origin, fmt::format("expected comma-separated strings, element {} is empty in {}", index, got));
        items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
      return items;
    }
  }
  failExpected(def, name, origin, got);
}

// ---- sources ---------------------------------------------------------------

// Makes the " (in FILE, line N)" suffix for a node; "" for text without a name.
class OriginOf {
 public:
  explicit OriginOf(const std::string& sourceName) : sourceName_(sourceName) {}
  Origin operator()(const toml::node& node) const {
    if (sourceName_.empty()) return Origin{};
    return Origin{fmt::format(" (in {}, line {})", sourceName_, node.source().begin.line)};
  }

 private:
  const std::string& sourceName_;
};

const ArraySectionDef* findArray(std::string_view section, std::string_view key) {
  for (const auto& a : arraySections())
    if (a.section == section && a.key == key) return &a;
  return nullptr;
}

// The error for `key` found in [section] but not in the registry, with a hint:
// a close sibling, or the section the key belongs in.
[[noreturn]] void unknownKey(std::string_view section, std::string_view key, const Origin& origin) {
  std::vector<std::string> siblings;
  std::string elsewhere;
  for (const auto& d : keys()) {
    if (d.section == section) siblings.push_back(d.name());
    else if (d.key == key && elsewhere.empty()) elsewhere = fmt::format(" (it belongs in [{}])", d.section);
  }
  for (const auto& a : arraySections()) {
    if (a.section == section) siblings.push_back(a.name());
    for (const auto& d : a.keys)
      if (d.key == key && elsewhere.empty()) elsewhere = fmt::format(" (it belongs in [[{}]])", a.name());
  }
  std::string hint = elsewhere.empty() ? suggest(fmt::format("{}.{}", section, key), siblings) : elsewhere;
  throw ConfigError(fmt::format("config: unknown key {}.{}{}{}", section, key, hint, origin.suffix));
}

// Reads the array of tables `node` (the value of arr.section.arr.key) into
// arr.elements(cfg): every element is a table of arr.keys with a unique idKey,
// checked as a whole by arr.check. Messages name the element by its id when
// it has a string one ("channel.namespace[\"chat\"]"), else by its index.
template <class Element>
void applyArray(Config& cfg, const ArraySectionDefOf<Element>& arr, const toml::node& node,
                const OriginOf& originOf) {
  const std::string arrName = arr.name();
  const toml::array* items = node.as_array();
  bool tables = items && std::all_of(items->begin(), items->end(), [](const toml::node& n) { return n.is_table(); });
  if (!tables)
    throw ConfigError(fmt::format("config: {}: expected an array of tables ([[{}]] sections), got {}{}", arrName,
                                  arrName, describe(node), originOf(node).suffix));

  const KeyDefOf<Element>* idDef = nullptr;
  for (const auto& d : arr.keys)
    if (d.key == arr.idKey) idDef = &d;

  const Element defaults{};
  std::vector<std::string> ids;  // of the elements read so far, by index
  for (size_t i = 0; i < items->size(); ++i) {
    const toml::table& table = *(*items)[i].as_table();
    std::string label = fmt::format("{}[{}]", arrName, i);
    if (auto id = table.get_as<std::string>(arr.idKey)) label = fmt::format("{}[{}]", arrName, quoted(id->get()));

    Element element = defaults;
    bool hasId = false;
    for (auto&& [k, value] : table) {
      std::string_view key = k.str();
      const KeyDefOf<Element>* def = nullptr;
      for (const auto& d : arr.keys)
        if (d.key == key) def = &d;
      Origin origin = originOf(value);
      if (!def) {
        std::vector<std::string> siblings;
        for (const auto& d : arr.keys) siblings.emplace_back(d.key);
        std::string hint = suggest(key, siblings);
        if (hint.empty() && findKey(arr.section, key))
          hint = fmt::format(" (it belongs in [{}], not in a {})", arr.section, arr.noun);
        throw ConfigError(fmt::format("config: unknown key {}.{}{}{}", label, key, hint, origin.suffix));
      }
      hasId |= def == idDef;
      std::string name = fmt::format("{}.{}", label, key);
      store(element, *def, name, fromToml(*def, name, value, origin), origin, describe(value));
    }

    Origin at = originOf(table);
    if (!hasId)
      throw ConfigError(fmt::format("config: {}: missing key {} (every {} needs one){}", label, arr.idKey, arr.noun,
                                    at.suffix));
    std::string id = std::get<std::string>(idDef->get(element));
    for (size_t j = 0; j < ids.size(); ++j)
      if (ids[j] == id)
        throw ConfigError(fmt::format("config: {}: duplicate {} {}: {} {}s must be unique (the first is {}[{}]){}",
                                      label, arr.idKey, quoted(id), arr.noun, arr.idKey, arrName, j, at.suffix));
    if (arr.check) {
      try {
        arr.check(element);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("config: {}: {}{}", label, e.what(), at.suffix));
      }
    }
    ids.push_back(std::move(id));
    arr.elements(cfg).push_back(std::move(element));
  }
}

void applyToml(Config& cfg, const toml::table& root, const std::string& sourceName) {
  OriginOf originOf(sourceName);
  std::vector<std::string> sectionNames;
  for (const auto& s : sections()) sectionNames.emplace_back(s.name);

  for (auto&& [k, node] : root) {
    std::string_view section = k.str();
    bool known = std::find(sectionNames.begin(), sectionNames.end(), section) != sectionNames.end();
    std::string where = originOf(node).suffix;
    if (!known && node.is_table())
      throw ConfigError(fmt::format("config: unknown section [{}]{}{}", section, suggest(section, sectionNames), where));
    if (!known)
      throw ConfigError(fmt::format("config: unknown key {} (every key belongs to a section such as [server]){}",
                                    section, where));
    if (!node.is_table())
      throw ConfigError(fmt::format("config: {}: expected a section ([{}]), got {}{}", section, section,
                                    describe(node), where));

    for (auto&& [kk, value] : *node.as_table()) {
      std::string_view key = kk.str();
      if (const ArraySectionDef* arr = findArray(section, key)) {
        applyArray(cfg, *arr, value, originOf);
        continue;
      }
      Origin origin = originOf(value);
      const KeyDef* def = findKey(section, key);
      if (!def) unknownKey(section, key, origin);
      std::string name = def->name();
      store(cfg, *def, name, fromToml(*def, name, value, origin), origin, describe(value));
    }
  }
}

void applyTomlText(Config& cfg, std::string_view text, const std::string& sourceName) {
  toml::table root;
  try {
    root = toml::parse(text, sourceName.empty() ? std::string_view("config") : std::string_view(sourceName));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError(fmt::format("config: invalid TOML{} at line {}, column {}: {}",
                                  sourceName.empty() ? "" : " in " + sourceName, at.line, at.column,
                                  e.description()));
  }
  applyToml(cfg, root, sourceName);
}

void applyEnv(Config& cfg, char** envp) {
  if (!envp) return;
  for (char** p = envp; *p; ++p) {
    std::string_view entry(*p);
    if (!entry.starts_with(kEnvPrefix)) continue;
    size_t eq = entry.find('=');
    std::string_view name = entry.substr(0, eq);
    std::string_view text = eq == std::string_view::npos ? std::string_view() : entry.substr(eq + 1);

    for (const auto& arr : arraySections())
      if (name.starts_with(arr.envPrefix()))
        throw ConfigError(fmt::format(
            "config: {}: {}s can only be set in the config file ([[{}]] sections), not by environment variables",
            name, arr.noun, arr.name()));

    const KeyDef* def = nullptr;
    for (const auto& d : keys())
      if (d.envName() == name) def = &d;
    if (!def) {
      std::vector<std::string> names;
      for (const auto& d : keys()) names.push_back(d.envName());
      throw ConfigError(fmt::format("config: unknown environment variable {}{}", name, suggest(name, names)));
    }
    Origin origin{fmt::format(" (from {})", name)};
    store(cfg, *def, def->name(), fromEnv(*def, text, origin), origin, quoted(text));
  }
}

Config finish(Config cfg, char** envp) {
  applyEnv(cfg, envp);
  for (auto check : configChecks()) check(cfg);
  return cfg;
}

std::string readFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ConfigError(fmt::format("config: cannot read {}: {}", path, std::strerror(errno)));
  std::string text;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) throw ConfigError(fmt::format("config: cannot read {}: {}", path, std::strerror(errno)));
  return text;
}

}  // namespace

Config loadConfig(const std::string& path, char** envp) {
  Config cfg;
  if (!path.empty()) applyTomlText(cfg, readFile(path), path);
  return finish(std::move(cfg), envp);
}

Config loadConfigFromString(std::string_view toml, char** envp) {
  Config cfg;
  applyTomlText(cfg, toml, "");
  return finish(std::move(cfg), envp);
}

std::string generateDefaultConfig() { return generateConfig(Config{}); }

std::string generateConfig(const Config& cfg) {
  // "# " before each line of a doc text.
  auto comment = [](std::string_view doc, std::string_view indent = "") {
    std::string out;
    while (!doc.empty()) {
      size_t nl = doc.find('\n');
      out += fmt::format("{}# {}\n", indent, doc.substr(0, nl));
      doc = nl == std::string_view::npos ? std::string_view() : doc.substr(nl + 1);
    }
    return out;
  };
  // One array element: its id key, then the keys that differ from a default
  // element (the loader starts every element from one), each after `prefix`.
  auto element = [](const ArraySectionDef& arr, const NamespaceConfig& e, std::string_view prefix) {
    const NamespaceConfig defaults{};
    std::string out = fmt::format("{}[[{}]]\n", prefix, arr.name());
    for (const auto& def : arr.keys) {
      Value v = def.get(e);
      if (def.key == arr.idKey || v != def.get(defaults))
        out += fmt::format("{}{} = {}\n", prefix, def.key, toToml(def, v));
    }
    return out;
  };

  std::string out =
      "# Switchboard configuration, generated by `switchboard genconfig`.\n"
      "#\n"
      "# Every setting is listed with its value (genconfig: the default). Each can\n"
      "# also be set by an environment variable SWITCHBOARD_<SECTION>_<KEY> (e.g.\n"
      "# SWITCHBOARD_SERVER_LISTEN=127.0.0.1:9000), which wins over this file, except\n"
      "# channel namespaces ([[channel.namespace]]): they are set in this file only.\n"
      "# Durations are strings with a unit: \"500ms\", \"25s\", \"2m\", \"1h\", \"1m30s\".\n"
      "# Lists are TOML arrays of strings; in the environment, comma-separated.\n"
      "# Sizes are integers in bytes. An unknown key or a bad value is an error.\n";
  for (const auto& section : sections()) {
    out += "\n" + comment(section.doc) + fmt::format("[{}]\n", section.name);
    for (const auto& def : keys()) {
      if (def.section != section.name) continue;
      out += "\n" + comment(def.doc) + fmt::format("{} = {}\n", def.key, toToml(def, def.get(cfg)));
    }
    for (const auto& arr : arraySections()) {
      if (arr.section != section.name) continue;
      out += "\n" + comment(arr.doc) + "#\n";
      if (arr.example) out += element(arr, arr.example(), "# ");
      for (const auto& e : arr.elementsOf(cfg)) out += "\n" + element(arr, e, "");
    }
  }
  return out;
}

}  // namespace sb::config
