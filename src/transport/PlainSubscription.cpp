#include "transport/PlainSubscription.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "core/ClientSession.h"
#include "protocol/Codec.h"

namespace sb::transport {

PlainSubscription::PlainSubscription(core::Node& node, size_t worker, bool announces)
    : node_(node), worker_(worker), announces_(announces) {}

PlainSubscription::~PlainSubscription() { leave(); }

void PlainSubscription::prepare(const PlainRequest& req, PreparedCallback prepared) {
  channels_.resize(req.channels.size());
  positions_.resize(req.channels.size());
  reads_.resize(req.channels.size());
  if (req.since) since_ = *req.since;
  if (announces_ && !req.user.empty()) {
    identity_ = std::make_unique<Identity>();
    char id[36];
    core::Node::newClientId(id);
    identity_->client.assign(id, sizeof id);
    identity_->user = req.user;
    identity_->connInfo = req.connInfo;
  }
  for (size_t i = 0; i < req.channels.size(); ++i) {
    Channel& c = channels_[i];
    c.name = req.channels[i];
    const config::ChannelOptions* opts = node_.rules().options(c.name);
    c.history = opts && opts->historyEnabled();
    c.resume = c.history && req.since.has_value();
    c.presence = identity_ && opts && opts->presence;
    c.joinLeave = identity_ && opts && opts->join_leave;
    // As for a protocol client: force_push_join_leave, or join_leave when asked.
    const bool pushJoinLeave = announces_ && opts && (opts->force_push_join_leave || (opts->join_leave && req.joinLeave));
    uint8_t flags = uint8_t((c.history ? core::SubscriberEntry::kPending : 0) |
                            (pushJoinLeave ? core::SubscriberEntry::kJoinLeave : 0));
    // Registered before the position is read: every publication after the
    // read reaches the entry (buffered while pending), none falls between.
    c.entries = node_.hub().add(worker_, c.name, this, flags, 0, c.slot);
  }
  // One read per channel with history, all at once; `prepared` runs when the
  // last answers. The count starts one high so that answers given inside
  // the broker calls below cannot finish before every read is out.
  auto reads = std::make_shared<PendingReads>();
  reads->prepared = std::move(prepared);
  reads->remaining = 1;
  alive_ = std::make_shared<bool>(true);
  std::weak_ptr<bool> alive = alive_;
  for (size_t i = 0; i < channels_.size(); ++i) {
    Channel& c = channels_[i];
    if (!c.history) continue;
    ++reads->remaining;
    // The broker must deliver every publication after the read (Redis:
    // SUBSCRIBE confirmed) before the position is read.
    node_.broker().subscribeReady(c.name, [this, alive, reads, i](bool, const broker::BrokerError* e) {
      if (alive.expired()) return;  // the stream is gone; nothing to do
      if (e) {
        if (reads->failure.empty()) reads->failure = channels_[i].name + ": " + e->message;
        return readDone(reads);
      }
      readPosition(i, reads);
    });
  }
  readDone(reads);
}

void PlainSubscription::readPosition(size_t i, const std::shared_ptr<PendingReads>& reads) {
  const Channel& c = channels_[i];
  const config::ChannelOptions* opts = node_.rules().options(c.name);
  broker::HistoryRequest hreq;
  hreq.historyTtl = opts->history_ttl;
  hreq.metaTtl = node_.config().broker.history_meta_ttl;
  if (c.resume) {
    hreq.since = since_[i];
    hreq.limit = node_.config().client.recovery_max_publications + 1;  // one more tells "too many missed"
  }
  std::weak_ptr<bool> alive = alive_;
  node_.broker().history(c.name, hreq, [this, alive, reads, i](broker::HistoryResult r, const broker::BrokerError* e) {
    if (alive.expired()) return;
    if (e) {
      if (reads->failure.empty()) reads->failure = channels_[i].name + ": " + e->message;
    } else {
      reads_[i] = std::move(r);
      // The client's position until the catch-up says otherwise: where it
      // asked to resume, or the channel's top for a fresh subscription.
      positions_[i] = channels_[i].resume ? since_[i] : reads_[i].position;
    }
    readDone(reads);
  });
}

void PlainSubscription::readDone(const std::shared_ptr<PendingReads>& reads) {
  if (--reads->remaining > 0) return;
  PreparedCallback prepared = std::move(reads->prepared);
  if (!reads->failure.empty()) {
    spdlog::warn("plain subscription: reading the position of {} failed", reads->failure);
    leave();
    std::string channel = reads->failure.substr(0, reads->failure.find(": "));
    if (prepared) prepared(PlainError{503, "could not read the position of channel '" + channel + "'"});
    return;
  }
  if (prepared) prepared(std::nullopt);
}

std::optional<PlainError> PlainSubscription::prepare(const PlainRequest& req) {
  std::optional<std::optional<PlainError>> outcome;
  prepare(req, [&outcome](std::optional<PlainError> e) { outcome = std::move(e); });
  if (!outcome) {
    spdlog::critical("PlainSubscription::prepare (synchronous form) used with a broker that answers later");
    std::abort();
  }
  return *outcome;
}

bool PlainSubscription::catchUp() {
  for (size_t i = 0; i < channels_.size(); ++i) {
    if (overflowed_) break;
    catchUpChannel(i, i < since_.size() ? since_[i] : protocol::StreamPosition{});
  }
  // Presence and join once the stream is open (a refused handshake never
  // announces anything).
  const auto& ccfg = node_.config().client;
  if (identity_ && !overflowed_ && !attached_) {
    node_.attachStream(worker_, this);
    attached_ = true;
  }
  for (Channel& c : channels_) {
    if (!c.entries || overflowed_ || (!c.presence && !c.joinLeave)) continue;
    c.announced = true;
    if (c.presence) node_.broker().addPresence(c.name, clientInfo(), ccfg.presence_ttl, [](bool, const broker::BrokerError*) {});
    if (c.joinLeave) node_.broker().publishJoin(c.name, clientInfo());
  }
  std::vector<protocol::StreamPosition>().swap(since_);
  std::vector<broker::HistoryResult>().swap(reads_);
  return !overflowed_;
}

void PlainSubscription::catchUpChannel(size_t i, const protocol::StreamPosition& since) {
  Channel& c = channels_[i];
  if (!c.history || !c.entries) return;
  const broker::HistoryResult& read = reads_[i];
  uint64_t lastOffset = read.position.offset;
  std::vector<core::ChannelEventPtr> buffered;
  if (c.pending) buffered.swap(*c.pending);
  c.pending.reset();
  if (c.resume) {
    std::string_view reason = unrecoverableReason(i);
    if (reason.empty()) {
      uint64_t last = since.offset;
      std::vector<protocol::PublicationPtr> missed = core::mergeRecovery(read.publications, buffered, last);
      positions_[i].epoch = read.position.epoch;
      for (const auto& pub : missed) {
        positions_[i].offset = pub->offset;
        emitMissed(i, *pub);
      }
      lastOffset = std::max(last, lastOffset);
    } else {
      positions_[i] = read.position;
      emitReset(i, reason);
    }
  }
  positions_[i] = protocol::StreamPosition{lastOffset, read.position.epoch};
  // The stream positions are known; a slow consumer may have closed us
  // during the writes above (then the entries are gone).
  if (!c.entries) return;
  core::SubscriberEntry& entry = c.entries->at(c.slot);
  entry.lastOffset = lastOffset;
  entry.flags &= uint8_t(~core::SubscriberEntry::kPending);
  c.entries->markPositioned(c.slot, read.position.epoch);
  // Live events that came while pending and are newer than the position read.
  for (const core::ChannelEventPtr& ev : buffered) {
    if (ev->kind != core::ChannelEvent::Kind::Publication || ev->offset <= entry.lastOffset) continue;
    entry.lastOffset = ev->offset;
    positions_[i] = protocol::StreamPosition{ev->offset, ev->epoch};
    emitLive(i, *ev);
    if (!c.entries) return;
  }
}

std::string_view PlainSubscription::unrecoverableReason(size_t i) const {
  const broker::HistoryResult& read = reads_[i];
  if (since_[i].epoch != read.position.epoch) return "epoch changed: the channel's stream was reset";
  if (!read.sinceRetained) return "publications after this position are no longer in history";
  if (read.publications.size() > size_t(node_.config().client.recovery_max_publications))
    return "more missed publications than client.recovery_max_publications";
  return {};
}

void PlainSubscription::leave() {
  if (attached_) {
    node_.detachStream(worker_, this);
    attached_ = false;
  }
  for (Channel& c : channels_) {
    if (c.entries) {
      core::ChannelSubscribers* entries = c.entries;
      c.entries = nullptr;
      node_.hub().remove(worker_, entries, c.slot);  // may destroy *entries
    }
    if (!c.announced) continue;
    c.announced = false;
    if (c.presence) {
      node_.broker().removePresence(c.name, identity_->client, identity_->user, [](bool, const broker::BrokerError*) {});
    }
    if (c.joinLeave) node_.broker().publishLeave(c.name, clientInfo());
  }
}

void PlainSubscription::refreshPresence() {
  const auto ttl = node_.config().client.presence_ttl;
  for (const Channel& c : channels_) {
    if (c.announced && c.presence)
      node_.broker().addPresence(c.name, clientInfo(), ttl, [](bool, const broker::BrokerError*) {});
  }
}

bool PlainSubscription::holdsPresence() const {
  for (const Channel& c : channels_) {
    if (c.announced && c.presence) return true;
  }
  return false;
}

protocol::ClientInfo PlainSubscription::clientInfo() const {
  return protocol::ClientInfo{identity_->user, identity_->client, identity_->connInfo, {}};
}

size_t PlainSubscription::indexOf(const core::ChannelSubscribers& ch) const {
  for (size_t i = 0; i < channels_.size(); ++i) {
    if (channels_[i].entries == &ch) return i;
  }
  return channels_.size();
}

// The hot path: the position update touches only this subscriber's memory
// (epochs are short strings, assigned in place), the bytes come from shared
// encodings (emitLive).
void PlainSubscription::deliver(core::ChannelSubscribers& ch, const core::ChannelEvent& ev,
                                const net::SharedBuffer::Ref&) {
  size_t i = indexOf(ch);
  if (i == channels_.size()) return;
  if (ev.kind != core::ChannelEvent::Kind::Publication) return emitJoinLeave(i, ev);
  protocol::StreamPosition& pos = positions_[i];
  if (ev.offset != 0) {
    pos.offset = ev.offset;
    if (pos.epoch != ev.epoch) pos.epoch = ev.epoch;
  }
  emitLive(i, ev);
}

void PlainSubscription::deliverPending(core::ChannelSubscribers& ch, const core::ChannelEventPtr& ev) {
  size_t i = indexOf(ch);
  if (i == channels_.size() || overflowed_) return;
  Channel& c = channels_[i];
  if (!c.pending) c.pending = std::make_unique<std::vector<core::ChannelEventPtr>>();
  // Bounded as in ClientSession: a position read that takes this long has
  // failed anyway.
  if (c.pending->size() >= size_t(node_.config().client.recovery_max_publications) * 4) {
    overflowed_ = true;
    c.pending.reset();
    return;
  }
  c.pending->push_back(ev);
}

void PlainSubscription::positionLost(core::ChannelSubscribers&, uint32_t) {
  disconnectStream(protocol::disconnect::kInsufficientState.code, protocol::disconnect::kInsufficientState.reason);
}

void PlainSubscription::entryMoved(core::ChannelSubscribers& ch, uint32_t slot) {
  size_t i = indexOf(ch);
  if (i < channels_.size()) channels_[i].slot = slot;
}

void PlainSubscription::writeChannelPositions(std::string& out) const {
  out += '[';
  for (size_t i = 0; i < channels_.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"channel\":";
    protocol::writeString(out, channels_[i].name);
    if (!positions_[i].epoch.empty()) {
      out += ",\"epoch\":";
      protocol::writeString(out, positions_[i].epoch);
    }
    out += ",\"offset\":";
    out += std::to_string(positions_[i].offset);
    if (channels_[i].resume && i < reads_.size()) {
      if (unrecoverableReason(i).empty()) {
        out += ",\"recovered\":true,\"missed\":";
        out += std::to_string(reads_[i].publications.size());
      } else {
        out += ",\"recovered\":false";
      }
    }
    out += '}';
  }
  out += ']';
}

void PlainSubscription::writeClientMember(std::string& out) const {
  if (!identity_) return;
  out += ",\"client\":";
  protocol::writeString(out, identity_->client);
}

void PlainSubscription::writeResetObject(std::string& out, size_t channel, std::string_view reason,
                                         std::string_view lead) const {
  out += '{';
  out += lead;
  out += "\"channel\":";
  protocol::writeString(out, channels_[channel].name);
  out += ",\"recovered\":false,\"epoch\":";
  protocol::writeString(out, positions_[channel].epoch);
  out += ",\"offset\":";
  out += std::to_string(positions_[channel].offset);
  out += ",\"reason\":";
  protocol::writeString(out, reason);
  out += '}';
}

}  // namespace sb::transport
