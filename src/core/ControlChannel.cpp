#include "core/ControlChannel.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "core/Node.h"
#include "net/EventLoop.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"

namespace sb::core {

namespace json = protocol::json;

std::string encodeControl(const ControlMessage& m) {
  std::string out;
  out.reserve(64 + m.from.size() + m.to.size() + m.kind.size() + m.body.size());
  out += "{\"v\":1,\"from\":";
  protocol::writeString(out, m.from);
  out += ",\"to\":";
  protocol::writeString(out, m.to);
  out += ",\"kind\":";
  protocol::writeString(out, m.kind);
  out += ",\"body\":";
  out += m.body.empty() ? std::string_view("null") : std::string_view(m.body);
  out += '}';
  return out;
}

std::optional<ControlMessage> decodeControl(std::string_view payload, std::string& problem) {
  if (payload.size() > kMaxControlBytes) {
    problem = "larger than " + std::to_string(kMaxControlBytes) + " bytes";
    return std::nullopt;
  }
  if (!json::validate(payload, &problem)) {
    problem = "not JSON: " + problem;
    return std::nullopt;
  }
  if (payload.empty() || payload.front() != '{') {
    problem = "not a JSON object";
    return std::nullopt;
  }
  ControlMessage m;
  bool haveVersion = false, haveFrom = false, haveKind = false, haveBody = false;
  json::ObjectReader r(payload);
  json::Member member;
  while (r.next(member)) {
    if (member.key == "v") {
      auto v = json::asUint(member.raw);
      if (!v || *v != 1) {
        problem = "unknown version " + std::string(member.raw);
        return std::nullopt;
      }
      haveVersion = true;
    } else if (member.key == "from" || member.key == "to" || member.key == "kind") {
      auto s = json::asString(member.raw);
      if (!s) {
        problem = member.key + " must be a string";
        return std::nullopt;
      }
      if (member.key == "from") m.from = std::move(*s), haveFrom = true;
      else if (member.key == "to") m.to = std::move(*s);
      else m.kind = std::move(*s), haveKind = true;
    } else if (member.key == "body") {
      m.body.assign(member.raw);
      haveBody = true;
    }
  }
  if (!r.ok()) {
    problem = "not JSON: " + r.error();
    return std::nullopt;
  }
  if (!haveVersion || !haveFrom || !haveKind || !haveBody || m.from.empty() || m.kind.empty()) {
    problem = "v, from, kind and body are required";
    return std::nullopt;
  }
  return m;
}

std::string encodeNodeInfo(const NodeInfo& info) {
  std::string out = "{\"uid\":";
  protocol::writeString(out, info.uid);
  out += ",\"name\":";
  protocol::writeString(out, info.name);
  out += ",\"version\":";
  protocol::writeString(out, info.version);
  out += ",\"num_clients\":" + std::to_string(info.numClients);
  out += ",\"num_channels\":" + std::to_string(info.numChannels);
  out += ",\"num_subs\":" + std::to_string(info.numSubs);
  out += ",\"uptime\":" + std::to_string(info.uptime);
  out += '}';
  return out;
}

std::optional<NodeInfo> decodeNodeInfo(std::string_view body, std::string& problem) {
  if (body.empty() || body.front() != '{') {
    problem = "node info must be an object";
    return std::nullopt;
  }
  NodeInfo info;
  json::ObjectReader r(body);
  json::Member m;
  while (r.next(m)) {
    if (m.key == "uid" || m.key == "name" || m.key == "version") {
      auto s = json::asString(m.raw);
      if (!s || s->size() > 256) {
        problem = m.key + " must be a string of at most 256 bytes";
        return std::nullopt;
      }
      (m.key == "uid" ? info.uid : m.key == "name" ? info.name : info.version) = std::move(*s);
    } else if (m.key == "num_clients" || m.key == "num_channels" || m.key == "num_subs" || m.key == "uptime") {
      auto v = json::asUint(m.raw);
      if (!v) {
        problem = m.key + " must be a non-negative integer";
        return std::nullopt;
      }
      (m.key == "num_clients"    ? info.numClients
       : m.key == "num_channels" ? info.numChannels
       : m.key == "num_subs"     ? info.numSubs
                                 : info.uptime) = *v;
    }
  }
  if (!r.ok()) {
    problem = "not JSON: " + r.error();
    return std::nullopt;
  }
  if (info.uid.empty()) {
    problem = "uid required";
    return std::nullopt;
  }
  return info;
}

// ---- NodeRegistry ------------------------------------------------------------

void NodeRegistry::expire(uint64_t nowMs) {
  std::erase_if(nodes_, [&](const auto& kv) { return nowMs - kv.second.heardMs > expiryMs_; });
}

bool NodeRegistry::update(NodeInfo info, uint64_t nowMs) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(info.uid);
  if (it == nodes_.end()) {
    if (nodes_.size() >= kMaxNodes) expire(nowMs);
    if (nodes_.size() >= kMaxNodes) {
      spdlog::warn("control channel: more than {} nodes; ignoring node {}", kMaxNodes, info.uid);
      return false;
    }
    std::string uid = info.uid;
    nodes_.emplace(std::move(uid), Entry{std::move(info), nowMs});
    return true;
  }
  const bool wasExpired = nowMs - std::min(nowMs, it->second.heardMs) > expiryMs_;
  it->second = Entry{std::move(info), nowMs};
  return wasExpired;
}

