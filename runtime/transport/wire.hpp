// wire.hpp: the one serializer of protocol payloads. Values go in host order (every rank runs the
// same binary), byte strings either bare (the reader knows their length) or sized (a u64 length
// first). A reader that runs past the end of a payload is a fatal error naming what it read.
#ifndef DSM_RUNTIME_TRANSPORT_WIRE_HPP_
#define DSM_RUNTIME_TRANSPORT_WIRE_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/log.hpp"

namespace dsm::rt {

// Appends values and byte strings to a message payload.
struct wire_writer {
  std::vector<std::byte> out;
  template <class T>
  void put(T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
  }
  void put_bytes(std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); }
  // Its length (u64), then the bytes.
  void put_sized(std::span<const std::byte> b) {
    put(static_cast<std::uint64_t>(b.size()));
    put_bytes(b);
  }
};

// Reads them back; a payload that ends early is a fatal error naming `what`.
struct wire_reader {
  std::span<const std::byte> in;
  std::size_t at = 0;
  const char* what;
  template <class T>
  T get() {
    if (in.size() - at < sizeof(T)) fatal("truncated %s", what);
    T v;
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::span<const std::byte> get_bytes(std::size_t n) {
    if (in.size() - at < n) fatal("truncated %s", what);
    auto s = in.subspan(at, n);
    at += n;
    return s;
  }
  // What put_sized wrote.
  std::span<const std::byte> get_sized() {
    return get_bytes(static_cast<std::size_t>(get<std::uint64_t>()));
  }
  bool done() const { return at == in.size(); }
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_WIRE_HPP_
