// The Prometheus text exposition (format 0.0.4) and the metric types behind
// /metrics.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "metrics/MetricsEndpoint.h"
#include "metrics/Metrics.h"
#include "metrics/ServerMetrics.h"

using namespace sb::metrics;

namespace {
std::string number(double v) {
  std::string out;
  appendNumber(out, v);
  return out;
}
std::string render(const Registry& r) {
  std::string out;
  r.render(out);
  return out;
}
}  // namespace

TEST(MetricsExposition, EscapesLabelValues) {
  std::string out;
  appendLabelValue(out, "a\\b\"c\nd\te");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd\te");  // tab and other bytes pass through
}

TEST(MetricsExposition, EscapesHelpWithoutQuotes) {
  std::string out;
  appendHelp(out, "say \"hi\"\\now\nnext");
  EXPECT_EQ(out, "say \"hi\"\\\\now\\nnext");
}

TEST(MetricsExposition, FormatsNumbers) {
  EXPECT_EQ(number(0), "0");
  EXPECT_EQ(number(42), "42");
  EXPECT_EQ(number(-7), "-7");
  EXPECT_EQ(number(0.5), "0.5");
  EXPECT_EQ(number(0.00025), "0.00025");
  EXPECT_EQ(number(1e20), "1e+20");
  // Beyond 2^53 the shortest round-trip form is used (here exact digits).
  EXPECT_EQ(std::stod(number(18446744073709551616.0)), 18446744073709551616.0);
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(number(std::nan("")), "NaN");
  // Round-trips: the shortest form parses back to the same double.
  EXPECT_EQ(std::stod(number(0.1 + 0.2)), 0.1 + 0.2);
}

TEST(MetricsExposition, FormatsSamples) {
  std::string out;
  appendSample(out, "m", {}, 3);
  appendSample(out, "m", {{"a", "x"}, {"b", "y\"z"}}, 1.5);
  appendSample(out, "m_bucket", {{"op", "p"}}, 2, {"le", "+Inf"});
  appendSample(out, "m_bucket", {}, 2, {"le", "0.5"});
  EXPECT_EQ(out,
            "m 3\n"
            "m{a=\"x\",b=\"y\\\"z\"} 1.5\n"
            "m_bucket{op=\"p\",le=\"+Inf\"} 2\n"
            "m_bucket{le=\"0.5\"} 2\n");
}

TEST(MetricsExposition, ValidatesNames) {
  EXPECT_TRUE(validName("switchboard_clients"));
  EXPECT_TRUE(validName("a:b_c9"));
  EXPECT_FALSE(validName("9abc"));
  EXPECT_FALSE(validName("a-b"));
  EXPECT_FALSE(validName(""));
  EXPECT_TRUE(validName("transport", true));
  EXPECT_FALSE(validName("a:b", true));
  EXPECT_FALSE(validName("__reserved", true));
}

TEST(MetricsRegistry, RendersFamiliesOnceWithChildrenInOrder) {
  Registry r;
  Counter& ws = r.counter("sb_conn_total", "Connections.\nSecond line.", {{"transport", "websocket"}});
  Counter& sse = r.counter("sb_conn_total", "ignored", {{"transport", "sse"}});
  Gauge& g = r.gauge("sb_clients", "Clients now.");
  ws.inc();
  ws.inc(2);
  sse.inc();
  g.add(5);
  g.sub(2);
  r.gaugeFunction("sb_read", "Read at render.", {}, [] { return 7.0; });
  EXPECT_EQ(render(r),
            "# HELP sb_conn_total Connections.\\nSecond line.\n"
            "# TYPE sb_conn_total counter\n"
            "sb_conn_total{transport=\"websocket\"} 3\n"
            "sb_conn_total{transport=\"sse\"} 1\n"
            "# HELP sb_clients Clients now.\n"
            "# TYPE sb_clients gauge\n"
            "sb_clients 3\n"
            "# HELP sb_read Read at render.\n"
            "# TYPE sb_read gauge\n"
            "sb_read 7\n");
}

TEST(MetricsRegistry, RendersHistogramBucketsCumulatively) {
  Registry r;
  Histogram& h = r.histogram("sb_latency_seconds", "Latency.", {0.125, 0.5, 1}, {{"op", "publish"}});
  // Binary fractions, so the sum is exact.
  h.observe(0.0625);
  h.observe(0.125);  // on a bound: counts in that bucket (le is inclusive)
  h.observe(0.25);
  h.observe(7);      // only +Inf
  EXPECT_EQ(render(r),
            "# HELP sb_latency_seconds Latency.\n"
            "# TYPE sb_latency_seconds histogram\n"
            "sb_latency_seconds_bucket{op=\"publish\",le=\"0.125\"} 2\n"
            "sb_latency_seconds_bucket{op=\"publish\",le=\"0.5\"} 3\n"
            "sb_latency_seconds_bucket{op=\"publish\",le=\"1\"} 3\n"
            "sb_latency_seconds_bucket{op=\"publish\",le=\"+Inf\"} 4\n"
            "sb_latency_seconds_sum{op=\"publish\"} 7.4375\n"
            "sb_latency_seconds_count{op=\"publish\"} 4\n");
}

