#pragma once
// A broker for unit tests of asynchronous callers: it wraps a MemoryBroker
// and, while `defer` is on, holds every completion callback (and subscribeReady
// answer) until the test calls runDeferred(). That is what the Redis broker
// does on a real network: the answer comes on a later loop iteration, after
// the caller may have gone. Events (publications, join/leave) still reach the
// handler at once, as MemoryBroker delivers them.
//
// failNext(message) makes the next completion an error (temporary) instead.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "broker/MemoryBroker.h"

namespace sb::testsupport {

class DeferredBroker final : public broker::Broker {
 public:
  DeferredBroker() : inner_(broker::MemoryBrokerOptions{}) {}

  bool defer = true;
  // Completions held so far.
  size_t deferredCount() const { return queue_.size(); }
  // Runs the held completions, oldest first (and those they queue), until none is left.
  void runDeferred() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }
  // Drops the held completions without running them (a broker that never answers).
  void dropDeferred() { queue_.clear(); }
  void failNext(std::string message) { failure_ = std::move(message); }
  // subscribeReady calls made so far.
  size_t subscribeReadyCalls = 0;

  void setEventHandler(broker::BrokerEventHandler* handler) override { inner_.setEventHandler(handler); }
  void subscribe(std::string_view channel) override { inner_.subscribe(channel); }
  void unsubscribe(std::string_view channel) override { inner_.unsubscribe(channel); }
  void subscribeReady(std::string_view channel, broker::Callback<bool> ready) override {
    ++subscribeReadyCalls;
    inner_.subscribe(channel);
    if (ready) complete<bool>(std::move(ready), true, nullptr);
  }
  void publish(std::string_view channel, broker::Publication pub, const broker::PublishOptions& opts,
               broker::Callback<broker::PublishResult> done) override {
    if (auto f = takeFailure()) return fail<broker::PublishResult>(std::move(done), *f);
    inner_.publish(channel, std::move(pub), opts, wrap(std::move(done)));
  }
  void publishJoin(std::string_view channel, const broker::ClientInfo& info) override {
    inner_.publishJoin(channel, info);
  }
  void publishLeave(std::string_view channel, const broker::ClientInfo& info) override {
    inner_.publishLeave(channel, info);
  }
  void history(std::string_view channel, const broker::HistoryRequest& req,
               broker::Callback<broker::HistoryResult> done) override {
    if (auto f = takeFailure()) return fail<broker::HistoryResult>(std::move(done), *f);
    inner_.history(channel, req, wrap(std::move(done)));
  }
  void removeHistory(std::string_view channel, broker::Callback<bool> done) override {
    if (auto f = takeFailure()) return fail<bool>(std::move(done), *f);
    inner_.removeHistory(channel, wrap(std::move(done)));
  }
  void addPresence(std::string_view channel, const broker::ClientInfo& info, std::chrono::milliseconds ttl,
                   broker::Callback<bool> done) override {
    inner_.addPresence(channel, info, ttl, wrap(std::move(done)));
  }
  void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                      broker::Callback<bool> done) override {
    inner_.removePresence(channel, clientId, user, wrap(std::move(done)));
  }
  void presence(std::string_view channel,
                broker::Callback<std::unordered_map<std::string, broker::ClientInfo>> done) override {
    if (auto f = takeFailure())
      return fail<std::unordered_map<std::string, broker::ClientInfo>>(std::move(done), *f);
    inner_.presence(channel, wrap(std::move(done)));
  }
  void presenceStats(std::string_view channel, broker::Callback<broker::PresenceStats> done) override {
    if (auto f = takeFailure()) return fail<broker::PresenceStats>(std::move(done), *f);
    inner_.presenceStats(channel, wrap(std::move(done)));
  }
  size_t channelCount() const override { return inner_.channelCount(); }
  const char* name() const override { return "deferred-memory"; }

  broker::MemoryBroker& inner() { return inner_; }

 private:
  template <class T>
  broker::Callback<T> wrap(broker::Callback<T> done) {
    // complete() copies the error when it holds the answer.
    return [this, done = std::move(done)](T result, const broker::BrokerError* e) mutable {
      complete<T>(std::move(done), std::move(result), e);
    };
  }
  template <class T>
  void complete(broker::Callback<T> done, T result, const broker::BrokerError* e) {
    if (!done) return;
    std::optional<broker::BrokerError> err;
    if (e) err = *e;
    if (!defer) return done(std::move(result), err ? &*err : nullptr);
    queue_.push_back([done = std::move(done), result = std::move(result), err]() mutable {
      done(std::move(result), err ? &*err : nullptr);
    });
  }
  template <class T>
  void fail(broker::Callback<T> done, const std::string& message) {
    broker::BrokerError e{message, true};
    complete<T>(std::move(done), T{}, &e);
  }
  std::optional<std::string> takeFailure() {
    std::optional<std::string> f;
    f.swap(failure_);
    return f;
  }

  broker::MemoryBroker inner_;
  std::deque<std::function<void()>> queue_;
  std::optional<std::string> failure_;
};

}  // namespace sb::testsupport
