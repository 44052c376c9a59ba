#pragma once
// Finds an emulation session from any worker thread. With the sse and
// http_stream transports the client's later commands arrive as separate
// POST /emulation requests, on whichever worker accepted that connection,
// while the session lives on the worker that holds its stream; the registry
// maps the session id (sent to the client in its connect reply) to that
// worker's loop, and the commands are handed over there (EventLoop::post),
// as the server API reaches sessions.
//
// Thread safety: entries are added and removed only on their own loop thread,
// so a task that finds its entry on that thread may use the stream pointer for
// as long as it runs. Lookups from other threads take the mutex and never
// touch the stream.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/EventLoop.h"

namespace sb::transport {

class SessionStream;

class EmulationRegistry : public std::enable_shared_from_this<EmulationRegistry> {
 public:
  // Commands handed to one session and not yet handled, at most; more are
  // refused (429) so a client cannot queue unbounded work on another worker.
  static constexpr uint32_t kMaxInFlight = 64;

  // `loop`'s thread only.
  void add(const std::string& session, net::EventLoop& loop, SessionStream* stream);
  void remove(const std::string& session);

  enum class Delivery : uint8_t { Accepted, UnknownSession, Busy };
  // Any thread (`current` is the caller's loop). Hands `commands` to the
  // session's stream: at once when the session lives on `current`, else in a
  // task posted to its loop. Accepted does not mean handled: a session that
  // ends meanwhile drops them, as its stream has ended too.
  Delivery deliver(const std::string& session, std::string commands, net::EventLoop& current);

  size_t size() const;

 private:
  struct Entry {
    net::EventLoop* loop;
    SessionStream* stream;
    uint32_t inFlight;
  };
  void deliverPosted(const std::string& session, const std::string& commands);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> sessions_;  // guarded by mu_
};

}  // namespace sb::transport
