#pragma once
// What the plain endpoints (/sse, and later /ws and /poll) send for a
// publication, and how they write a client's position in its channels.
//
// Event: one JSON object per publication,
//   {"channel":"a","offset":5,"data":<the published JSON>,"info":{...},"tags":{...}}
// ("info" only when a client published, "tags" only when set; "offset" is 0
// in channels without history).
//
// Position list (the SSE `id:`): one part per channel in the order of the
// request's channel list, joined by ",". A part is "<epoch>:<offset>" for a
// channel with history, or "<offset>" (always "0") for one without. Epochs
// never contain "," or ":" (the memory broker's are 8 letters and digits).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/Hub.h"
#include "protocol/Model.h"

namespace sb::transport {

// Appends the event object for `pub` in `channel`.
void writePlainEvent(std::string& out, std::string_view channel, const protocol::Publication& pub);

// Hub encoder: "data: <event object>\n\n", the shared part of an SSE event.
net::SharedBuffer::Ref encodeSseData(const core::ChannelEvent& ev);
// Hub encoder: the event object framed as one WebSocket text message (/ws).
net::SharedBuffer::Ref encodePlainWsFrame(const core::ChannelEvent& ev);
// Hub encoder: the bare event object (/poll answers).
net::SharedBuffer::Ref encodePlainJson(const core::ChannelEvent& ev);

// Join/leave events (Kind::Join or Kind::Leave) as
//   {"channel":"a","info":{"user":..,"client":..,"conn_info":..}}
// Hub encoder: an SSE event "event: join|leave\ndata: <object>\n\n" (no
// `id:`: it moves no position, so the browser's last event id stays).
net::SharedBuffer::Ref encodeSseJoinLeave(const core::ChannelEvent& ev);
// Hub encoder: {"type":"join"|"leave",<the object's members>} framed as one
// WebSocket text message (/ws).
net::SharedBuffer::Ref encodePlainWsJoinLeaveFrame(const core::ChannelEvent& ev);

// Longest text writePositionList can produce for these positions.
size_t positionListMaxSize(const std::vector<protocol::StreamPosition>& positions);
// Writes the list at `out` (room for positionListMaxSize bytes); returns the
// bytes written. Does not allocate.
size_t writePositionList(char* out, const std::vector<protocol::StreamPosition>& positions);
std::string positionList(const std::vector<protocol::StreamPosition>& positions);

// Parses a list for `channels` channels; nullopt when malformed or when the
// number of parts differs (`error` says which).
std::optional<std::vector<protocol::StreamPosition>> parsePositionList(std::string_view text, size_t channels,
                                                                       std::string& error);

}  // namespace sb::transport
