#include "transport/EmulationRegistry.h"

#include "transport/SessionStream.h"

namespace sb::transport {

void EmulationRegistry::add(const std::string& session, net::EventLoop& loop, SessionStream* stream) {
  std::lock_guard lock(mu_);
  sessions_[session] = Entry{&loop, stream, 0};
}

void EmulationRegistry::remove(const std::string& session) {
  std::lock_guard lock(mu_);
  sessions_.erase(session);
}

size_t EmulationRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

EmulationRegistry::Delivery EmulationRegistry::deliver(const std::string& session, std::string commands,
                                                       net::EventLoop& current) {
  net::EventLoop* loop;
  SessionStream* stream;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return Delivery::UnknownSession;
    if (it->second.inFlight >= kMaxInFlight) return Delivery::Busy;
    loop = it->second.loop;
    stream = it->second.stream;
    if (loop != &current) ++it->second.inFlight;
  }
  if (loop == &current) {
    // Same thread as the session: nothing can remove it before this call.
    stream->receive(commands);
    return Delivery::Accepted;
  }
  loop->post([self = shared_from_this(), session, commands = std::move(commands)] {
    self->deliverPosted(session, commands);
  });
  return Delivery::Accepted;
}

void EmulationRegistry::deliverPosted(const std::string& session, const std::string& commands) {
  SessionStream* stream;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;  // ended meanwhile
    --it->second.inFlight;
    stream = it->second.stream;
  }
  stream->receive(commands);
}

}  // namespace sb::transport
