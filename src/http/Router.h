#pragma once
// Exact-path routing with per-path methods. A path that exists but does not
// take the method answers 405 with an Allow header; anything else goes to the
// fallback (static files, then 404).
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/Request.h"

namespace sb::net {
class Connection;
}

namespace sb::http {

class HttpSession;

struct HttpContext {
  net::Connection& conn;
  Request& req;
  HttpSession& session;
};

class Router {
 public:
  using Handler = std::function<void(HttpContext&)>;

  // `methods` empty = any method. HEAD is accepted wherever GET is.
  void add(std::string path, std::vector<std::string> methods, Handler handler);
  void setFallback(Handler handler) { fallback_ = std::move(handler); }
  void dispatch(HttpContext& ctx) const;

 private:
  struct Route {
    std::vector<std::string> methods;
    Handler handler;
  };
  std::unordered_map<std::string, Route> routes_;
  Handler fallback_;
};

}  // namespace sb::http
