#include "http/HttpParser.h"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <utility>

namespace sb::http {

namespace bhttp = boost::beast::http;

struct HttpParser::Impl {
  bhttp::request_parser<bhttp::string_body> parser;
  bool started = false;
  bool expectChecked = false;  // the header's Expect was looked at
  bool continuePending = false;
};

HttpParser::HttpParser(Limits limits) : limits_(limits) { fresh(); }
HttpParser::~HttpParser() = default;

void HttpParser::fresh() {
  impl_ = std::make_unique<Impl>();
  impl_->parser.header_limit(uint32_t(limits_.headerLimit));
  impl_->parser.body_limit(limits_.bodyLimit);
  impl_->parser.eager(true);
}

bool HttpParser::inProgress() const { return impl_->started; }

bool HttpParser::takeContinue() { return std::exchange(impl_->continuePending, false); }


HttpParser::Result HttpParser::parse(std::string_view data, size_t& consumed, Request& out) {
  consumed = 0;
  auto& p = impl_->parser;
  while (consumed < data.size() && !p.is_done()) {
    // RFC 9112 §2.2: ignore empty lines before a request-line.
    if (!impl_->started) {
      while (consumed < data.size() && (data[consumed] == '\r' || data[consumed] == '\n')) ++consumed;
      if (consumed == data.size()) return Result::NeedMore;
    }
    boost::system::error_code ec;
    size_t n = p.put(boost::asio::const_buffer(data.data() + consumed, data.size() - consumed), ec);
    consumed += n;
    if (n > 0) impl_->started = true;
    if (ec && ec != bhttp::error::need_more) {
      if (ec == bhttp::error::header_limit) {
        errorStatus_ = 431;
        errorMessage_ = "request header fields exceed " + std::to_string(limits_.headerLimit) + " bytes";
      } else if (ec == bhttp::error::body_limit) {
        errorStatus_ = 413;
        errorMessage_ = "request body exceeds " + std::to_string(limits_.bodyLimit) + " bytes";
      } else {
        errorStatus_ = 400;
        errorMessage_ = "malformed request: " + ec.message();
      }
      return Result::Error;
    }
    if (p.is_header_done() && !impl_->expectChecked) {
      // RFC 9110 §10.1.1: 100-continue is the one expectation defined; an
      // HTTP/1.0 request's is ignored.
      impl_->expectChecked = true;
      const auto& header = p.get();
      auto it = header.find(bhttp::field::expect);
      if (it != header.end() && header.version() >= 11) {
        if (!iequals(it->value(), "100-continue")) {
          errorStatus_ = 417;
          errorMessage_ = "unsupported expectation \"" + std::string(it->value()) +
                          "\" (only \"Expect: 100-continue\" is understood)";
          return Result::Error;
        }
        impl_->continuePending = !p.is_done();
      }
    }
    if (ec == bhttp::error::need_more) {
      impl_->started = true;
      return Result::NeedMore;
    }
    if (n == 0) break;
  }
  if (!p.is_done()) return Result::NeedMore;

  auto msg = p.release();
  out = Request{};
  out.method = std::string(msg.method_string());
  out.target = std::string(msg.target());
  size_t q = out.target.find('?');
  out.path = out.target.substr(0, q);
  if (q != std::string::npos) out.query = out.target.substr(q + 1);
  out.version = msg.version();
  out.keep_alive = msg.keep_alive();
  out.headers.reserve(8);
  for (const auto& f : msg) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(msg.body());
  fresh();
  return Result::Complete;
}

}  // namespace sb::http
