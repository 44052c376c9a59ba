#include "centrifugo_options.h"

#include <string_view>

#include "common.h"

namespace sbbench {
namespace {

bool json_safe(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

void validate_centrifugo_options(const CentrifugoOptions& o) {
  for (char c : o.token) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == '=';
    if (!ok) throw UsageError("--token must be a JWT (base64url parts separated by dots)");
  }
  if (o.channel.size() > 255 || !json_safe(o.channel)) {
    throw UsageError("channel name must be at most 255 printable characters without '\"' or '\\'");
  }
}

void validate_url_channel(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 255;
  for (char c : name) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                c == '_' || c == ':' || c == '~');
  }
  if (!ok) throw UsageError("channel '" + name + "' cannot go into a URL as is (letters, digits, . - _ : ~ only)");
}

std::string per_connection_channel(uint64_t j) { return "c" + std::to_string(j); }

std::string CentrifugoOptions::own_channel(uint32_t i) const {
  return channels == 0 ? channel : per_connection_channel((first_index + i) % channels);
}

std::string CentrifugoOptions::expand_target(uint32_t i) const {
  std::string out;
  out.reserve(path_template.size() + 32);
  std::string_view rest = path_template;
  while (!rest.empty()) {
    size_t brace = rest.find('{');
    out.append(rest.substr(0, brace));
    if (brace == std::string_view::npos) break;
    rest.remove_prefix(brace);
    if (rest.substr(0, 9) == "{channel}") {
      out += own_channel(i);
      rest.remove_prefix(9);
    } else if (rest.substr(0, 10) == "{channel2}") {
      out += channel;
      rest.remove_prefix(10);
    } else {
      out += '{';
      rest.remove_prefix(1);
    }
  }
  return out;
}

}  // namespace sbbench
