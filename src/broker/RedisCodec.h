#pragma once
// What the Redis broker stores in Redis and sends over Redis pub/sub, as JSON
// so that an operator can read it with redis-cli (docs/scaling.md):
//
//   publication  {"data":"<text>","info":<client info>,"tags":{"k":"v"},"time":<ms>}
//                (info, tags and time only when set; the offset is not in it:
//                it is the stream entry's id, or the "o" of the message)
//   client info  {"user":"…","client":"…","conn_info":"<text>","chan_info":"<text>"}
//   message      {"o":<offset>,"e":"<epoch>","p":<publication>}   a publication
//                {"j":<client info>}                              a join
//                {"l":<client info>}                              a leave
//
// Every text field is a JSON string (data and infos included, whatever they
// hold), so any bytes the broker is given come back unchanged. The publish
// script builds the publication message itself from the publication JSON.
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/Model.h"

namespace sb::broker::rediscodec {

std::string encodePublication(const protocol::Publication& pub);
// False when `json` is not a publication as encodePublication writes it.
bool decodePublication(std::string_view json, protocol::Publication& out);

std::string encodeClientInfo(const protocol::ClientInfo& info);
bool decodeClientInfo(std::string_view json, protocol::ClientInfo& out);

std::string joinMessage(const protocol::ClientInfo& info);
std::string leaveMessage(const protocol::ClientInfo& info);

// One message received on a channel's pub/sub topic.
struct Message {
  enum class Kind { Publication, Join, Leave };
  Kind kind = Kind::Publication;
  uint64_t offset = 0;  // publications only
  std::string epoch;    // publications only
  protocol::Publication publication;
  protocol::ClientInfo info;  // join and leave
};
bool decodeMessage(std::string_view json, Message& out);

}  // namespace sb::broker::rediscodec
