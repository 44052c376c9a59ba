#pragma once
// Shell-style wildcard matching, as operators write patterns in the config
// (client.allowed_origins) and in API calls (channels' `pattern`).
#include <string_view>

namespace sb::util {

// True when `text` matches `pattern` as a whole: '*' matches any run of
// characters (including none), '?' exactly one byte; every other byte
// matches itself (case-sensitive: callers lower-case both sides when they
// want otherwise). Linear in practice and never recursive, so a hostile
// pattern cannot blow the stack.
bool globMatch(std::string_view pattern, std::string_view text);

}  // namespace sb::util
