// protocol.cpp: the models this runtime has, one line each, and the choice among them.
#include "coherence/protocol.hpp"

#include "base/log.hpp"

namespace dsm::rt {

namespace {

const model_entry* const kModels[] = {
    &sequential_model,
    &eager_release_model,
    &lazy_release_model,
    &entry_model,
};

}  // namespace

const model_entry& model_of(const options& o) {
  for (const model_entry* m : kModels)
    if (m->model == o.model) return *m;
  fatal("no protocol for model %d", static_cast<int>(o.model));
}

std::unique_ptr<protocol> make_lazy_release(context& ctx, const protocol_parts& parts, const bound_filter* bound) {
  if (ctx.opt.lazy == lazy_protocol::homeless) return make_homeless_lazy_release(ctx, bound);
  return make_home_lazy_release(ctx, parts, bound);
}

// Every rank holds a valid (zero) copy of every unit from the start. Home-based: homes decided per
// unit when first needed, node-mates read home copies, and one message carries several units (a
// fetch with its prefetched units; a lock token with the unit the acquirer needs, and the notices).
const model_entry lazy_release_model{
    dsm::model::lazy_release,
    [](const options& o) {
      if (o.lazy == lazy_protocol::homeless) return model_setup{.at_home = holding::copy, .elsewhere = holding::copy};
      return model_setup{.at_home = holding::copy,
                         .elsewhere = holding::copy,
                         .homes = unit_table::homes::decided,
                         .node_homes = true,
                         .units_per_message = std::max<std::uint64_t>(2, o.prefetch),
                         .extra_bytes = 1024};
    },
    [](context& ctx, const protocol_parts& parts) { return make_lazy_release(ctx, parts, nullptr); }};

}  // namespace dsm::rt
