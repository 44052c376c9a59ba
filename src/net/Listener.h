#pragma once
// Listening sockets. Each worker gets its own socket bound with SO_REUSEPORT
// so the kernel spreads new connections across workers without a shared
// accept lock.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sb::net {

class ListenError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ListenResult {
  std::vector<int> fds;  // one per worker
  uint16_t port = 0;     // the bound port (resolves port 0)
};

// Binds `count` SO_REUSEPORT sockets to host:port ("0.0.0.0", "::",
// "127.0.0.1", "localhost", ...). A port already used by another process is
// reported as such (SO_REUSEPORT alone would silently share it with another
// instance run by the same user).
ListenResult openListeners(const std::string& host, uint16_t port, int count, int backlog = 4096);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting
// soft limit.
long raiseOpenFileLimit();

}  // namespace sb::net
