// Failure summaries and the progress line, shared by the modes.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "options_common.h"

namespace sbbench {

std::string failure_summary(const std::array<uint64_t, size_t(FailKind::kCount)>& counts) {
  std::string out;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] == 0) continue;
    if (!out.empty()) out += ' ';
    out += fail_kind_name(FailKind(k));
    out += '=';
    out += std::to_string(counts[k]);
  }
  return out;
}

std::string failure_advice(const std::array<uint64_t, size_t(FailKind::kCount)>& counts, int last_http_status) {
  auto n = [&](FailKind k) { return counts[size_t(k)]; };
  std::string out;
  if (n(FailKind::kRefused)) {
    out += "  - " + std::to_string(n(FailKind::kRefused)) +
           " attempts got ECONNREFUSED: nothing listening on the URL (server down or crashed?)\n";
  }
  if (n(FailKind::kClosedInHandshake)) {
    out += "  - " + std::to_string(n(FailKind::kClosedInHandshake)) +
           " attempts were accepted then closed/reset before the upgrade answer: the SERVER REFUSED them, "
           "most likely its own connection cap (max_connections) or its open-file limit (ulimit -n)\n";
  }
  if (n(FailKind::kHttpStatus)) {
    out += "  - " + std::to_string(n(FailKind::kHttpStatus)) + " upgrades were answered with HTTP " +
           std::to_string(last_http_status) +
           (last_http_status == 503 ? " (server at capacity: the SERVER REFUSED them)" : "") +
           ": check the URL path and the server's limits\n";
  }
  if (n(FailKind::kTimeout)) {
    out += "  - " + std::to_string(n(FailKind::kTimeout)) +
           " attempts timed out: accept backlog overflow or an overloaded server (try a lower --rate)\n";
  }
  if (n(FailKind::kLocalLimit)) {
    out += "  - " + std::to_string(n(FailKind::kLocalLimit)) +
           " attempts hit a limit on the CLIENT side (open files or ephemeral ports): lower --per-process or "
           "raise ulimit -n\n";
  }
  if (n(FailKind::kDropped)) {
    out += "  - " + std::to_string(n(FailKind::kDropped)) + " open connections were closed by the server\n";
  }
  if (n(FailKind::kRejected)) {
    out += "  - " + std::to_string(n(FailKind::kRejected)) +
           " connect/subscribe commands were answered with an error: check the server's anonymous/subscribe "
           "permissions (client.allow_anonymous, channel.allow_subscribe_for_*) or --token\n";
  }
  if (n(FailKind::kBadHandshake) || n(FailKind::kProtocol)) {
    out += "  - the server violated the WebSocket protocol (bad handshake or frame)\n";
  }
  return out;
}

void progress(const std::string& line, bool quiet) {
  if (quiet) return;
  // On a terminal, one line rewritten in place; in a log, one line per update.
  static const bool tty = isatty(STDERR_FILENO);
  if (tty) std::fprintf(stderr, "\r%-100s", line.c_str());
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void progress_done(bool quiet) {
  static const bool tty = isatty(STDERR_FILENO);
  if (!quiet && tty) std::fprintf(stderr, "\n");
}

}  // namespace sbbench
