#include "transport/PlainHistory.h"

#include <charconv>

#include "http/HttpSession.h"
#include "protocol/Codec.h"
#include "transport/PlainEvent.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

// Answers through a deferred response: the broker reads may complete later.
void servePlainHistory(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  http::DeferredResponse answer = ctx.session.defer(ctx.conn, ctx.req);
  auto refuse = [answer](int status, const std::string& message) {
    answer.respond(http::Response::error(status, message));
  };
  readPlainChannelCall(ctx.req, node, auth::Action::History,
                       [&node, answer, refuse, asked = ctx.req.queryParam("limit")](std::optional<PlainError> e,
                                                                                    PlainChannelCall call) {
    if (e) return refuse(e->status, e->message);
    const int maxLimit = node.config().client.history_max_publications;
    int limit = maxLimit;
    if (!asked.empty()) {
      uint64_t n = 0;
      auto r = std::from_chars(asked.data(), asked.data() + asked.size(), n);
      if (r.ec != std::errc() || r.ptr != asked.data() + asked.size())
        return refuse(400, "limit must be a whole number (0 = only the position)");
      limit = n > uint64_t(maxLimit) ? maxLimit : int(n);
    }
    const config::ChannelOptions* opts = node.rules().options(call.channel);
    broker::HistoryRequest hreq;
    hreq.limit = limit;
    hreq.reverse = true;  // the newest `limit`, written back oldest first
    hreq.historyTtl = opts->history_ttl;
    hreq.metaTtl = node.config().broker.history_meta_ttl;
    node.broker().history(call.channel, hreq, [answer, refuse, channel = call.channel](broker::HistoryResult h,
                                                                                       const broker::BrokerError* e) {
      if (e) return refuse(503, "could not read the history: " + e->message);
      std::string body = "{\"publications\":[";
      for (auto it = h.publications.rbegin(); it != h.publications.rend(); ++it) {
        if (it != h.publications.rbegin()) body += ',';
        writePlainEvent(body, channel, **it);
      }
      body += "],\"epoch\":";
      protocol::writeString(body, h.position.epoch);
      body += ",\"offset\":" + std::to_string(h.position.offset) + "}\n";
      http::Response res = http::Response::json(200, std::move(body));
      res.header("Cache-Control", "no-cache");
      answer.respond(std::move(res));
    });
  });
}

}  // namespace sb::transport
