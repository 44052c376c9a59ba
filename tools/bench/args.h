// Minimal command-line parser for switchboard-bench: each mode declares the
// options it knows; anything else is a clear UsageError. Accepts "--key value"
// and "--key=value"; repeatable options keep every value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sbbench {

struct OptSpec {
  std::string_view name;  // without leading dashes
  bool takes_value;
  bool repeatable = false;
};

class Args {
 public:
  // Throws UsageError on unknown options, missing values, stray positionals.
  Args(std::string_view mode, std::span<char* const> argv, std::span<const OptSpec> specs);

  bool has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  std::optional<std::string> str(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;

  // Integers accept k/m suffixes (x1000 / x1000000): "15k".
  uint64_t u64(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const;
  // Sizes accept k/K (KiB) and m/M (MiB) suffixes: "64k".
  uint64_t size(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const;
  // Durations: "10s", "500ms", "2m", "1.5s"; a bare number means seconds.
  int64_t duration_ns(std::string_view name, int64_t def, int64_t min, int64_t max) const;
  double number(std::string_view name, double def, double min, double max) const;

 private:
  std::string mode_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

// Parsers exposed for reuse/tests; throw UsageError mentioning `what`.
int64_t parse_duration_ns(std::string_view text, std::string_view what);

}  // namespace sbbench
