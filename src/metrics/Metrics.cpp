#include "metrics/Metrics.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sb::metrics {

void appendHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
}

void appendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
}

void appendNumber(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  // Counts are integers: print them exactly, without an exponent, up to 2^53.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0)
    r = std::to_chars(buf, buf + sizeof buf, int64_t(value));
  else
    r = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip form
  out.append(buf, r.ptr);
}

void appendSample(std::string& out, std::string_view name, const Labels& labels, double value,
                  const std::pair<std::string_view, std::string_view>& extra) {
  out += name;
  if (!labels.empty() || !extra.first.empty()) {
    out.push_back('{');
    bool first = true;
    auto label = [&](std::string_view k, std::string_view v) {
      if (!first) out.push_back(',');
      first = false;
      out += k;
      out += "=\"";
      appendLabelValue(out, v);
      out.push_back('"');
    };
    for (const auto& [k, v] : labels) label(k, v);
    if (!extra.first.empty()) label(extra.first, extra.second);
    out.push_back('}');
  }
  out.push_back(' ');
  appendNumber(out, value);
  out.push_back('\n');
}

bool validName(std::string_view name, bool label) {
  if (name.empty()) return false;
  if (label && name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// ---- Histogram ---------------------------------------------------------------

namespace {
// The shard of the calling thread: threads are numbered as they first
// observe, so a server's few workers get distinct shards.
size_t threadShard() {
  static std::atomic<size_t> next{0};
  thread_local size_t shard = next.fetch_add(1, std::memory_order_relaxed) % Histogram::kShards;
  return shard;
}
}  // namespace

Histogram::Histogram(std::vector<double> upperBounds) : bounds_(std::move(upperBounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::logic_error("histogram bounds must be finite and strictly ascending");
  }
  for (Shard& s : shards_) {
    s.buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) s.buckets[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double value) noexcept {
  // Few buckets: a linear scan beats a binary search and stays branch-friendly.
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  Shard& s = shards_[threadShard()];
  s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  std::vector<uint64_t> counts(bounds_.size() + 1, 0);
  for (const Shard& s : shards_) {
    for (size_t i = 0; i <= bounds_.size(); ++i) counts[i] += s.buckets[i].load(std::memory_order_relaxed);
    snap.sum += s.sum.load(std::memory_order_relaxed);
  }
  // _count is the +Inf bucket by construction, so the two always agree even
  // while other threads observe.
  snap.cumulative.resize(counts.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts.size(); ++i) snap.cumulative[i] = running += counts[i];
  snap.count = running;
  return snap;
}

std::vector<double> Histogram::latencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

// ---- Registry ----------------------------------------------------------------

void Registry::addChild(std::string_view name, std::string_view help, Type type, Child child) {
  const Labels& labels = child.labels;
  if (!validName(name)) throw std::logic_error("invalid metric name '" + std::string(name) + "'");
  for (const auto& [k, v] : labels) {
    if (!validName(k, true) || k == "le" || k == "quantile")
      throw std::logic_error("invalid label name '" + k + "' for metric '" + std::string(name) + "'");
  }
  std::lock_guard lock(mu_);
  Family* family = nullptr;
  for (auto& f : families_) {
    if (f->name == name) family = f.get();
  }
  if (!family) {
    families_.push_back(std::make_unique<Family>());
    family = families_.back().get();
    family->name = name;
    family->help = help;
    family->type = type;
  } else {
    if (family->type != type || family->collect)
      throw std::logic_error("metric '" + std::string(name) + "' registered with two types");
    const Labels& first = family->children.front().labels;
    bool sameNames = first.size() == labels.size();
    for (size_t i = 0; sameNames && i < labels.size(); ++i) sameNames = first[i].first == labels[i].first;
    if (!sameNames) throw std::logic_error("metric '" + std::string(name) + "' registered with other label names");
    for (const Child& c : family->children) {
      if (c.labels == labels) throw std::logic_error("metric '" + std::string(name) + "' registered twice");
    }
  }
  family->children.push_back(std::move(child));
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  Child c{std::move(labels), std::make_unique<Counter>(), nullptr, nullptr, nullptr};
  Counter& metric = *c.counter;
  addChild(name, help, Type::Counter, std::move(c));
  return metric;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  Child c{std::move(labels), nullptr, std::make_unique<Gauge>(), nullptr, nullptr};
  Gauge& metric = *c.gauge;
  addChild(name, help, Type::Gauge, std::move(c));
  return metric;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> upperBounds,
                               Labels labels) {
  Child c{std::move(labels), nullptr, nullptr, std::make_unique<Histogram>(std::move(upperBounds)), nullptr};
  Histogram& metric = *c.histogram;
  addChild(name, help, Type::Histogram, std::move(c));
  return metric;
}

void Registry::counterFunction(std::string_view name, std::string_view help, Labels labels,
                               std::function<double()> read) {
  addChild(name, help, Type::Counter, Child{std::move(labels), nullptr, nullptr, nullptr, std::move(read)});
}

void Registry::gaugeFunction(std::string_view name, std::string_view help, Labels labels,
                             std::function<double()> read) {
  addChild(name, help, Type::Gauge, Child{std::move(labels), nullptr, nullptr, nullptr, std::move(read)});
}

void Registry::dynamicFamily(std::string_view name, std::string_view help, std::string_view type,
                             std::function<void(std::string&, std::string_view)> collect) {
  if (!validName(name)) throw std::logic_error("invalid metric name '" + std::string(name) + "'");
  std::lock_guard lock(mu_);
  for (auto& f : families_) {
    if (f->name == name) throw std::logic_error("metric '" + std::string(name) + "' registered twice");
  }
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = Type::Counter;
  f->dynamicType = type;
  f->collect = std::move(collect);
  families_.push_back(std::move(f));
}

void Registry::render(std::string& out) const {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) {
    out += "# HELP ";
    out += f->name;
    out.push_back(' ');
    appendHelp(out, f->help);
    out += "\n# TYPE ";
    out += f->name;
    out.push_back(' ');
    if (f->collect) {
      out += f->dynamicType;
      out.push_back('\n');
      f->collect(out, f->name);
      continue;
    }
    out += f->type == Type::Counter ? "counter" : f->type == Type::Gauge ? "gauge" : "histogram";
    out.push_back('\n');
    for (const Child& c : f->children) {
      if (c.read) appendSample(out, f->name, c.labels, c.read());
      else if (c.counter) appendSample(out, f->name, c.labels, double(c.counter->value()));
      else if (c.gauge) appendSample(out, f->name, c.labels, double(c.gauge->value()));
      else if (c.histogram) {
        Histogram::Snapshot s = c.histogram->snapshot();
        std::string bucket = f->name + "_bucket";
        const auto& bounds = c.histogram->upperBounds();
        std::string le;
        for (size_t i = 0; i < bounds.size(); ++i) {
          le.clear();
          appendNumber(le, bounds[i]);
          appendSample(out, bucket, c.labels, double(s.cumulative[i]), {"le", le});
        }
        appendSample(out, bucket, c.labels, double(s.count), {"le", "+Inf"});
        appendSample(out, f->name + "_sum", c.labels, s.sum);
        appendSample(out, f->name + "_count", c.labels, double(s.count));
      }
    }
  }
}

}  // namespace sb::metrics
