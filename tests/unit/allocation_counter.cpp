// The global operator new of the unit-test binary, counting this thread's
// allocations while a test asks it to (tests/support/AllocationCounter.h).
// Replacing operator new is the only way to see every allocation a component
// makes, so tests can claim "nothing allocated per delivery" and check it.
#include <cstdlib>
#include <new>

#include "../support/AllocationCounter.h"

namespace sb::test {
namespace {
thread_local bool gCounting = false;
thread_local size_t gAllocations = 0;
}  // namespace

void AllocationCounter::start() {
  gAllocations = 0;
  gCounting = true;
}

size_t AllocationCounter::stop() {
  gCounting = false;
  return gAllocations;
}

}  // namespace sb::test

void* operator new(size_t n) {
  if (sb::test::gCounting) ++sb::test::gAllocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (sb::test::gCounting) ++sb::test::gAllocations;
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
