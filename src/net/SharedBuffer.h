#pragma once
// An immutable, reference-counted byte buffer. One publication is encoded and
// framed once into a SharedBuffer and every receiving connection's write queue
// holds a reference to the same bytes (DESIGN.md, fan-out). The count is
// atomic because a buffer may be handed to other workers.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace sb::net {

class SharedBuffer {
 public:
  class Ref {
   public:
    Ref() = default;
    explicit Ref(SharedBuffer* b) : b_(b) {}  // adopts one reference
    Ref(const Ref& o) : b_(o.b_) { if (b_) b_->retain(); }
    Ref(Ref&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
    Ref& operator=(Ref o) noexcept { std::swap(b_, o.b_); return *this; }
    ~Ref() { if (b_) b_->release(); }
    SharedBuffer* get() const { return b_; }
    SharedBuffer* operator->() const { return b_; }
    explicit operator bool() const { return b_ != nullptr; }
    // Gives up ownership of the reference (the caller must release it).
    SharedBuffer* detach() { return std::exchange(b_, nullptr); }

   private:
    SharedBuffer* b_ = nullptr;
  };

  // A buffer of `size` bytes with unspecified contents; fill it through data()
  // before sharing it.
  static Ref create(size_t size) {
    void* mem = std::malloc(sizeof(SharedBuffer) + size);
    if (!mem) throw std::bad_alloc();
    return Ref(::new (mem) SharedBuffer(size));
  }
  static Ref copyOf(std::string_view bytes) {
    Ref r = create(bytes.size());
    if (!bytes.empty()) std::memcpy(r->data(), bytes.data(), bytes.size());
    return r;
  }

  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(this + 1); }
  size_t size() const { return size_; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

  uint32_t refCount() const { return refs_.load(std::memory_order_relaxed); }

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      this->~SharedBuffer();
      std::free(this);
    }
  }

 private:
  explicit SharedBuffer(size_t size) : size_(size) {}
  std::atomic<uint32_t> refs_{1};
  uint32_t pad_ = 0;
  size_t size_;
};

}  // namespace sb::net
