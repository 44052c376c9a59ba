// sendfloor: what the kernel alone costs for one fan-out on this machine.
// N loopback TCP connections; one thread writes `size` bytes to each server
// side in turn (exactly what a server does for one publication to N
// subscribers), while a receiver thread drains them with epoll. No
// Switchboard code is involved: the figure is the floor under any server's
// publish→deliver latency for N subscribers on one core here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "common.h"
#include "modes.h"

namespace sbbench {

int run_sendfloor(std::span<char* const> argv) {
  static const OptSpec specs[] = {{"connections", true}, {"rounds", true}, {"size", true}};
  Args args("sendfloor", argv, specs);
  const int n = int(args.u64("connections", 9000, 1, 9500));  // two fds each, under a 20,000 cap
  const int rounds = int(args.u64("rounds", 5, 1, 1000));
  const size_t size = args.size("size", 100, 1, 65536);

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(ls, 4096) != 0) {
    std::perror("sendfloor: listen");
    return kExitFailure;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> clients, servers;
  for (int i = 0; i < n; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("sendfloor: connect");
      return kExitFailure;
    }
    int s = accept(ls, nullptr, nullptr);
    if (s < 0) {
      std::perror("sendfloor: accept");
      return kExitFailure;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    clients.push_back(c);
    servers.push_back(s);
  }
  int ep = epoll_create1(0);
  for (int c : clients) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
  }
  const long expected = long(n) * rounds * long(size);
  std::atomic<long> received{0};
  std::thread rx([&] {
    epoll_event ev[256];
    std::vector<char> buf(65536);
    while (received.load() < expected) {
      int k = epoll_wait(ep, ev, 256, 100);
      for (int i = 0; i < k; ++i) {
        ssize_t r = read(ev[i].data.fd, buf.data(), buf.size());
        if (r > 0) received += r;
      }
    }
  });
  std::string msg(size, 'x');
  std::vector<double> perSendUs;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int s : servers) {
      if (write(s, msg.data(), msg.size()) != ssize_t(msg.size())) {
        std::perror("sendfloor: write");
        return kExitFailure;
      }
    }
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    perSendUs.push_back(us / n);
    std::printf("round %d: %d writes of %zu B in %.1f ms (%.2f us each)\n", r + 1, n, size, us / 1000, us / n);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the receiver drain
  }
  rx.join();
  std::sort(perSendUs.begin(), perSendUs.end());
  double median = perSendUs[perSendUs.size() / 2];
  std::printf("RESULT sendfloor connections=%d size=%zu rounds=%d us_per_write_median=%.2f "
              "ms_per_fanout_of_10000=%.1f\n",
              n, size, rounds, median, median * 10000 / 1000);
  for (int fd : clients) close(fd);
  for (int fd : servers) close(fd);
  close(ls);
  close(ep);
  return kExitOk;
}

}  // namespace sbbench
