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

void servePlainPublish(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  auto refuse = [&](int status, const std::string& message) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(status, message));
  };
  PlainChannelCall call;
  if (auto e = readPlainChannelCall(ctx.req, node, auth::Action::Publish, call)) return refuse(e->status, e->message);
  if (blank(ctx.req.body)) return refuse(400, "empty body: send the publication's data as JSON");
  // Stored and re-sent to every subscriber: without the sender's whitespace.
  std::string data, why;
  if (!protocol::json::compact(ctx.req.body, data, &why)) return refuse(400, "body is not valid JSON: " + why);

  protocol::ClientInfo info{call.caller.user, call.client, call.caller.connInfo, {}};
  if (info.client.empty()) {
    char id[36];
    core::Node::newClientId(id);
    info.client.assign(id, sizeof id);
  }
  bool done = false;
  node.publish(call.channel, std::move(data), std::move(info), {}, {},
               [&](broker::PublishResult r, const broker::BrokerError* e) {
                 done = true;
                 if (e) {
                   spdlog::warn("plain publish to '{}' failed: {}", call.channel, e->message);
                   return refuse(503, "the publication was not stored: " + e->message);
                 }
                 std::string body = "{\"offset\":" + std::to_string(r.position.offset);
                 if (!r.position.epoch.empty()) {
                   body += ",\"epoch\":";
                   protocol::writeString(body, r.position.epoch);
                 }
                 body += "}\n";
                 ctx.session.respond(ctx.conn, ctx.req, http::Response::json(200, std::move(body)));
               });
  // Only synchronous brokers exist so far (broker/Broker.h).
  if (!done) refuse(503, "the broker did not answer");
}

}  // namespace sb::transport
