// Counts the allocations (operator new) this thread makes between start() and
// stop(); defined in tests/unit/allocation_counter.cpp, which replaces the
// unit-test binary's global operator new.
#pragma once

#include <cstddef>

namespace sb::test {

struct AllocationCounter {
  static void start();
  static size_t stop();  // the count since start()
};

}  // namespace sb::test
