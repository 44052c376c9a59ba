// Entry points of the benchmark modes; each returns the process exit code.
#pragma once

#include <span>

namespace sbbench {

int run_echo(std::span<char* const> args);
int run_idle(std::span<char* const> args);
int run_fanout(std::span<char* const> args);
int run_sendfloor(std::span<char* const> args);
int run_connect_rate(std::span<char* const> args);

// Exit codes shared by all modes.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;   // nothing useful measured (no connection, deadline, ...)
constexpr int kExitUsage = 2;
constexpr int kExitPartial = 3;   // measured, but some connections failed

}  // namespace sbbench
