// Which channels subscriber connections use and how they name them: the
// shared channel, the per-connection channels c<i mod K>, and (raw WebSocket
// and EventSource subscribers, which take their channels from the URL) the
// request target template with {channel} and {channel2} filled in. Pure
// string work, shared by the subscriber worker and the unit tests.
#pragma once

#include <cstdint>
#include <string>

namespace sbbench {

struct CentrifugoOptions {
  bool enabled = false;
  std::string token;    // JWT for connect; empty = anonymous connect
  std::string channel;  // subscribed after connect (the shared channel); empty = connect only
  uint32_t channels = 0;     // K: per-connection channels c0..c<K-1> besides `channel`
  uint64_t first_index = 0;  // global index of this worker's connection 0
  std::string path_template;  // protocol disabled: request target with {channel}/{channel2}; empty = URL's

  // Connection i's own channel: c<(first_index + i) mod K>, or `channel` when K = 0.
  std::string own_channel(uint32_t i) const;
  // The request target for connection i (path_template with its channels filled in).
  std::string expand_target(uint32_t i) const;
};

// Name of per-connection channel j (K > 0): "c<j>".
std::string per_connection_channel(uint64_t j);

// Throws UsageError when a token or channel cannot be put into a JSON string
// as is (the bench writes commands without an escaping encoder).
void validate_centrifugo_options(const CentrifugoOptions& o);
// Throws UsageError unless `name` can go into a URL query as is.
void validate_url_channel(const std::string& name);

}  // namespace sbbench
