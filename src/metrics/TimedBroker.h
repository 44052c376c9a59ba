#pragma once
// A Broker that forwards every call to another one and records how long each
// operation took until its completion callback ran
// (switchboard_broker_operation_duration_seconds{op}). One place times every
// caller — client sessions, the server API, recovery reads — for any engine,
// memory or remote. Cost: one clock read before and after, and the wrapped
// callback (one small allocation per call; none per delivered message).
#include <chrono>
#include <memory>
#include <utility>

#include "broker/Broker.h"
#include "metrics/ServerMetrics.h"

namespace sb::metrics {

class TimedBroker final : public broker::Broker {
 public:
  explicit TimedBroker(std::unique_ptr<broker::Broker> inner) : inner_(std::move(inner)) {}

  broker::Broker& inner() { return *inner_; }

  void setEventHandler(broker::BrokerEventHandler* handler) override { inner_->setEventHandler(handler); }
  void subscribe(std::string_view channel) override { inner_->subscribe(channel); }
  void unsubscribe(std::string_view channel) override { inner_->unsubscribe(channel); }
  void subscribeReady(std::string_view channel, broker::Callback<bool> ready) override {
    inner_->subscribeReady(channel, std::move(ready));
  }

  void publish(std::string_view channel, broker::Publication pub, const broker::PublishOptions& opts,
               broker::Callback<broker::PublishResult> done) override {
    inner_->publish(channel, std::move(pub), opts, timed(BrokerOp::Publish, std::move(done)));
  }
  void publishJoin(std::string_view channel, const broker::ClientInfo& info) override {
    inner_->publishJoin(channel, info);
  }
  void publishLeave(std::string_view channel, const broker::ClientInfo& info) override {
    inner_->publishLeave(channel, info);
  }
  void publishControl(std::string payload, broker::Callback<bool> done) override {
    inner_->publishControl(std::move(payload), std::move(done));
  }
  void history(std::string_view channel, const broker::HistoryRequest& req,
               broker::Callback<broker::HistoryResult> done) override {
    inner_->history(channel, req, timed(BrokerOp::History, std::move(done)));
  }
  void removeHistory(std::string_view channel, broker::Callback<bool> done) override {
    inner_->removeHistory(channel, timed(BrokerOp::RemoveHistory, std::move(done)));
  }
  void addPresence(std::string_view channel, const broker::ClientInfo& info, std::chrono::milliseconds ttl,
                   broker::Callback<bool> done) override {
    inner_->addPresence(channel, info, ttl, timed(BrokerOp::AddPresence, std::move(done)));
  }
  void removePresence(std::string_view channel, std::string_view clientId, std::string_view user,
                      broker::Callback<bool> done) override {
    inner_->removePresence(channel, clientId, user, timed(BrokerOp::RemovePresence, std::move(done)));
  }
  void presence(std::string_view channel,
                broker::Callback<std::unordered_map<std::string, broker::ClientInfo>> done) override {
    inner_->presence(channel, timed(BrokerOp::Presence, std::move(done)));
  }
  void presenceStats(std::string_view channel, broker::Callback<broker::PresenceStats> done) override {
    inner_->presenceStats(channel, timed(BrokerOp::PresenceStats, std::move(done)));
  }
  size_t channelCount() const override { return inner_->channelCount(); }
  const char* name() const override { return inner_->name(); }

 private:
  template <class T>
  static broker::Callback<T> timed(BrokerOp op, broker::Callback<T> done) {
    auto start = std::chrono::steady_clock::now();
    return [op, start, done = std::move(done)](T result, const broker::BrokerError* error) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      brokerOperation(op, took.count());
      if (done) done(std::move(result), error);
    };
  }

  std::unique_ptr<broker::Broker> inner_;
};

}  // namespace sb::metrics