TEST(MetricsRegistry, RefusesInconsistentRegistrations) {
  Registry r;
  r.counter("sb_a_total", "A.", {{"x", "1"}});
  EXPECT_THROW(r.gauge("sb_a_total", "A."), std::logic_error);                     // other type
  EXPECT_THROW(r.counter("sb_a_total", "A.", {{"y", "1"}}), std::logic_error);     // other label names
  EXPECT_THROW(r.counter("sb_a_total", "A.", {{"x", "1"}}), std::logic_error);     // same child twice
  EXPECT_THROW(r.counter("sb-bad", "Bad."), std::logic_error);                     // invalid name
  EXPECT_THROW(r.counter("sb_b_total", "B.", {{"le", "1"}}), std::logic_error);    // reserved label
  EXPECT_THROW(r.histogram("sb_h", "H.", {1, 0.5}), std::logic_error);             // unsorted bounds
  EXPECT_NO_THROW(r.counter("sb_a_total", "A.", {{"x", "2"}}));
}

TEST(MetricsRegistry, DynamicFamilyWritesItsOwnSamples) {
  Registry r;
  r.dynamicFamily("sb_codes_total", "By code.", "counter", [](std::string& out, std::string_view name) {
    appendSample(out, name, {{"code", "3001"}}, 2);
  });
  EXPECT_EQ(render(r),
            "# HELP sb_codes_total By code.\n# TYPE sb_codes_total counter\nsb_codes_total{code=\"3001\"} 2\n");
  EXPECT_THROW(r.counter("sb_codes_total", "again"), std::logic_error);
}

TEST(MetricsHistogram, ConcurrentObservationsAreAllCounted) {
  Histogram h({1, 2});
  Counter c;
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        h.observe(t % 2 == 0 ? 0.5 : 1.5);
        c.inc();
      }
    });
  }
  for (auto& t : threads) t.join();
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, uint64_t(kThreads * kEach));
  EXPECT_EQ(s.cumulative[0], uint64_t(kThreads / 2 * kEach));
  EXPECT_EQ(s.cumulative[1], uint64_t(kThreads * kEach));
  EXPECT_EQ(s.cumulative.back(), s.count);
  EXPECT_DOUBLE_EQ(s.sum, kThreads / 2 * kEach * 0.5 + kThreads / 2 * kEach * 1.5);
  EXPECT_EQ(c.value(), uint64_t(kThreads * kEach));
}

TEST(MetricsProcess, ReadsProcSelf) {
  ProcessStats p = readProcessStats();
  EXPECT_GT(p.residentBytes, 1 << 20);  // a gtest binary is well over 1 MiB resident
  EXPECT_GE(p.virtualBytes, p.residentBytes);
  EXPECT_GE(p.openFds, 3);  // stdin, stdout, stderr
  EXPECT_GT(p.maxFds, 0);
  EXPECT_GE(p.cpuSeconds, 0);
  EXPECT_GT(p.startTimeSeconds, 1.5e9);  // after 2017
}

TEST(MetricsServerHooks, CountDisconnectCodesAndApiResults) {
  auto sampleValue = [](const std::string& text, const std::string& line) -> double {
    size_t at = text.find("\n" + line + " ");
    if (at == std::string::npos) return 0;
    return std::stod(text.substr(at + line.size() + 2));
  };
  std::string before;
  processRegistry().render(before);
  clientDisconnected(3001);
  clientDisconnected(3001);
  clientDisconnected(4321);
  clientDisconnected(17);  // out of range
  apiCall("publish", 200, "{\"result\":{}}");
  apiCall("publish", 200, "{\"error\":{\"code\":102}}");
  apiCall("nonsense", 400, "{}");
  sessionOpened("websocket");
  sessionOpened("carrier_pigeon");
  std::string after;
  processRegistry().render(after);
  auto delta = [&](const std::string& line) { return sampleValue(after, line) - sampleValue(before, line); };
  EXPECT_EQ(delta("switchboard_client_disconnects_total{code=\"3001\"}"), 2);
  EXPECT_EQ(delta("switchboard_client_disconnects_total{code=\"4321\"}"), 1);
  EXPECT_EQ(delta("switchboard_client_disconnects_total{code=\"other\"}"), 1);
  EXPECT_EQ(delta("switchboard_api_calls_total{method=\"publish\",result=\"ok\"}"), 1);
  EXPECT_EQ(delta("switchboard_api_calls_total{method=\"publish\",result=\"error\"}"), 1);
  EXPECT_EQ(delta("switchboard_api_calls_total{method=\"other\",result=\"bad_request\"}"), 1);
  EXPECT_EQ(delta("switchboard_client_connections{transport=\"websocket\"}"), 1);
  EXPECT_EQ(delta("switchboard_client_connections_total{transport=\"other\"}"), 1);
  sessionClosed("websocket");
  sessionClosed("carrier_pigeon");
}