std::vector<NodeInfo> NodeRegistry::live(uint64_t nowMs) {
  std::lock_guard lock(mu_);
  expire(nowMs);
  std::vector<NodeInfo> out;
  out.reserve(nodes_.size());
  for (const auto& [uid, e] : nodes_) out.push_back(e.info);
  std::sort(out.begin(), out.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return std::tie(a.name, a.uid) < std::tie(b.name, b.uid); });
  return out;
}

bool NodeRegistry::isLive(std::string_view uid, uint64_t nowMs) {
  std::lock_guard lock(mu_);
  expire(nowMs);
  return nodes_.contains(std::string(uid));
}

size_t NodeRegistry::size() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

// ---- ControlChannel ----------------------------------------------------------

ControlChannel::ControlChannel(Node& node, broker::Broker& broker, broker::BrokerEventHandler& hub)
    : node_(node), broker_(broker), hub_(hub) {
  timer_.self = this;
  timer_.node.fire = &ControlChannel::onHeartbeatTimer;
  broker_.setEventHandler(this);
}

ControlChannel::~ControlChannel() {
  broker_.setEventHandler(&hub_);
  // A wheel that is gone has disarmed the timer; one that lives belongs to a
  // loop that no longer runs (the server stops its workers first).
  if (timer_.node.armed() && loop_) loop_->timers().cancel(&timer_.node);
}

void ControlChannel::setHandler(std::string kind, Handler handler) { handlers_[std::move(kind)] = std::move(handler); }

void ControlChannel::start(net::EventLoop& loop) {
  loop_ = &loop;
  loop.post([this] { heartbeat(); });
}

void ControlChannel::onHeartbeatTimer(net::TimerNode* n) {
  reinterpret_cast<HeartbeatTimer*>(n)->self->heartbeat();
}

// On loop_: tells every node (this one included, through the broker) our
// counts, then re-arms.
void ControlChannel::heartbeat() {
  std::string body = encodeNodeInfo(localInfo());
  send("info", "", std::move(body), [](bool, const broker::BrokerError* e) {
    if (e) spdlog::warn("control channel: heartbeat not sent: {}", e->message);
  });
  loop_->timers().schedule(&timer_.node, uint64_t(kHeartbeatInterval.count()));
}

void ControlChannel::send(std::string_view kind, std::string_view to, std::string body,
                          broker::Callback<bool> done) {
  std::string payload = encodeControl(ControlMessage{uid(), std::string(to), std::string(kind), std::move(body)});
  if (payload.size() > kMaxControlBytes) {
    broker::BrokerError error{"control message of " + std::to_string(payload.size()) + " bytes is over the " +
                                  std::to_string(kMaxControlBytes) + "-byte limit",
                              false};
    if (done) done(false, &error);
    return;
  }
  broker_.publishControl(std::move(payload), std::move(done));
}

const std::string& ControlChannel::uid() const { return node_.id(); }

NodeInfo ControlChannel::localInfo() const {
  NodeInfo info;
  info.uid = node_.id();
  info.name = node_.name();
  info.version = SB_VERSION;
  int64_t clients = node_.stats().clients.load(std::memory_order_relaxed);
  info.numClients = clients > 0 ? uint64_t(clients) : 0;
  info.numChannels = node_.hub().channelCount();
  int64_t subs = int64_t(node_.hub().stats().subscriptions.load(std::memory_order_relaxed));
  info.numSubs = subs > 0 ? uint64_t(subs) : 0;
  info.uptime = uint64_t(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - node_.started()).count());
  return info;
}

std::vector<NodeInfo> ControlChannel::nodes() {
  std::vector<NodeInfo> out{localInfo()};
  for (auto& n : registry_.live(net::monotonicMs()))
    if (n.uid != out.front().uid) out.push_back(std::move(n));
  return out;
}

bool ControlChannel::isLiveNode(std::string_view uid) {
  return uid == node_.id() || registry_.isLive(uid, net::monotonicMs());
}

void ControlChannel::onControl(std::string_view payload) {
  std::string problem;
  auto m = decodeControl(payload, problem);
  if (!m) {
    spdlog::warn("control channel: dropped a malformed message ({} bytes): {}", payload.size(), problem);
    return;
  }
  if (m->from == node_.id()) return;             // our own: already acted on locally
  if (!m->to.empty() && m->to != node_.id()) return;  // addressed to another node
  if (m->kind == "info") {
    auto info = decodeNodeInfo(m->body, problem);
    if (!info || info->uid != m->from) {
      spdlog::warn("control channel: dropped a heartbeat from {}: {}", m->from,
                   info ? std::string("uid differs from the sender") : problem);
      return;
    }
    const bool newcomer = registry_.update(std::move(*info), net::monotonicMs());
    // A node that just started knows no other node until their next
    // heartbeat (up to kHeartbeatInterval): answer its first broadcast with
    // ours, addressed to it, so it can route /emulation and list us at once.
    // Addressed answers are not answered, so this never ping-pongs.
    if (newcomer && m->to.empty()) {
      send("info", m->from, encodeNodeInfo(localInfo()), [](bool, const broker::BrokerError* e) {
        if (e) spdlog::debug("control channel: heartbeat answer not sent: {}", e->message);
      });
    }
    return;
  }
  auto it = handlers_.find(m->kind);
  if (it == handlers_.end()) {
    spdlog::debug("control channel: ignored a message of unknown kind \"{}\" from {}", m->kind, m->from);
    return;
  }
  it->second(*m);
}

}  // namespace sb::core
