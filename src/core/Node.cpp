#include "core/Node.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "core/ClientSession.h"

namespace sb::core {

namespace {
std::string randomNodeId() {
  char id[36];
  Node::newClientId(id);
  return std::string(id, 36);
}
}  // namespace

Node::Node(const config::Config& cfg, std::unique_ptr<broker::Broker> broker, size_t workers)
    : cfg_(cfg),
      rules_(cfg_.channel),
      tokens_(cfg_.client),
      origins_(cfg_.client.allowed_origins),
      broker_(std::move(broker)),
      hub_(*broker_, workers),
      id_(randomNodeId()),
      started_(std::chrono::steady_clock::now()),
      sessions_(workers),
      streams_(workers),
      sessionOps_(std::make_unique<SessionOpTable[]>(workers)) {
  hub_.setRecoveryLimit(cfg_.client.recovery_max_publications);
}

Node::~Node() = default;

void Node::publish(std::string_view channel, std::string data, std::optional<protocol::ClientInfo> info,
                   std::vector<std::pair<std::string, std::string>> tags, std::string idempotencyKey,
                   broker::Callback<broker::PublishResult> done) {
  broker::PublishOptions opts;
  if (const config::ChannelOptions* o = rules_.options(channel); o && o->historyEnabled()) {
    opts.historySize = o->history_size;
    opts.historyTtl = o->history_ttl;
  }
  opts.idempotencyKey = std::move(idempotencyKey);
  protocol::Publication pub;
  pub.data = std::move(data);
  pub.info = std::move(info);
  pub.tags = std::move(tags);
  broker_->publish(channel, std::move(pub), opts, std::move(done));
}

// Out of line: the derived-to-base conversion needs ClientSession complete.
void Node::attachSession(size_t w, ClientSession* s) { sessions_.attach(w, s); }

void Node::detachSession(size_t, ClientSession* s) { PerWorkerList<ClientSession>::detach(s); }

// Random (version 4) UUID text from a per-thread generator seeded by the OS.
void Node::newClientId(char out[36]) {
  thread_local std::mt19937_64 rng = [] {
    uint64_t seed;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) seed = std::random_device{}();
    return std::mt19937_64(seed);
  }();
  uint8_t b[16];
  uint64_t a = rng(), c = rng();
  std::memcpy(b, &a, 8);
  std::memcpy(b + 8, &c, 8);
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
}

}  // namespace sb::core
