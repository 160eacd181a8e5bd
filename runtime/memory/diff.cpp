// diff.cpp: see diff.hpp.
#include "memory/diff.hpp"

#include <cstring>

namespace dsm::rt {
namespace {
constexpr std::size_t kBlock = 64;
constexpr std::size_t kRunHeader = 8;
// For finding a zero byte in a word (the byte-equal positions of twin ^ now).
constexpr std::uint64_t kOnes = 0x0101010101010101ull;
constexpr std::uint64_t kHighs = 0x8080808080808080ull;

void put_run(std::vector<std::byte>& out, std::uint32_t offset, const std::byte* data, std::uint32_t length) {
  const std::size_t at = out.size();
  out.resize(at + kRunHeader + length);
  std::memcpy(out.data() + at, &offset, 4);
  std::memcpy(out.data() + at + 4, &length, 4);
  std::memcpy(out.data() + at + kRunHeader, data, length);
}

template <class Fn>
bool for_each_run(std::span<const std::byte> diff, std::size_t bytes, Fn&& fn) {
  std::size_t at = 0;
  while (at < diff.size()) {
    if (diff.size() - at < kRunHeader) return false;
    std::uint32_t offset, length;
    std::memcpy(&offset, diff.data() + at, 4);
    std::memcpy(&length, diff.data() + at + 4, 4);
    at += kRunHeader;
    if (length == 0 || length > diff.size() - at) return false;
    if (offset > bytes || length > bytes - offset) return false;
    fn(offset, diff.data() + at, length);
    at += length;
  }
  return true;
}
}  // namespace

std::size_t diff_encode(const std::byte* twin, const std::byte* now, std::size_t bytes, std::vector<std::byte>& out) {
  if (std::memcmp(twin, now, bytes) == 0) return 0;  // the common case of a unit written back unchanged
  const std::size_t start = out.size();
  std::size_t i = 0;
  std::size_t run = 0;
  bool in_run = false;
  auto close = [&](std::size_t end) {
    if (in_run) put_run(out, static_cast<std::uint32_t>(run), now + run, static_cast<std::uint32_t>(end - run));
    in_run = false;
  };
  auto byte_by_byte = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to; ++k) {
      if (twin[k] != now[k]) {
        if (!in_run) {
          in_run = true;
          run = k;
        }
      } else {
        close(k);
      }
    }
  };
  while (i < bytes) {
    const std::size_t n = bytes - i < kBlock ? bytes - i : kBlock;
    if (std::memcmp(twin + i, now + i, n) == 0) {
      close(i);
      i += n;
      continue;
    }
    // A block that differs: eight bytes at a time, byte by byte only where a word is mixed.
    std::size_t k = i;
    for (; k + 8 <= i + n; k += 8) {
      std::uint64_t a, c;
      std::memcpy(&a, twin + k, 8);
      std::memcpy(&c, now + k, 8);
      const std::uint64_t x = a ^ c;
      if (x == 0) {
        close(k);
      } else if (((x - kOnes) & ~x & kHighs) == 0) {  // no zero byte: all eight differ
        if (!in_run) {
          in_run = true;
          run = k;
        }
      } else {
        byte_by_byte(k, k + 8);
      }
    }
    byte_by_byte(k, i + n);
    i += n;
  }
  close(bytes);
  return out.size() - start;
}

bool diff_valid(std::span<const std::byte> diff, std::size_t bytes) {
  return for_each_run(diff, bytes, [](std::uint32_t, const std::byte*, std::uint32_t) {});
}

bool diff_apply(std::span<const std::byte> diff, std::byte* dst, std::size_t bytes) {
  if (!diff_valid(diff, bytes)) return false;
  for_each_run(diff, bytes, [&](std::uint32_t offset, const std::byte* data, std::uint32_t length) {
    std::memcpy(dst + offset, data, length);
  });
  return true;
}

std::vector<std::vector<std::byte>> diff_split(std::span<const std::byte> diff, std::size_t max_piece) {
  std::vector<std::vector<std::byte>> pieces(1);
  for_each_run(diff, ~std::size_t{0} >> 1, [&](std::uint32_t offset, const std::byte* data, std::uint32_t length) {
    while (length > 0) {
      if (max_piece - pieces.back().size() < kRunHeader + 1) pieces.emplace_back();
      const std::size_t room = max_piece - pieces.back().size() - kRunHeader;
      const std::uint32_t n = static_cast<std::uint32_t>(length < room ? length : room);
      put_run(pieces.back(), offset, data, n);
      offset += n;
      data += n;
      length -= n;
    }
  });
  if (pieces.back().empty()) pieces.pop_back();
  return pieces;
}

std::size_t diff_payload_bytes(std::span<const std::byte> diff) {
  std::size_t total = 0;
  for_each_run(diff, ~std::size_t{0} >> 1, [&](std::uint32_t, const std::byte*, std::uint32_t length) { total += length; });
  return total;
}

bool diff_reproduces(std::span<const std::byte> diff, const std::byte* twin, const std::byte* now, std::size_t bytes) {
  std::vector<std::byte> copy(twin, twin + bytes);
  return diff_apply(diff, copy.data(), bytes) && std::memcmp(copy.data(), now, bytes) == 0;
}

}  // namespace dsm::rt
