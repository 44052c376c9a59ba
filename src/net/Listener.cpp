#include "net/Listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sb::net {

namespace {

struct Resolved {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

Resolved resolve(const std::string& host, uint16_t port) {
  Resolved r;
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string portStr = std::to_string(port);
  int rc = getaddrinfo(h.empty() ? nullptr : h.c_str(), portStr.c_str(), &hints, &res);
  if (rc != 0 || !res)
    throw ListenError("cannot listen on " + host + ":" + portStr + ": cannot resolve host: " + gai_strerror(rc));
  std::memcpy(&r.addr, res->ai_addr, res->ai_addrlen);
  r.len = res->ai_addrlen;
  r.family = res->ai_family;
  freeaddrinfo(res);
  return r;
}

void setPort(Resolved& r, uint16_t port) {
  if (r.family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&r.addr)->sin6_port = htons(port);
  else reinterpret_cast<sockaddr_in*>(&r.addr)->sin_port = htons(port);
}

std::string describe(const std::string& host, uint16_t port) { return host + ":" + std::to_string(port); }

int bindOne(const Resolved& r, bool reusePort, const std::string& what) {
  int fd = ::socket(r.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ListenError("cannot listen on " + what + ": socket: " + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (r.family == AF_INET6) {
    int zero = 0;  // "::" accepts IPv4 too
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&r.addr), r.len) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EADDRINUSE)
      throw ListenError("cannot listen on " + what +
                        ": address already in use (is another server running on this port?)");
    if (e == EACCES)
      throw ListenError("cannot listen on " + what + ": permission denied (ports below 1024 need privileges)");
    if (e == EADDRNOTAVAIL)
      throw ListenError("cannot listen on " + what + ": address not available on this machine");
    throw ListenError("cannot listen on " + what + ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace

ListenResult openListeners(const std::string& host, uint16_t port, int count, int backlog) {
  Resolved r = resolve(host, port);
  ListenResult out;
  try {
    if (port != 0) {
      // Probe without SO_REUSEPORT: fails if anyone holds the port, including
      // another instance of this server that would otherwise share it.
      int probe = bindOne(r, false, describe(host, port));
      ::close(probe);
    }
    for (int i = 0; i < count; ++i) {
      int fd = bindOne(r, true, describe(host, port));
      out.fds.push_back(fd);
      if (i == 0) {
        sockaddr_storage bound{};
        socklen_t len = sizeof bound;
        getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
        out.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
        setPort(r, out.port);  // port 0: the others join the port the first got
      }
      if (::listen(fd, backlog) != 0)
        throw ListenError("cannot listen on " + describe(host, port) + ": listen: " + std::strerror(errno));
    }
  } catch (...) {
    for (int fd : out.fds) ::close(fd);
    throw;
  }
  return out;
}

long raiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? -1 : long(rl.rlim_cur);
}

}  // namespace sb::net
