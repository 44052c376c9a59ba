#pragma once
// Prometheus metrics: counters, gauges and histograms kept in relaxed atomics
// (updating one never takes a lock), grouped in a Registry that renders the
// text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Label sets are fixed: every child of a family is registered up front (at
// start-up) with its label values, and the caller keeps the returned
// reference. The hot path therefore never looks a label up, never allocates
// and never locks; only registration and rendering take the registry's mutex.
// Values that other parts of the server already count (NetStats, HubStats,
// SessionStats) are not counted twice: they are registered as functions and
// read when /metrics is scraped.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::metrics {

// Label name → value pairs, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

// ---- exposition helpers (exposed for tests) --------------------------------

// A HELP text: backslash and newline escaped.
void appendHelp(std::string& out, std::string_view help);
// A label value: backslash, double quote and newline escaped.
void appendLabelValue(std::string& out, std::string_view value);
// A sample value: integers without a fraction, +Inf/-Inf/NaN spelled as
// Prometheus expects, other numbers with enough digits to round-trip.
void appendNumber(std::string& out, double value);
// `name{a="x",b="y"} value\n`; `extra` is one more label appended last (the
// histogram's `le`), ignored when its name is empty.
void appendSample(std::string& out, std::string_view name, const Labels& labels, double value,
                  const std::pair<std::string_view, std::string_view>& extra = {});
// True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, with
// `label`, a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__").
bool validName(std::string_view name, bool label = false);

// ---- metric types ------------------------------------------------------------

// Monotonic count. One atomic on its own cache line: fine for events that are
// per connection or per request, not per delivered message (those counts come
// from the stats structs through functions).
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void add(int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<int64_t> value_{0};
};

// Distribution of observed values in fixed buckets. Observations go to one of
// kShards copies picked per thread, so workers observing at once do not
// bounce a cache line; a snapshot adds the shards up.
class Histogram {
 public:
  static constexpr size_t kShards = 8;
  // `upperBounds` ascending and finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upperBounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per upper bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& upperBounds() const { return bounds_; }

  // Latency buckets in seconds from 50 µs to 5 s.
  static std::vector<double> latencyBuckets();

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::array<Shard, kShards> shards_;
};

// ---- registry ----------------------------------------------------------------

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each call registers one child of the family `name` (created by the first
  // call with `help`). Children of one family must have the same label names
  // and distinct label values, and a name keeps one type: a violation is a
  // programming error and throws std::logic_error at start-up. The returned
  // reference lives as long as the registry.
  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> upperBounds,
                       Labels labels = {});
  // Children whose value is read by `read` at render time (it runs under the
  // registry's mutex on the scraping thread and must be thread-safe).
  void counterFunction(std::string_view name, std::string_view help, Labels labels, std::function<double()> read);
  void gaugeFunction(std::string_view name, std::string_view help, Labels labels, std::function<double()> read);
  // A family whose children are only known at render time (e.g. disconnect
  // codes kept in a dense array): `collect` appends its samples with
  // appendSample(out, name, ...).
  void dynamicFamily(std::string_view name, std::string_view help, std::string_view type,
                     std::function<void(std::string& out, std::string_view name)> collect);

  // Appends every family: HELP and TYPE lines, then its samples.
  void render(std::string& out) const;

 private:
  enum class Type : uint8_t { Counter, Gauge, Histogram };
  struct Child {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<Child> children;
    std::function<void(std::string&, std::string_view)> collect;
    std::string dynamicType;
  };
  // Validates and appends `child` under the mutex (a render may run meanwhile).
  void addChild(std::string_view name, std::string_view help, Type type, Child child);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace sb::metrics
