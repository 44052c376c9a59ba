#include "transport/PlainHistory.h"

#include <charconv>

#include "http/HttpSession.h"
#include "protocol/Codec.h"
#include "transport/PlainEvent.h"
#include "transport/PlainRequest.h"

namespace sb::transport {

void servePlainHistory(http::HttpContext& ctx, core::Node& node) {
  if (!node.origins().admit(ctx)) return;  // 403 for a page client.allowed_origins does not allow
  auto refuse = [&](int status, const std::string& message) {
    ctx.session.respond(ctx.conn, ctx.req, http::Response::error(status, message));
  };
  PlainChannelCall call;
  if (auto e = readPlainChannelCall(ctx.req, node, auth::Action::History, call)) return refuse(e->status, e->message);
  const int maxLimit = node.config().client.history_max_publications;
  int limit = maxLimit;
  std::string asked = ctx.req.queryParam("limit");
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
  bool done = false;
  node.broker().history(call.channel, hreq, [&](broker::HistoryResult h, const broker::BrokerError* e) {
    done = true;
    if (e) return refuse(503, "could not read the history: " + e->message);
    std::string body = "{\"publications\":[";
    for (auto it = h.publications.rbegin(); it != h.publications.rend(); ++it) {
      if (it != h.publications.rbegin()) body += ',';
      writePlainEvent(body, call.channel, **it);
    }
    body += "],\"epoch\":";
    protocol::writeString(body, h.position.epoch);
    body += ",\"offset\":" + std::to_string(h.position.offset) + "}\n";
    http::Response res = http::Response::json(200, std::move(body));
    res.header("Cache-Control", "no-cache");
    ctx.session.respond(ctx.conn, ctx.req, std::move(res));
  });
  // Only synchronous brokers exist so far (broker/Broker.h).
  if (!done) refuse(503, "the broker did not answer");
}

}  // namespace sb::transport
