#pragma once
// Incremental HTTP/1.1 request parsing on top of Boost.Beast's parser, with
// the limits the server enforces: a header block over `headerLimit` is 431,
// a body over `bodyLimit` is 413 (before any body byte is read when
// Content-Length says so), an `Expect` other than 100-continue is 417,
// anything malformed is 400. Beast needs the
// complete header block in one contiguous buffer; the caller keeps unconsumed
// bytes and offers them again with more data appended.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "http/Request.h"

namespace sb::http {

class HttpParser {
 public:
  struct Limits {
    size_t headerLimit = 16 * 1024;
    size_t bodyLimit = 1 << 20;
  };
  enum class Result { NeedMore, Complete, Error };

  explicit HttpParser(Limits limits);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses from `data`; `consumed` gets the number of bytes used. Complete
  // moves the request into `out` and readies the parser for the next request
  // (pipelining). After Error, errorStatus()/errorMessage() say why.
  Result parse(std::string_view data, size_t& consumed, Request& out);
  int errorStatus() const { return errorStatus_; }
  const std::string& errorMessage() const { return errorMessage_; }
  // True while a request has started but is not complete.
  bool inProgress() const;
  // True once per request (then false) when an HTTP/1.1 request with
  // `Expect: 100-continue` has its header accepted and its body still to
  // come: the caller answers "100 Continue" so that the client sends it
  // (curl waits a second otherwise). A body over the limit is refused (413)
  // instead, before the client sends it.
  bool takeContinue();

 private:
  struct Impl;
  void fresh();
  Limits limits_;
  std::unique_ptr<Impl> impl_;
  int errorStatus_ = 0;
  std::string errorMessage_;
};

}  // namespace sb::http
