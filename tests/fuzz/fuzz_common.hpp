// fuzz_common.hpp: what the fuzz targets share. A guarded_unit is the memory of one unit as the
// runtime writes into it: an exact-size heap allocation (so AddressSanitizer reports a write one byte
// past its end) filled with a known pattern, so that the target can check afterwards that nothing
// outside the span a message named has changed. FUZZ_REQUIRE is the property check: a failure prints
// what broke and aborts, which libFuzzer records as a finding with the input that caused it.
#ifndef DSM_TESTS_FUZZ_FUZZ_COMMON_HPP_
#define DSM_TESTS_FUZZ_FUZZ_COMMON_HPP_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#define FUZZ_REQUIRE(cond, ...)                                   \
  do {                                                            \
    if (!(cond)) {                                                \
      std::fprintf(stderr, "fuzz property violated: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                          \
      std::fprintf(stderr, "\n");                                 \
      std::abort();                                               \
    }                                                             \
  } while (0)

namespace dsm::fuzz {

class guarded_unit {
 public:
  explicit guarded_unit(std::size_t bytes) : bytes_(bytes), data_(new std::byte[bytes]), copy_(new std::byte[bytes]) {
    for (std::size_t i = 0; i < bytes; ++i) data_[i] = pattern(i);
    std::memcpy(copy_.get(), data_.get(), bytes);
  }
  std::byte* data() { return data_.get(); }
  std::size_t size() const { return bytes_; }
  // True if no byte outside [from, from + n) differs from the pattern it was filled with.
  bool untouched_outside(std::size_t from, std::size_t n) const {
    for (std::size_t i = 0; i < bytes_; ++i)
      if ((i < from || i >= from + n) && data_[i] != copy_[i]) return false;
    return true;
  }
  bool untouched() const { return std::memcmp(data_.get(), copy_.get(), bytes_) == 0; }

 private:
  static std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 131 + 7) & 0xff); }
  std::size_t bytes_;
  std::unique_ptr<std::byte[]> data_;
  std::unique_ptr<std::byte[]> copy_;
};

// Reads a little-endian integer of sizeof(T) bytes at p.
template <class T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace dsm::fuzz

#endif  // DSM_TESTS_FUZZ_FUZZ_COMMON_HPP_
