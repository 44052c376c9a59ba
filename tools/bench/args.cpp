#include "args.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common.h"

namespace sbbench {
namespace {

[[noreturn]] void bad_value(std::string_view name, std::string_view value, std::string_view expected) {
  throw UsageError("invalid value '" + std::string(value) + "' for --" + std::string(name) + ": expected " +
                   std::string(expected));
}

// Parses a non-negative decimal (possibly fractional) prefix; returns the rest.
bool parse_number_prefix(std::string_view text, double& out, std::string_view& rest) {
  std::string buf(text);
  if (buf.empty() || !(std::isdigit(static_cast<unsigned char>(buf[0])) || buf[0] == '.')) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf.c_str(), &end);
  if (errno != 0 || end == buf.c_str() || !std::isfinite(v) || v < 0) return false;
  out = v;
  rest = text.substr(size_t(end - buf.c_str()));
  return true;
}

}  // namespace

Args::Args(std::string_view mode, std::span<char* const> argv, std::span<const OptSpec> specs) : mode_(mode) {
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      throw UsageError("unexpected argument '" + std::string(arg) + "' for mode " + mode_ + " (options start with --)");
    }
    arg.remove_prefix(2);
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      inline_value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    const OptSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == arg) spec = &s;
    }
    if (!spec) throw UsageError("unknown option --" + std::string(arg) + " for mode " + mode_);
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else {
        if (i + 1 >= argv.size()) throw UsageError("option --" + std::string(arg) + " needs a value");
        value = argv[++i];
      }
    } else if (inline_value) {
      throw UsageError("option --" + std::string(arg) + " takes no value");
    }
    auto& slot = values_[std::string(arg)];
    if (!slot.empty() && !spec->repeatable) throw UsageError("option --" + std::string(arg) + " given twice");
    slot.push_back(std::move(value));
  }
}

std::optional<std::string> Args::str(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

double Args::number(std::string_view name, double def, double min, double max) const {
  auto s = str(name);
  if (!s) return def;
  double v = 0;
  std::string_view rest;
  if (!parse_number_prefix(*s, v, rest) || !rest.empty()) bad_value(name, *s, "a number");
  if (v < min || v > max) {
    bad_value(name, *s, "a number between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return v;
}

uint64_t Args::u64(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const {
  auto s = str(name);
  if (!s) return def;
  double v = 0;
  std::string_view rest;
  if (!parse_number_prefix(*s, v, rest)) bad_value(name, *s, "a whole number");
  if (rest == "k" || rest == "K") v *= 1e3;
  else if (rest == "m" || rest == "M") v *= 1e6;
  else if (!rest.empty()) bad_value(name, *s, "a whole number (optional k/m suffix)");
  if (v != std::floor(v)) bad_value(name, *s, "a whole number");
  if (v < double(min) || v > double(max)) {
    bad_value(name, *s, "a whole number between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return uint64_t(v);
}

uint64_t Args::size(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const {
  auto s = str(name);
  if (!s) return def;
  double v = 0;
  std::string_view rest;
  if (!parse_number_prefix(*s, v, rest)) bad_value(name, *s, "a size in bytes");
  if (rest == "k" || rest == "K" || rest == "KiB") v *= 1024;
  else if (rest == "m" || rest == "M" || rest == "MiB") v *= 1024 * 1024;
  else if (!rest.empty() && rest != "b" && rest != "B") bad_value(name, *s, "a size in bytes (optional k/m suffix)");
  if (v != std::floor(v)) bad_value(name, *s, "a whole number of bytes");
  if (v < double(min) || v > double(max)) {
    bad_value(name, *s, "a size between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
  }
  return uint64_t(v);
}

int64_t parse_duration_ns(std::string_view text, std::string_view what) {
  double v = 0;
  std::string_view rest;
  if (!parse_number_prefix(text, v, rest)) bad_value(what, text, "a duration like 10s, 500ms or 2m");
  double mult = 0;
  if (rest.empty() || rest == "s") mult = 1e9;
  else if (rest == "ms") mult = 1e6;
  else if (rest == "us") mult = 1e3;
  else if (rest == "m" || rest == "min") mult = 60e9;
  else if (rest == "h") mult = 3600e9;
  else bad_value(what, text, "a duration like 10s, 500ms or 2m");
  double ns = v * mult;
  if (ns > 9.0e18) bad_value(what, text, "a shorter duration");
  return int64_t(ns);
}

int64_t Args::duration_ns(std::string_view name, int64_t def, int64_t min, int64_t max) const {
  auto s = str(name);
  if (!s) return def;
  int64_t ns = parse_duration_ns(*s, name);
  if (ns < min || ns > max) {
    bad_value(name, *s, "a duration between " + format_duration(min) + " and " + format_duration(max));
  }
  return ns;
}

}  // namespace sbbench
