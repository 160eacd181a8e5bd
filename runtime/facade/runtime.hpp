// runtime.hpp: the whole runtime of one rank, as only the facade sees it: the context that every
// layer shares (engine/context.hpp) and the services built on top of it. A service below gets what
// it uses when it is built (the protocol its parts, sync its protocol); none of them reaches up.
#ifndef DSM_RUNTIME_FACADE_RUNTIME_HPP_
#define DSM_RUNTIME_FACADE_RUNTIME_HPP_

#include <cstdint>
#include <memory>
#include <vector>

#include "alloc/allocator.hpp"
#include "alloc/arenas.hpp"
#include "coherence/bindings.hpp"
#include "coherence/node_homes.hpp"
#include "coherence/protocol.hpp"
#include "engine/context.hpp"
#include "sync/barrier.hpp"
#include "sync/condvars.hpp"
#include "sync/locks.hpp"

namespace dsm::rt {

// Members are destroyed bottom up: each service before what it uses.
class runtime : public context {
 public:
  std::unique_ptr<node_homes> homes;  // the node-local fast path for unit data, if in use
  std::unique_ptr<allocator> heap;    // collective allocation (dsm::alloc), the first DSM_SIZE bytes
  std::unique_ptr<arenas> arena;      // allocation by one rank (dsm::malloc_bytes), the DSM_ARENA bytes a rank above
  bindings bound;                     // ranges bound to locks (dsm::mutex::bind), the same on every rank
  std::unique_ptr<protocol> proto;
  std::unique_ptr<lock_service> locks;
  std::unique_ptr<condvar_service> condvars;
  std::unique_ptr<barrier_service> barriers;
  // The lock ids of objects (dsm::make_object), the same on every rank: ids below objects have been
  // given out; those in free_objects belong to destroyed objects and are given out again first.
  std::uint64_t objects = 0;
  std::vector<std::uint64_t> free_objects;
};

// The runtime of this process (g_ctx); null outside init/finalize.
inline runtime* the_runtime() noexcept { return static_cast<runtime*>(g_ctx); }

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_FACADE_RUNTIME_HPP_
