#include "common.h"

#include <dirent.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sbbench {

uint64_t random_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != ssize_t(sizeof seed)) {
    seed = uint64_t(now_ns()) ^ (uint64_t(getpid()) << 32);
  }
  return seed;
}

uint64_t raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

std::optional<uint64_t> read_vmrss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      uint64_t kb = 0;
      if (ss >> kb) return kb;
    }
  }
  return std::nullopt;
}

std::optional<double> read_process_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  // The command name (field 2) may hold spaces: fields resume after the last ')'.
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream ss(text.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int k = 3; k <= 15 && ss >> field; ++k) {
    if (k == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (k == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return double(utime + stime) / double(ticks);
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::optional<double> read_runqueue_wait_s(int pid) {
  std::string dir = pid == 0 ? "/proc/self/task" : "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return std::nullopt;
  double total = 0;
  bool any = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(dir + "/" + e->d_name + "/schedstat");
    unsigned long long run_ns = 0, wait_ns = 0;
    if (in >> run_ns >> wait_ns) {
      total += double(wait_ns) / 1e9;
      any = true;
    }
  }
  closedir(d);
  if (!any) return std::nullopt;
  return total;
}

std::optional<SockStat> read_sockstat() {
  std::ifstream in("/proc/net/sockstat");
  if (!in) return std::nullopt;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    // "TCP: inuse 5 orphan 0 tw 0 alloc 6 mem 1"
    std::istringstream ss(line.substr(4));
    SockStat st;
    std::string key;
    uint64_t val = 0;
    while (ss >> key >> val) {
      if (key == "inuse") st.tcp_inuse = val;
      else if (key == "alloc") st.tcp_alloc = val;
      else if (key == "mem") st.tcp_mem_pages = val;
    }
    return st;
  }
  return std::nullopt;
}

ServerProcesses ServerProcesses::parse(const std::string& text) {
  ServerProcesses out;
  out.text_ = text;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    long pid = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != 0 || pid <= 0 || pid > 4'194'304) {
      throw UsageError("invalid --server-pid '" + text + "': expected PID or PID,PID,...");
    }
    if (!read_vmrss_kb(int(pid))) {
      throw UsageError("--server-pid " + item + ": no such process (or no VmRSS readable)");
    }
    out.pids_.push_back(int(pid));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.pids_.empty() || out.pids_.size() > 64) throw UsageError("--server-pid takes 1 to 64 pids");
  return out;
}

std::optional<uint64_t> ServerProcesses::rss_kb() const {
  uint64_t sum = 0;
  for (int pid : pids_) {
    auto v = read_vmrss_kb(pid);
    if (!v) return std::nullopt;
    sum += *v;
  }
  return sum;
}

std::optional<double> ServerProcesses::cpu_s() const {
  double sum = 0;
  for (int pid : pids_) {
    auto v = read_process_cpu_s(pid);
    if (!v) return std::nullopt;
    sum += *v;
  }
  return sum;
}

std::optional<double> ServerProcesses::runqueue_wait_s() const {
  double sum = 0;
  for (int pid : pids_) {
    auto v = read_runqueue_wait_s(pid);
    if (!v) return std::nullopt;
    sum += *v;
  }
  return sum;
}

bool write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      poll(&pfd, 1, 100);
      continue;
    }
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}

std::string format_duration(int64_t ns) {
  char buf[64];
  if (ns >= kNsPerSec) std::snprintf(buf, sizeof buf, "%.2fs", double(ns) / 1e9);
  else if (ns >= kNsPerMs) std::snprintf(buf, sizeof buf, "%.1fms", double(ns) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1fus", double(ns) / 1e3);
  return buf;
}

}  // namespace sbbench
