// bulk.hpp: the one reassembly of bulk messages (message.hpp: arg2 = the whole payload's bytes,
// offset = where a fragment goes). The fragments of a bulk message arrive in order, and two bulk
// messages from one sender to one inbox do not interleave (docs/reliability.md), so one payload
// per sender is under way at a time; a fragment that does not continue it is a fatal error naming
// the sender, and so is a payload too large for memory. Not thread safe: one per inbox reader.
#ifndef DSM_RUNTIME_TRANSPORT_BULK_HPP_
#define DSM_RUNTIME_TRANSPORT_BULK_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/log.hpp"
#include "transport/message.hpp"

namespace dsm::rt {

class bulk_assembly {
 public:
  // Adds the fragment h/payload from h.src; the whole payload when this fragment completes it.
  std::optional<std::vector<std::byte>> add(const header& h, std::span<const std::byte> payload) {
    partial& p = partial_[h.src];
    if (h.offset == 0) {
      // validate() allows totals up to 4 GiB: running out of memory is a fatal error naming the
      // sender, never an exception through the engine or the fault handler.
      try {
        p.bytes.assign(h.arg2, std::byte{0});
      } catch (const std::bad_alloc&) {
        fatal("no memory for a %s of %llu bytes from rank %d", msg_name(h.type), static_cast<unsigned long long>(h.arg2),
              h.src);
      }
      p.received = 0;
    }
    if (p.bytes.size() != h.arg2 || h.offset != p.received || payload.size() > h.arg2 - p.received) {
      fatal("a fragment of a %s from rank %d does not continue the one before", msg_name(h.type), h.src);
    }
    if (!payload.empty()) std::memcpy(p.bytes.data() + h.offset, payload.data(), payload.size());
    p.received += payload.size();
    if (p.received < h.arg2) return std::nullopt;
    std::vector<std::byte> whole = std::move(p.bytes);
    partial_.erase(h.src);
    return whole;
  }

 private:
  struct partial {
    std::vector<std::byte> bytes;
    std::uint64_t received = 0;
  };
  std::unordered_map<int, partial> partial_;  // by sender
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_BULK_HPP_
