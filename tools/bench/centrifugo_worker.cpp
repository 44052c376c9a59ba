#include "centrifugo_worker.h"

#include <cstring>

#include "common.h"

namespace sbbench {
namespace {

constexpr size_t kMaxSetupBytes = 64 * 1024;  // connect/subscribe replies are far smaller

// The number after `"id":` in a reply line, or 0 when there is none.
uint64_t reply_id(std::string_view line) {
  size_t at = line.find("\"id\":");
  if (at == std::string_view::npos) return 0;
  uint64_t id = 0;
  for (size_t k = at + 5; k < line.size() && k < at + 15 && line[k] >= '0' && line[k] <= '9'; ++k) {
    id = id * 10 + uint64_t(line[k] - '0');
  }
  return id;
}

}  // namespace

std::string CentrifugoWorker::request_target(uint32_t i) {
  return proto_.path_template.empty() ? options().url.path : proto_.expand_target(i);
}

CentrifugoWorker::CentrifugoWorker(ClientOptions opts, uint64_t seed, CentrifugoOptions proto)
    : Worker(std::move(opts), seed), proto_(std::move(proto)), sessions_(size()) {
  connect_cmd_ = proto_.token.empty() ? R"({"id":1,"connect":{}})"
                                      : R"({"id":1,"connect":{"token":")" + proto_.token + R"("}})";
  subscribe_cmd_ = R"({"id":2,"subscribe":{"channel":")" + proto_.channel + R"("}})";
}

void CentrifugoWorker::set_phase(uint32_t i, Phase p) {
  Session& s = sessions_[i];
  auto in_setup = [](Phase ph) { return ph == Phase::kConnecting || ph == Phase::kSubscribing; };
  if (in_setup(s.phase)) --setting_up_;
  if (in_setup(p)) ++setting_up_;
  if (s.phase == Phase::kLive && p != Phase::kLive) proto_stats_.live.sub();
  if (s.phase != Phase::kLive && p == Phase::kLive) {
    proto_stats_.live.add();
    proto_stats_.live_total.add();
  }
  s.phase = p;
}

void CentrifugoWorker::on_open(uint32_t i) {
  Session& s = sessions_[i];
  s.line = 0;
  if (!proto_.enabled) {
    set_phase(i, Phase::kLive);
    on_live(i);
    return;
  }
  s.setup = std::make_unique<std::string>();
  set_phase(i, Phase::kConnecting);
  send_text(i, connect_cmd_);  // flushed by the caller once on_open returns
}

void CentrifugoWorker::on_data(uint32_t i, const uint8_t* p, size_t n) {
  Session& s = sessions_[i];
  if (s.phase == Phase::kLive) {
    if (proto_.enabled) scan_live_lines(i, p, n);
    on_live_data(i, p, n);
    return;
  }
  if (!s.setup) return;
  if (s.setup->size() + n > kMaxSetupBytes) {
    drop(i, FailKind::kProtocol, "setup reply larger than 64 KiB");
    return;
  }
  s.setup->append(reinterpret_cast<const char*>(p), n);
}

void CentrifugoWorker::on_message_end(uint32_t i, uint8_t op) {
  Session& s = sessions_[i];
  if (s.phase == Phase::kLive) {
    if (proto_.enabled && s.line == 2) answer_ping(i);
    s.line = 0;
    on_live_message_end(i);
    return;
  }
  if (!s.setup) return;
  if (op != opcode::kText) {
    drop(i, FailKind::kProtocol, "binary message from a Centrifugo JSON endpoint");
    return;
  }
  // Take the message out first: a line may drop the connection (resetting
  // the session) or make it live (releasing the buffer).
  std::string msg = std::move(*s.setup);
  s.setup->clear();
  std::string_view rest(msg);
  while (!rest.empty() && (s.phase == Phase::kConnecting || s.phase == Phase::kSubscribing)) {
    size_t nl = rest.find('\n');
    handle_setup_line(i, rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
}

void CentrifugoWorker::handle_setup_line(uint32_t i, std::string_view line) {
  Session& s = sessions_[i];
  if (line == "{}") {
    answer_ping(i);
    return;
  }
  uint64_t id = reply_id(line);
  bool error = line.find("\"error\":{") != std::string_view::npos;
  if (id == 1 && s.phase == Phase::kConnecting) {
    if (error) return reply_error(i, true, line);
    if (!proto_.channel.empty()) {
      set_phase(i, Phase::kSubscribing);
      if (proto_.channels > 0) {
        // Own channel (id 3) and the shared one (id 2), in one write.
        send_text(i, R"({"id":3,"subscribe":{"channel":")" + proto_.own_channel(i) + R"("}})");
        s.pending_subscribes = 2;
      } else {
        s.pending_subscribes = 1;
      }
      send_text(i, subscribe_cmd_);
      return;
    }
  } else if ((id == 2 || id == 3) && s.phase == Phase::kSubscribing) {
    if (error) return reply_error(i, false, line);
    if (--s.pending_subscribes > 0) return;
  } else {
    return;  // a push before the subscribe reply, or a stray line: not ours to judge
  }
  s.setup.reset();
  set_phase(i, Phase::kLive);
  on_live(i);
}

void CentrifugoWorker::reply_error(uint32_t i, bool connect, std::string_view line) {
  (connect ? proto_stats_.connect_errors : proto_stats_.subscribe_errors).add();
  std::string why = std::string(connect ? "connect" : "subscribe") + " refused: " + std::string(line.substr(0, 200));
  if (first_reply_error_.empty()) first_reply_error_ = why;
  drop(i, FailKind::kRejected, why);
}

void CentrifugoWorker::scan_live_lines(uint32_t i, const uint8_t* p, size_t n) {
  // A ping is a line that is exactly "{}"; every other line is skipped with memchr.
  Session& s = sessions_[i];
  const uint8_t* end = p + n;
  while (p < end) {
    if (s.line == 3) {
      const void* nl = std::memchr(p, '\n', size_t(end - p));
      if (!nl) return;
      p = static_cast<const uint8_t*>(nl) + 1;
      s.line = 0;
      continue;
    }
    uint8_t c = *p++;
    if (c == '\n') {
      if (s.line == 2) answer_ping(i);
      s.line = 0;
    } else if (s.line == 0 && c == '{') {
      s.line = 1;
    } else if (s.line == 1 && c == '}') {
      s.line = 2;
    } else {
      s.line = 3;
    }
  }
}

void CentrifugoWorker::answer_ping(uint32_t i) {
  send_text(i, "{}");  // flushed at the end of the current read
  proto_stats_.pings_answered.add();
}

void CentrifugoWorker::on_lost(uint32_t i) {
  Session& s = sessions_[i];
  bool was_live = s.phase == Phase::kLive;
  set_phase(i, Phase::kNone);
  s.setup.reset();
  s.line = 0;
  on_connection_lost(i, was_live);
}

}  // namespace sbbench
