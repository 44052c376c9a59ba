#pragma once
// An HTTP response to serialize onto a connection.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sb::http {

const char* statusReason(int status);

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  static Response text(int status, std::string body);
  static Response json(int status, std::string body);
  // A JSON error body {"error":{"code":status,"message":...}} so every
  // failure says what was wrong.
  static Response error(int status, std::string_view message);

  // Status line, headers (adds Content-Length, Connection, Date-free), body.
  // `headOnly` omits the body but keeps its Content-Length.
  std::string serialize(bool keepAlive, bool headOnly = false) const;
};

// Escapes a string for a JSON string literal (without the quotes).
std::string jsonEscape(std::string_view s);

}  // namespace sb::http
