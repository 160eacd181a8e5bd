// protocol.cpp: the choice of protocol by model.
#include "coherence/protocol.hpp"

#include "core/log.hpp"

namespace dsm::rt {

std::unique_ptr<protocol> make_protocol(context& ctx) {
  switch (ctx.opt.model) {
    case dsm::model::sequential: return make_sequential(ctx);
    case dsm::model::eager_release: return make_eager_release(ctx);
    case dsm::model::lazy_release: return make_lazy_release(ctx);
    case dsm::model::entry: return make_entry(ctx);
  }
  fatal("no protocol for model %d", static_cast<int>(ctx.opt.model));
}

std::unique_ptr<protocol> make_lazy_release(context& ctx, const bound_filter* bound) {
  if (ctx.opt.lazy == lazy_protocol::homeless) return make_homeless_lazy_release(ctx, bound);
  return make_home_lazy_release(ctx, bound);
}

}  // namespace dsm::rt
