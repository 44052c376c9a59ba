#include "transport/PlainPresence.h"

#include <unordered_map>

#include "http/HttpSession.h"
#include "protocol/Codec.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

// Answers through a deferred response: the broker reads may complete later.
void servePlainPresence(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  http::DeferredResponse answer = ctx.session.defer(ctx.conn, ctx.req);
  auto refuse = [answer](int status, const std::string& message) {
    answer.respond(http::Response::error(status, message));
  };
  readPlainChannelCall(ctx.req, node, auth::Action::Presence,
                       [&node, answer, refuse](std::optional<PlainError> e, PlainChannelCall call) {
    if (e) return refuse(e->status, e->message);
    node.broker().presence(call.channel, [answer, refuse](std::unordered_map<std::string, protocol::ClientInfo> clients,
                                                          const broker::BrokerError* e) {
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
      answer.respond(std::move(res));
    });
  });
}

}  // namespace sb::transport
