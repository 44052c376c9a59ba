#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace sbbench {

void ChildProcess::read_reports() {
  uint8_t tmp[65536];
  while (true) {
    ssize_t n = ::read(status.get(), tmp, sizeof tmp);
    if (n > 0) {
      buf.insert(buf.end(), tmp, tmp + n);
      if (buf.size() > max_buffer) buf.clear();
      continue;
    }
    if (n == 0) eof = true;
    else if (errno == EINTR) continue;
    break;
  }
}

void ChildProcess::reap(int64_t until) {
  if (pid <= 0) return;
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (now_ns() >= until) {
      kill(pid, SIGKILL);  // only our own child, by pid
      waitpid(pid, &st, 0);
      break;
    }
    usleep(20'000);
  }
  pid = -1;
}

void run_child(const char* mode, uint32_t index, pid_t parent, int report_fd, int command_fd, const ChildBody& body) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
  if (getppid() != parent) _exit(1);  // the parent died before the line above
  set_nonblocking(report_fd);
  set_nonblocking(command_fd);
  raise_nofile_limit();
  int code = 0;
  try {
    code = body(report_fd, command_fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[%s process %u] error: %s\n", mode, index, e.what());
    code = 1;
  }
  std::fflush(stderr);
  _exit(code);
}

void open_child_pipes(int report[2], int command[2]) {
  if (pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  if (pipe2(command, O_CLOEXEC) != 0) {
    int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(err));
  }
}

pid_t fork_or_throw() {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

bool wait_and_read(std::vector<pollfd>& pfds, const std::vector<ChildProcess*>& who, int timeout_ms) {
  if (pfds.empty()) {
    usleep(useconds_t(timeout_ms) * 1000);
    return false;
  }
  if (poll(pfds.data(), pfds.size(), timeout_ms) <= 0) return false;
  bool extra_ready = false;
  for (size_t k = 0; k < pfds.size(); ++k) {
    if (!pfds[k].revents) continue;
    if (who[k]) who[k]->read_reports();
    else extra_ready = true;
  }
  return extra_ready;
}

}  // namespace sbbench
