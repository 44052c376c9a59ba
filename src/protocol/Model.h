#pragma once
// The data that travels between brokers, the hub and the protocol codec:
// publications, publisher info and stream positions (Centrifugo protocol v2
// names). Raw JSON fields (data, conn_info, chan_info) hold validated,
// compact JSON text without raw newlines, so the codec embeds them verbatim.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sb::protocol {

struct ClientInfo {
  std::string user;
  std::string client;
  std::string connInfo;  // raw JSON or empty
  std::string chanInfo;  // raw JSON or empty
};

struct Publication {
  uint64_t offset = 0;  // 0 = the channel keeps no history
  std::string data;     // raw JSON
  std::optional<ClientInfo> info;  // publisher, when a client published
  std::vector<std::pair<std::string, std::string>> tags;
  int64_t time = 0;     // unix ms, 0 = not sent
};
// Publications are immutable once published and shared by history, the hub
// and every worker that delivers them.
using PublicationPtr = std::shared_ptr<const Publication>;

// A position in a channel's stream: the publication at `offset` in the stream
// identified by `epoch` (a new epoch means the stream was lost or reset).
struct StreamPosition {
  uint64_t offset = 0;
  std::string epoch;
  bool operator==(const StreamPosition&) const = default;
};

}  // namespace sb::protocol
