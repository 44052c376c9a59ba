#include "transport/SessionStream.h"

#include "protocol/Codec.h"
#include "protocol/Codes.h"
#include "transport/EmulationRegistry.h"

namespace sb::transport {

SessionStream::SessionStream(core::Node& node, net::EventLoop& loop, size_t worker, const SessionStreamKind& kind,
                             std::shared_ptr<EmulationRegistry> registry, std::string emulationSession)
    : node_(node),
      loop_(loop),
      worker_(worker),
      kind_(&kind),
      registry_(std::move(registry)),
      emulationSession_(std::move(emulationSession)),
      session_(node, *this) {}

SessionStream::~SessionStream() {
  if (registry_) registry_->remove(emulationSession_);
}

void SessionStream::onStreamOpen(StreamSink& sink) {
  sink_ = &sink;
  if (registry_) registry_->add(emulationSession_, loop_, this);
  session_.start();
}

void SessionStream::onStreamClosed() {
  sink_ = nullptr;
  if (registry_) registry_->remove(emulationSession_);
  session_.transportClosed();
}

void SessionStream::onServerShutdown(StreamSink&) { session_.disconnect(protocol::disconnect::kShutdown); }

void SessionStream::onSlowConsumer(StreamSink&) { session_.disconnect(protocol::disconnect::kSlow); }

void SessionStream::sendText(std::string_view text) {
  if (!sink_) return;
  // Replies and pings: one copy per message, like a WebSocket message.
  thread_local std::string framed;
  framed.clear();
  appendFramed(framed, kind_->framing, kind_->unidirectional, text);
  sink_->writeCopy(framed);
  if (framed.capacity() > 64 * 1024) std::string().swap(framed);
}

void SessionStream::sendShared(const core::ChannelEvent& ev, const net::SharedBuffer::Ref&) {
  if (!sink_) return;
  const net::SharedBuffer::Ref& event =
      node_.hub().encoded(worker_, ev, kind_->unidirectional ? &encodeUniEvent : &encodeEmulationEvent);
  ByteRange r = framedSlice(event->size(), kind_->framing);
  sink_->write(event, r.offset, r.length);
}

void SessionStream::close(uint16_t code, std::string_view reason) {
  if (!sink_) return;
  std::string push;
  protocol::writeDisconnectPush(push, code, reason);
  sendText(push);
  // Ends once the push is flushed; tells onStreamClosed at once.
  if (sink_) sink_->end();
}

}  // namespace sb::transport
