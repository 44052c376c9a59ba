#pragma once
// How the nodes of one cluster know each other: control messages over the
// broker (Broker::publishControl / BrokerEventHandler::onControl). Each node
// publishes a heartbeat with its counts every kHeartbeatInterval; a node not
// heard from within kNodeExpiry drops out of the list /api/info shows. The
// server API sends its actions by user to every other node, and /emulation
// requests are forwarded to the node that holds the session
// (docs/scaling.md, "Nodes and the control channel").
//
// Wire format: one compact JSON object per message, at most
// kMaxControlBytes:
//   {"v":1,"from":"<node uid>","to":"<node uid>"|"","kind":"<kind>","body":<JSON value>}
// `to` empty = every node. Kinds: "info" (heartbeat, body = the node's
// counts), "api" (body = {"method","params"}), "emulation" (body =
// {"session","data"}). Messages from other versions with unknown kinds
// are ignored; malformed ones are logged and dropped.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/Broker.h"
#include "net/TimerWheel.h"

namespace sb::net {
class EventLoop;
}

namespace sb::core {

class Node;

inline constexpr size_t kMaxControlBytes = 512 * 1024;
inline constexpr std::chrono::milliseconds kHeartbeatInterval{3000};
inline constexpr std::chrono::milliseconds kNodeExpiry = 3 * kHeartbeatInterval + std::chrono::milliseconds(500);

struct ControlMessage {
  std::string from;  // sender's node uid
  std::string to;    // addressee's node uid, "" = every node
  std::string kind;
  std::string body;  // compact JSON value
};

// The JSON text of `m` (body must already be valid compact JSON).
std::string encodeControl(const ControlMessage& m);
// Parses a received message; nullopt with `problem` set when it is not one
// (not JSON, wrong version, missing or mistyped member, too large).
std::optional<ControlMessage> decodeControl(std::string_view payload, std::string& problem);

// What a node says about itself in its heartbeat and in /api/info.
struct NodeInfo {
  std::string uid;
  std::string name;
  std::string version;
  uint64_t numClients = 0;
  uint64_t numChannels = 0;
  uint64_t numSubs = 0;
  uint64_t uptime = 0;  // seconds
};
std::string encodeNodeInfo(const NodeInfo& info);
std::optional<NodeInfo> decodeNodeInfo(std::string_view body, std::string& problem);

// The nodes heard from lately, with the time each was last heard (a caller's
// clock in ms, so tests drive it). Thread-safe.
class NodeRegistry {
 public:
  explicit NodeRegistry(std::chrono::milliseconds expiry = kNodeExpiry) : expiryMs_(uint64_t(expiry.count())) {}
  // True when the node was not known (or had expired): a newcomer.
  bool update(NodeInfo info, uint64_t nowMs);
  // Live nodes (heard within the expiry), sorted by name then uid; drops the
  // expired ones.
  std::vector<NodeInfo> live(uint64_t nowMs);
  bool isLive(std::string_view uid, uint64_t nowMs);
  // Entries kept, expired or not (bounded: a flood of fake uids is capped).
  size_t size() const;
  static constexpr size_t kMaxNodes = 1024;

 private:
  struct Entry {
    NodeInfo info;
    uint64_t heardMs;
  };
  void expire(uint64_t nowMs);  // mu_ held
  uint64_t expiryMs_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> nodes_;
};

// The node's end of the control channel. Node owns it; it stands between
// the broker and the hub as the broker's event handler, passing channel
// events to the hub and taking control messages itself.
class ControlChannel final : public broker::BrokerEventHandler {
 public:
  // Called with the message body on the broker's event thread.
  using Handler = std::function<void(const ControlMessage&)>;

  ControlChannel(Node& node, broker::Broker& broker, broker::BrokerEventHandler& hub);
  ~ControlChannel() override;
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  // Registers the handler of messages of `kind` from other nodes; before
  // start() (routes are built before the workers run).
  void setHandler(std::string kind, Handler handler);
  // Publishes a heartbeat now and then every kHeartbeatInterval on `loop`
  // (worker 0's). Any thread; the timer lives on `loop`.
  void start(net::EventLoop& loop);

  // Sends `body` (valid compact JSON) to every other node (`to` empty) or to
  // the node `to`. `done` as Broker::publishControl; a message over
  // kMaxControlBytes fails at once (not temporary).
  void send(std::string_view kind, std::string_view to, std::string body, broker::Callback<bool> done);

  // This node's counts now.
  NodeInfo localInfo() const;
  // Every live node, this one first-hand (fresh counts) and the others as
  // their last heartbeat said.
  std::vector<NodeInfo> nodes();
  // Whether `uid` is this node or a live other node.
  bool isLiveNode(std::string_view uid);
  const std::string& uid() const;
  NodeRegistry& registry() { return registry_; }

  // BrokerEventHandler: channel events go to the hub.
  void onPublication(std::string_view channel, const protocol::PublicationPtr& pub,
                     const protocol::StreamPosition& pos) override {
    hub_.onPublication(channel, pub, pos);
  }
  void onJoin(std::string_view channel, const protocol::ClientInfo& info) override { hub_.onJoin(channel, info); }
  void onLeave(std::string_view channel, const protocol::ClientInfo& info) override { hub_.onLeave(channel, info); }
  void onResubscribed(std::string_view channel) override { hub_.onResubscribed(channel); }
  // Decodes, drops our own and other nodes' addressed messages, updates the
  // registry on heartbeats and runs the kind's handler otherwise.
  void onControl(std::string_view payload) override;

 private:
  struct HeartbeatTimer {
    net::TimerNode node;
    ControlChannel* self = nullptr;
  };
  static void onHeartbeatTimer(net::TimerNode* n);
  void heartbeat();

  Node& node_;
  broker::Broker& broker_;
  broker::BrokerEventHandler& hub_;
  NodeRegistry registry_;
  std::unordered_map<std::string, Handler> handlers_;  // set before start()
  net::EventLoop* loop_ = nullptr;
  HeartbeatTimer timer_;
};

}  // namespace sb::core
