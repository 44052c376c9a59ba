// The client side of the Centrifugo v2 JSON protocol, as far as a load
// generator needs it, on top of Worker's WebSocket connections: once a
// connection is open it sends `connect` (anonymous or with a token), then
// `subscribe` to one channel, answers the server's `{}` pings with `{}`, and
// hands every later data byte to the subclass (on_live_data).
//
// Setup replies are small: they are collected in a per-connection buffer
// (bounded, released once the connection is live) and read line by line.
// The live path allocates nothing and only looks for '\n' to spot `{}` ping
// lines; what else a push holds is for the subclass to scan.
//
// With the protocol disabled (plain WebSocket targets such as /echo, or the
// raw WebSocket / EventSource subscribers of other servers) a connection is
// live as soon as it opens and nothing is sent or answered; its channels are
// then in the URL: `{channel}` and `{channel2}` in the path template are
// replaced per connection.
//
// Channels: with channels = 0 every connection subscribes to `channel`. With
// channels = K > 0, connection i (global index first_index + i) subscribes to
// its own channel `c<i mod K>` and to the shared `channel` as well.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "centrifugo_options.h"
#include "client.h"

namespace sbbench {

struct CentrifugoStats {
  Counter live;             // connections currently connected (and subscribed, with a channel)
  Counter live_total;       // times a connection became live, including after reconnects
  Counter connect_errors;   // connect answered with an error
  Counter subscribe_errors; // subscribe answered with an error
  Counter pings_answered;   // `{}` pings answered with `{}`
};

class CentrifugoWorker : public Worker {
 public:
  CentrifugoWorker(ClientOptions opts, uint64_t seed, CentrifugoOptions proto);

  CentrifugoStats& proto_stats() { return proto_stats_; }
  const CentrifugoOptions& proto_options() const { return proto_; }
  // Open connections still waiting for their connect or subscribe reply.
  uint32_t setting_up() const { return setting_up_; }
  // Every connection is live or given up on (and none is between states).
  bool setup_done() const { return ramp_done() && setting_up_ == 0; }
  // First error text of a connect or subscribe reply (for the report).
  const std::string& first_reply_error() const { return first_reply_error_; }

 protected:
  // The connection completed connect (+ subscribe); data from now on goes to on_live_data.
  virtual void on_live(uint32_t i) {}
  // Payload bytes of a data message received while live (ping lines included).
  virtual void on_live_data(uint32_t i, const uint8_t* p, size_t n) {}
  virtual void on_live_message_end(uint32_t i) {}
  // The connection went away (it may reconnect and become live again).
  virtual void on_connection_lost(uint32_t i, bool was_live) {}

  bool is_live(uint32_t i) const { return sessions_[i].phase == Phase::kLive; }
  std::string request_target(uint32_t i) override;

 private:
  enum class Phase : uint8_t { kNone, kConnecting, kSubscribing, kLive };
  struct Session {
    Phase phase = Phase::kNone;
    uint8_t line = 0;  // live ping detection: 0 line start, 1 saw '{', 2 saw "{}", 3 other
    uint8_t pending_subscribes = 0;  // subscribe replies still awaited
    std::unique_ptr<std::string> setup;  // reply bytes while setting up
  };

  void on_open(uint32_t i) final;
  void on_data(uint32_t i, const uint8_t* p, size_t n) final;
  void on_message_end(uint32_t i, uint8_t op) final;
  void on_lost(uint32_t i) final;

  void set_phase(uint32_t i, Phase p);
  void handle_setup_line(uint32_t i, std::string_view line);
  void scan_live_lines(uint32_t i, const uint8_t* p, size_t n);
  void answer_ping(uint32_t i);
  void reply_error(uint32_t i, bool connect, std::string_view line);

  CentrifugoOptions proto_;
  std::string connect_cmd_;
  std::string subscribe_cmd_;  // to the shared channel
  std::vector<Session> sessions_;
  uint32_t setting_up_ = 0;
  CentrifugoStats proto_stats_;
  std::string first_reply_error_;
};

}  // namespace sbbench
