#include "transport/PlainPresence.h"

#include <unordered_map>

#include "http/HttpSession.h"
#include "protocol/Codec.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

void servePlainPresence(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  auto refuse = [&](int status, const std::string& message) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(status, message));
  };
  PlainChannelCall call;
  if (auto e = readPlainChannelCall(ctx.req, node, auth::Action::Presence, call)) return refuse(e->status, e->message);
  bool done = false;
  node.broker().presence(call.channel, [&](std::unordered_map<std::string, protocol::ClientInfo> clients,
                                           const broker::BrokerError* e) {
    done = true;
    if (e) return refuse(503, "could not read the presence: " + e->message);
    std::string body = "{\"presence\":{";
    bool first = true;
    for (const auto& [client, info] : clients) {
      if (!first) body += ',';
      first = false;
      protocol::writeString(body, client);
      body += ':';
      protocol::writeClientInfo(body, info);
    }
    body += "}}\n";
    http::Response res = http::Response::json(200, std::move(body));
    res.header("Cache-Control", "no-cache");
    ctx.session.respond(ctx.conn, ctx.req, std::move(res));
  });
  // Only synchronous brokers exist so far (broker/Broker.h).
  if (!done) refuse(503, "the broker did not answer");
}

}  // namespace sb::transport
