#pragma once
// The channels of one plain-endpoint client (/sse, later /ws) on one worker:
// its hub entries, its position in every channel, and the catch-up after a
// reconnect. The wire format is the subclass's (PlainSse writes SSE events).
//
// Resuming uses the protocol clients' recovery (core::ClientSession): every
// entry is registered in the hub as pending BEFORE the channel's position and
// history are read, events delivered meanwhile are buffered, and
// core::mergeRecovery joins both, so each missed publication is written
// exactly once and in order, followed by the live ones (the hub skips offsets
// already written). A position that cannot be recovered (other epoch,
// history gone, more than client.recovery_max_publications missed) is
// reported as a reset with the channel's current position, then the channel
// continues live. Channels without history are live only.
//
// A stream opened with a user's connection token is a client like a
// protocol connection: it gets a client id (sent in its subscribed message),
// holds presence in the channels whose namespace keeps it (refreshed by the
// subclass through refreshPresence, removed when the stream ends) and
// publishes join/leave where the namespace has join_leave; the server API's
// disconnect finds it (core::UserStream). Anonymous streams and long polls
// (a poll is not a lasting connection) do none of this.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/Broker.h"
#include "core/Hub.h"
#include "core/Node.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

class PlainSubscription : public core::Subscriber, public core::UserStream {
 public:
  // `announces`: a lasting stream that may hold presence and publish
  // join/leave (false for a long poll).
  PlainSubscription(core::Node& node, size_t worker, bool announces = true);
  ~PlainSubscription() override;
  PlainSubscription(const PlainSubscription&) = delete;
  PlainSubscription& operator=(const PlainSubscription&) = delete;

  // Registers the request's channels (pending where they keep history),
  // waits until the broker is subscribed (subscribeReady), and reads their
  // positions and, when resuming, what was missed. Writes nothing.
  // `prepared` gets the outcome on this thread, maybe later (a remote
  // broker); never after this subscription is destroyed (a stream that
  // closed meanwhile: the late answers find nothing). On failure (503: the
  // broker failed) nothing stays registered. Call once.
  using PreparedCallback = std::function<void(std::optional<PlainError>)>;
  void prepare(const PlainRequest& req, PreparedCallback prepared);
  // Synchronous form for tests, valid only with a broker that answers before
  // returning (memory); aborts, saying so, otherwise.
  std::optional<PlainError> prepare(const PlainRequest& req);
  // Writes the catch-up, channel by channel in request order (the missed
  // publications or a reset), and makes every entry live. False when the
  // subscription overflowed while pending: the caller ends the stream (the
  // client resumes from what it got).
  bool catchUp();
  // Leaves every channel (idempotent): drops its presence and publishes its
  // leave where it had joined.
  void leave();
  // Re-adds presence (it expires after client.presence_ttl unless refreshed);
  // call more often than that while the stream is open.
  void refreshPresence();
  // Whether any channel holds presence for this stream (it needs refreshing).
  bool holdsPresence() const;

  size_t channelCount() const { return channels_.size(); }
  const std::string& channelName(size_t i) const { return channels_[i].name; }
  bool hasHistory(size_t i) const { return channels_[i].history; }
  // The client's position in each channel (request order): what it has
  // received so far, what it would resume from.
  const std::vector<protocol::StreamPosition>& positions() const { return positions_; }

  // core::UserStream (only streams with a client id are attached).
  std::string_view streamUser() const override { return identity_ ? std::string_view(identity_->user) : ""; }
  std::string_view streamClient() const override { return identity_ ? std::string_view(identity_->client) : ""; }
  void disconnectStream(uint16_t, std::string_view) override { leave(); }

  // core::Subscriber
  void deliver(core::ChannelSubscribers& ch, const core::ChannelEvent& ev, const net::SharedBuffer::Ref& wsFrame) final;
  void deliverPending(core::ChannelSubscribers& ch, const core::ChannelEventPtr& ev) final;
  void entryMoved(core::ChannelSubscribers& ch, uint32_t slot) final;
  // Ends the stream (as the server API's disconnect does): the client comes
  // back with its last event id and resumes, or is told it cannot.
  void positionLost(core::ChannelSubscribers& ch, uint32_t slot) final;

 protected:
  // The wire format. positions() already includes the event when called.
  // A live publication (shared encodings through hub().encoded).
  virtual void emitLive(size_t channel, const core::ChannelEvent& ev) = 0;
  // A missed publication from history.
  virtual void emitMissed(size_t channel, const protocol::Publication& pub) = 0;
  // The position could not be recovered; positions()[channel] is the new one.
  virtual void emitReset(size_t channel, std::string_view reason) = 0;
  // A join or leave event (only on entries that asked for them).
  virtual void emitJoinLeave(size_t channel, const core::ChannelEvent& ev) {}

  // JSON shared by the formats: the channels with their positions,
  // [{"channel":"a","epoch":"..","offset":3},{"channel":"b","offset":0}]
  // ("epoch" only with history; on a resume, written before catchUp, also
  // "recovered":true,"missed":<publications the catch-up sends> or
  // "recovered":false when a reset follows); the member ,"client":"<id>"
  // for a stream with a client id (nothing otherwise); and a reset,
  // {<lead>"channel":"a","recovered":false,"epoch":"..","offset":12,"reason":".."}
  // where `lead` is members to put first (e.g. "\"type\":\"reset\",").
  void writeChannelPositions(std::string& out) const;
  void writeClientMember(std::string& out) const;
  void writeResetObject(std::string& out, size_t channel, std::string_view reason,
                        std::string_view lead = {}) const;

  core::Node& node_;
  const size_t worker_;

 private:
  struct Channel {
    std::string name;
    core::ChannelSubscribers* entries = nullptr;  // null when not registered
    uint32_t slot = 0;
    bool history = false;
    bool resume = false;                  // the client asked to resume here
    bool presence = false;                // holds presence (announced streams with a user)
    bool joinLeave = false;               // publishes join/leave
    bool announced = false;               // presence added / join published
    std::unique_ptr<std::vector<core::ChannelEventPtr>> pending;  // delivered while pending
  };
  // The position reads of one prepare() still out.
  struct PendingReads {
    size_t remaining = 0;
    std::string failure;  // "<channel>: <broker message>" of the first failure
    PreparedCallback prepared;
  };
  void readPosition(size_t i, const std::shared_ptr<PendingReads>& reads);
  void readDone(const std::shared_ptr<PendingReads>& reads);
  size_t indexOf(const core::ChannelSubscribers& ch) const;
  void catchUpChannel(size_t i, const protocol::StreamPosition& since);
  // Why channel i's resume position cannot be recovered, empty when it can
  // (between prepare and catchUp).
  std::string_view unrecoverableReason(size_t i) const;
  protocol::ClientInfo clientInfo() const;

  // The client a stream with a user token is (nullptr for anonymous streams
  // and polls, so those carry one pointer, not three strings).
  struct Identity {
    std::string client;  // UUID
    std::string user;
    std::string connInfo;
  };
  std::unique_ptr<Identity> identity_;
  bool announces_;
  bool attached_ = false;  // in the node's stream list

  std::vector<Channel> channels_;
  std::vector<protocol::StreamPosition> positions_;
  // From prepare until catchUp only (a long-lived stream keeps neither):
  std::vector<protocol::StreamPosition> since_;  // the resume positions
  std::vector<broker::HistoryResult> reads_;     // each channel's position and missed publications
  bool overflowed_ = false;
  // Held weakly by broker callbacks of prepare(): gone with this object.
  std::shared_ptr<bool> alive_;
};

}  // namespace sb::transport
