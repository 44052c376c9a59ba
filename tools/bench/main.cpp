// switchboard-bench: WebSocket load generator for Switchboard (and peers).
// Modes: echo (throughput + latency), idle (memory per held connection),
// fanout (publish→deliver latency and delivery rate to many subscribers),
// connect-rate (new connections per second), sendfloor (the kernel's floor).
// idle, fanout and connect-rate speak Centrifugo, raw WebSocket or SSE (--protocol).
#include <signal.h>

#include <cstdio>
#include <exception>
#include <span>
#include <string_view>

#include "common.h"
#include "modes.h"

namespace {

constexpr const char* kUsage =
    "usage: switchboard-bench MODE [options]   (MODE --help for its options)\n"
    "\n"
    "modes:\n"
    "  echo   N connections send messages and wait for their echo; reports msgs/s and RTT p50/p99/p99.9\n"
    "  idle   hold N connections (over several processes if needed); reports server RSS per connection;\n"
    "         with --subscribe CHANNEL each connection also connects and subscribes (Centrifugo v2 JSON);\n"
    "         --protocol raw|sse: raw WebSocket or EventSource subscribers, channel in the URL\n"
    "  fanout N subscribers on one channel, publications at R/s through the HTTP API; reports\n"
    "         deliveries/s, expected vs received, publish->deliver latency p50/p99/p99.9, client CPU\n"
    "  connect-rate  new connections (with subscribe) at a rate rising step by step; reports the highest\n"
    "         rate with at most 1 % failures and 1 % connects slower than 1 s, and connect latency\n"
    "  sendfloor  no server: writes to N loopback sockets in turn and times it, the kernel's floor\n"
    "         under one publication's fan-out to N subscribers on this machine\n"
    "\n"
    "Only loopback targets (127.0.0.0/8, ::1, localhost) are accepted. Every run ends by a deadline.\n"
    "The last line of output is machine-readable: RESULT MODE key=value ...\n";

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return sbbench::kExitUsage;
  }
  std::string_view mode = argv[1];
  std::span<char* const> rest(argv + 2, size_t(argc - 2));
  try {
    if (mode == "--help" || mode == "-h" || mode == "help") {
      std::fputs(kUsage, stdout);
      return sbbench::kExitOk;
    }
    if (mode == "echo") return sbbench::run_echo(rest);
    if (mode == "idle") return sbbench::run_idle(rest);
    if (mode == "fanout") return sbbench::run_fanout(rest);
    if (mode == "sendfloor") return sbbench::run_sendfloor(rest);
    if (mode == "connect-rate") return sbbench::run_connect_rate(rest);
    throw sbbench::UsageError("unknown mode '" + std::string(mode) +
                              "' (expected echo, idle, fanout, connect-rate or sendfloor)");
  } catch (const sbbench::UsageError& e) {
    std::fprintf(stderr, "switchboard-bench: %s\n(see switchboard-bench %s --help)\n", e.what(),
                 (mode == "echo" || mode == "idle" || mode == "fanout" || mode == "sendfloor" || mode == "connect-rate") ? std::string(mode).c_str() : "");
    return sbbench::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard-bench: error: %s\n", e.what());
    return sbbench::kExitFailure;
  }
}
