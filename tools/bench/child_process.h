// The forked client processes of the modes that spread their connections
// over several processes (idle, fanout, connect-rate; the per-process
// open-file cap and one event loop per core call for it). Each child has two
// pipes to the parent: it writes its reports (fixed-size records) on one and
// reads commands from the other; the parent closing the command pipe means
// "finish". This header holds what the three modes share: forking a child
// under the usual guards, reading its reports, and ending it.
#pragma once

#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "common.h"

namespace sbbench {

// One child, seen from the parent. A mode's own per-child state derives from it.
struct ChildProcess {
  pid_t pid = -1;
  Fd status;                 // read end of the child's report pipe (non-blocking)
  Fd control;                // write end of the command pipe; closing it tells the child to finish
  std::vector<uint8_t> buf;  // report bytes read but not yet taken by the mode
  size_t max_buffer = 1 << 20;  // a child that outruns this is not sane: its bytes are dropped
  bool eof = false;          // the report pipe is at EOF: the child has exited

  // Appends whatever the report pipe holds to buf, without blocking; sets eof.
  void read_reports();
  // Waits until `until` (CLOCK_MONOTONIC ns) for the child to exit, then
  // kills it (SIGKILL, this pid only) and reaps it.
  void reap(int64_t until);
};

// What a child runs: its ends of the report and command pipes (both
// non-blocking) in, its exit status out. Exceptions are caught and reported.
using ChildBody = std::function<int(int report_fd, int command_fd)>;

// Runs in a freshly forked child: dies with the parent (PR_SET_PDEATHSIG),
// raises the open-file limit, runs `body`, reports an escaping exception as
// "[MODE process INDEX] error: …" and _exits. Never returns.
[[noreturn]] void run_child(const char* mode, uint32_t index, pid_t parent, int report_fd, int command_fd,
                            const ChildBody& body);

// Helpers of the templates below.
void open_child_pipes(int report[2], int command[2]);
pid_t fork_or_throw();
void set_nonblocking(int fd);
bool wait_and_read(std::vector<pollfd>& pfds, const std::vector<ChildProcess*>& who, int timeout_ms);

// Opens the two pipes and forks child `index` into children[index]. In the
// child, the parent's ends of earlier children's pipes are closed first (or
// those children would never see EOF on their command pipe). Throws
// std::runtime_error when pipe2 or fork fails.
template <class Child>
void spawn_child(std::vector<Child>& children, uint32_t index, const char* mode, const ChildBody& body) {
  static_assert(std::is_base_of_v<ChildProcess, Child>);
  int report[2], command[2];
  open_child_pipes(report, command);
  const pid_t parent = getpid();
  const pid_t pid = fork_or_throw();
  if (pid == 0) {
    for (uint32_t k = 0; k < index; ++k) {
      children[k].status.reset();
      children[k].control.reset();
    }
    ::close(report[0]);
    ::close(command[1]);
    run_child(mode, index, parent, report[1], command[0], body);
  }
  ::close(report[1]);
  ::close(command[0]);
  ChildProcess& child = children[index];
  child.pid = pid;
  child.status.reset(report[0]);
  child.control.reset(command[1]);
  set_nonblocking(report[0]);
}

// Waits up to timeout_ms for a report from any child not at EOF (or for
// `extra_fd` to become readable, when >= 0) and reads every ready child's
// pipe (read_reports). Returns whether extra_fd is readable. Sleeps the
// timeout when there is nothing to wait for.
template <class Child>
bool poll_children(std::vector<Child>& children, int timeout_ms, int extra_fd = -1) {
  std::vector<pollfd> pfds;
  std::vector<ChildProcess*> who;
  if (extra_fd >= 0) {
    pfds.push_back({extra_fd, POLLIN, 0});
    who.push_back(nullptr);
  }
  for (ChildProcess& ch : children) {
    if (ch.eof) continue;
    pfds.push_back({ch.status.get(), POLLIN, 0});
    who.push_back(&ch);
  }
  return wait_and_read(pfds, who, timeout_ms);
}

// Ends every child: closes their command pipes, reads their last reports
// until each pipe is at EOF or `grace_ns` has passed (`on_reports` runs after
// each read, to take records out of the buffers), then kills and reaps
// whichever is still running.
template <class Child, class OnReports>
void finish_children(std::vector<Child>& children, int64_t grace_ns, OnReports&& on_reports) {
  for (ChildProcess& ch : children) ch.control.reset();
  const int64_t give_up = now_ns() + grace_ns;
  while (now_ns() < give_up) {
    bool all_eof = true;
    for (const ChildProcess& ch : children) all_eof = all_eof && ch.eof;
    if (all_eof) break;
    poll_children(children, 100);
    on_reports();
  }
  for (ChildProcess& ch : children) ch.reap(now_ns());
}

// A worker seed for child `index`: random, and different in every child.
inline uint64_t child_seed(uint32_t index) { return random_seed() ^ (uint64_t(index) << 40); }

}  // namespace sbbench
