#include "transport/PlainPublish.h"

#include <spdlog/spdlog.h>

#include "http/HttpSession.h"
#include "protocol/Codec.h"
#include "protocol/Json.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

namespace {
bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }
}  // namespace

// Answers through a deferred response: the presence check and the publish
// itself may complete on a later loop turn (a remote broker).
void servePlainPublish(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  http::DeferredResponse answer = ctx.session.defer(ctx.conn, ctx.req);
  auto refuse = [answer](int status, const std::string& message) {
    answer.respond(http::Response::error(status, message));
  };
  readPlainChannelCall(
      ctx.req, node, auth::Action::Publish,
      [&node, answer, refuse, body = std::string(ctx.req.body)](std::optional<PlainError> e, PlainChannelCall call) {
        if (e) return refuse(e->status, e->message);
        if (blank(body)) return refuse(400, "empty body: send the publication's data as JSON");
        // Stored and re-sent to every subscriber: without the sender's whitespace.
        std::string data, why;
        if (!protocol::json::compact(body, data, &why)) return refuse(400, "body is not valid JSON: " + why);
        protocol::ClientInfo info{call.caller.user, call.client, call.caller.connInfo, {}};
        if (info.client.empty()) {
          char id[36];
          core::Node::newClientId(id);
          info.client.assign(id, sizeof id);
        }
        node.publish(call.channel, std::move(data), std::move(info), {}, {},
                     [answer, refuse, channel = call.channel](broker::PublishResult r, const broker::BrokerError* e) {
                       if (e) {
                         spdlog::warn("plain publish to '{}' failed: {}", channel, e->message);
                         return refuse(503, "the publication was not stored: " + e->message);
                       }
                       std::string out = "{\"offset\":" + std::to_string(r.position.offset);
                       if (!r.position.epoch.empty()) {
                         out += ",\"epoch\":";
                         protocol::writeString(out, r.position.epoch);
                       }
                       out += "}\n";
                       answer.respond(http::Response::json(200, std::move(out)));
                     });
      });
}

}  // namespace sb::transport
