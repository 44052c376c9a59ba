#pragma once
// Liveness of client sessions for broker answers that come later (the Redis
// broker answers on a later loop iteration, when the session may be gone).
//
// A session keeps no per-connection memory for this: a per-worker table
// (owned by Node, used on that worker's loop thread only) maps a session with
// outstanding broker operations to {outstanding count, incarnation}. Starting
// an operation registers it; its callback captures {session, incarnation}
// and, when it runs, ends the operation and learns whether the session is
// still the same live one. A session that closes forgets its entry, so a
// later answer finds nothing (or, if a new session reuses the address, a
// different incarnation) and is dropped.
#include <cstdint>
#include <unordered_map>

namespace sb::core {

class SessionOpTable {
 public:
  // One more outstanding operation of `session`; returns its incarnation
  // (assigned when the session enters the table, kept while it stays).
  uint64_t begin(const void* session) {
    auto [it, inserted] = entries_.try_emplace(session);
    if (inserted) it->second.incarnation = ++lastIncarnation_;
    ++it->second.outstanding;
    return it->second.incarnation;
  }

  enum class End : uint8_t {
    Gone,      // the session closed (or is another one now): drop the answer
    Alive,     // still there, with more operations outstanding
    AliveLast  // still there, and that was its last outstanding operation
  };
  // Ends one operation started with begin(); the entry goes with the last one.
  End end(const void* session, uint64_t incarnation) {
    auto it = entries_.find(session);
    if (it == entries_.end() || it->second.incarnation != incarnation) return End::Gone;
    if (--it->second.outstanding > 0) return End::Alive;
    entries_.erase(it);
    return End::AliveLast;
  }

  // The session is closing: its outstanding answers will find nothing.
  void forget(const void* session) { entries_.erase(session); }

  // A fresh id for one operation (subscribe position reads tell a stale
  // answer from the current one by it); never 0.
  uint64_t nextOpId() { return ++lastOpId_; }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    uint32_t outstanding = 0;
    uint64_t incarnation = 0;
  };
  std::unordered_map<const void*, Entry> entries_;
  uint64_t lastIncarnation_ = 0;
  uint64_t lastOpId_ = 0;
};

}  // namespace sb::core
