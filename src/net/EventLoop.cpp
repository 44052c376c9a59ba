#include "net/EventLoop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sb::net {

namespace {
thread_local EventLoop* currentLoop = nullptr;
}  // namespace

EventLoop* EventLoop::current() { return currentLoop; }

uint64_t monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

EventLoop::EventLoop() : nowMs_(monotonicMs()), timers_(nowMs_) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  add(wakefd_, EPOLLIN, this);
}

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

bool EventLoop::add(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, uint32_t events, IoHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(postedMu_);
    stopRequested_ = true;
  }
  uint64_t one = 1;
  (void)!write(wakefd_, &one, sizeof one);
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(postedMu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  (void)!write(wakefd_, &one, sizeof one);
}

void EventLoop::onIoEvent(uint32_t) {
  uint64_t n;
  while (read(wakefd_, &n, sizeof n) > 0) {
  }
}

void EventLoop::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(postedMu_);
    tasks.swap(posted_);
    if (stopRequested_) stopping_ = true;
  }
  for (auto& t : tasks) t();
}

void EventLoop::cancelFlush(Flushable* f) {
  if (!f->flushQueued) return;
  for (auto* list : {&flushList_, &urgentList_}) {
    auto it = std::find(list->begin(), list->end(), f);
    if (it != list->end()) *it = nullptr;
  }
  f->flushQueued = false;
}

namespace {
// An entry of a flush list: nullptr once cancelled.
void flushEntry(Flushable* f) {
  if (!f) return;
  f->flushQueued = false;
  f->flush();
}
}  // namespace

void EventLoop::flushList(std::vector<Flushable*>& list) {
  for (size_t i = 0; i < list.size(); ++i) flushEntry(list[i]);
  list.clear();
}

namespace {
uint64_t monotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}
}  // namespace

void EventLoop::flushAll() {
  flushList(urgentList_);
  // Flushing may queue more flushes (a write error closes a connection,
  // which may notify others; I/O handled mid-flush queues output); loop
  // until the list stays empty. The I/O checks stop at the end of the list
  // the turn started with, so a stream of arrivals cannot hold the turn.
  const size_t planned = flushList_.size();
  uint64_t lastPoll = planned > kMidFlushClockStride ? monotonicUs() : 0;
  bool polled = false;
  for (size_t i = 0; i < flushList_.size(); ++i) {
    if (i < planned && i % kMidFlushClockStride == kMidFlushClockStride - 1) {
      uint64_t t = monotonicUs();
      if (t - lastPoll >= kMidFlushPollUs) {
        if (!polled) ++midFlushPolls_;
        polled = true;
        pollIo(0);
        runPosted();
        flushList(urgentList_);
        lastPoll = monotonicUs();
      }
    }
    flushEntry(flushList_[i]);
  }
  flushList_.clear();
  flushList(urgentList_);
}

void EventLoop::pollIo(int timeoutMs) {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epfd_, events, kMaxEvents, timeoutMs);
  for (int i = 0; i < n; ++i) static_cast<IoHandler*>(events[i].data.ptr)->onIoEvent(events[i].events);
}

void EventLoop::run() {
  EventLoop* outer = currentLoop;
  currentLoop = this;
  while (!stopping_) {
    nowMs_ = monotonicMs();
    int timeout = timers_.msUntilNextTick(nowMs_);
    if (!flushList_.empty() || !urgentList_.empty() || !deferred_.empty()) timeout = 0;
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) break;
    nowMs_ = monotonicMs();
    timers_.skipIdle(nowMs_);
    for (int i = 0; i < n; ++i) static_cast<IoHandler*>(events[i].data.ptr)->onIoEvent(events[i].events);
    // Commands to the broker leave before the turn's own work.
    flushList(urgentList_);
    runPosted();
    timers_.advance(nowMs_);
    flushAll();
    while (!deferred_.empty()) {
      std::vector<std::function<void()>> tasks;
      tasks.swap(deferred_);
      for (auto& t : tasks) t();
      flushAll();
    }
  }
  currentLoop = outer;
  // A stopped loop can be run again (tests drive a loop turn by turn).
  std::lock_guard<std::mutex> lock(postedMu_);
  stopRequested_ = false;
  stopping_ = false;
}

}  // namespace sb::net
