// barrier.cpp: see barrier.hpp.
#include "sync/barrier.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "base/log.hpp"
#include "coherence/protocol.hpp"
#include "transport/wire.hpp"

namespace dsm::rt {
namespace {
std::string describe(std::uint64_t kind, std::uint64_t arg) {
  switch (static_cast<collective>(kind)) {
    case collective::barrier: return "dsm::barrier()";
    case collective::alloc: return "dsm::alloc(" + std::to_string(arg) + " bytes)";
    case collective::free:
      return arg == kForeignPointer ? "dsm::free(a pointer dsm::alloc did not return)"
                                    : "dsm::free(offset " + std::to_string(arg) + " of the global space)";
    case collective::finalize: return "dsm::finalize()";
    case collective::destroy:
      return arg == kLockHeld ? "dsm::destroy(an object whose lock it holds)"
                              : "dsm::destroy(the object of lock " + std::to_string(arg) + ")";
    case collective::bind: {
      char sum[32];
      std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(arg));
      return std::string("dsm::mutex::bind (lock, address and size hash to ") + sum + ")";
    }
  }
  return "an unknown collective call";
}

// Ends the job if the calls of the ranks (by rank) do not agree.
void check_calls(const std::vector<barrier_service::call>& calls) {
  for (std::size_t r = 1; r < calls.size(); ++r) {
    const barrier_service::call& a = calls[0];
    const barrier_service::call& b = calls[r];
    if (a.kind != b.kind || a.arg != b.arg) {
      fatal("collective calls out of step: rank 0 called %s while rank %zu called %s", describe(a.kind, a.arg).c_str(), r,
            describe(b.kind, b.arg).c_str());
    }
  }
}
// Records of the messages up and down the tree (transport/wire.hpp): an arrival is
// [rank][epoch][kind][arg][sized payload], a release [rank][sized payload], every number a u64.
int get_rank(wire_reader& in, int ranks) {
  const auto r = in.get<std::uint64_t>();
  DSM_REQUIRE(r < static_cast<std::uint64_t>(ranks), "barrier record of rank %llu", static_cast<unsigned long long>(r));
  return static_cast<int>(r);
}
}  // namespace

barrier_service::barrier_service(context& ctx, protocol& proto, std::unique_ptr<node_barrier> node,
                                 const std::vector<int>& leader_of)
    : ctx_(ctx),
      proto_(proto),
      node_(std::move(node)),
      group_of_(leader_of.size()),
      leaders_(leader_of),
      incoming_(static_cast<size_t>(ctx.ranks)),
      calls_(static_cast<size_t>(ctx.ranks)),
      arrivals_(static_cast<size_t>(ctx.ranks)) {
  std::sort(leaders_.begin(), leaders_.end());
  leaders_.erase(std::unique(leaders_.begin(), leaders_.end()), leaders_.end());
  for (std::size_t r = 0; r < leader_of.size(); ++r) {
    group_of_[r] = static_cast<int>(std::lower_bound(leaders_.begin(), leaders_.end(), leader_of[r]) - leaders_.begin());
    if (leader_of[r] == leader_of[static_cast<size_t>(ctx.rank)]) members_.push_back(static_cast<int>(r));
  }
  group_ = group_of_[static_cast<size_t>(ctx.rank)];
  DSM_REQUIRE(leaders_[0] == 0 && (node_ != nullptr || members_.size() == 1), "barrier groups inconsistent at rank %d",
              ctx.rank);
  // Binomial tree: group k's children are k + 1, k + 2, k + 4, ... below its lowest set bit (every
  // power of two for group 0), each covering as many groups as its distance from k.
  const int groups = static_cast<int>(leaders_.size());
  const int reach = group_ == 0 ? groups : (group_ & -group_);
  for (int step = 1; step < reach && group_ + step < groups; step <<= 1) children_.push_back(group_ + step);
  // Two groups: each leader sends its group's arrivals to the other's engine and its own, and both
  // merge; one hop between the nodes instead of two, the same bytes.
  if (groups == 2) {
    children_.clear();
    peer_ = leaders_[static_cast<size_t>(1 - group_)];
  }
}

std::vector<std::byte> barrier_service::arrive(collective kind, std::uint64_t arg, std::span<const std::byte> payload) {
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  const std::uint64_t epoch = ++epoch_;
  if (node_ && leaders_.size() == 1) return arrive_on_node(kind, arg, payload, epoch);
  return arrive_in_tree(kind, arg, payload, epoch);
}

std::vector<std::byte> barrier_service::arrive_in_tree(collective kind, std::uint64_t arg, std::span<const std::byte> payload,
                                                       std::uint64_t epoch) {
  wire_writer arrivals;
  if (node_) {
    const bool last = node_->arrive({epoch, static_cast<std::uint64_t>(kind), arg}, payload);
    if (members_[0] != ctx_.rank) {
      if (last) node_->wake_leader();
      node_->wait();
      return node_->my_release();
    }
    if (!last) node_->wait_arrivals();
    for (std::size_t l = 0; l < members_.size(); ++l) {
      const node_barrier::call c = node_->call_of(static_cast<int>(l));
      arrivals.put(static_cast<std::uint64_t>(members_[l]));
      arrivals.put(c.epoch);
      arrivals.put(c.kind);
      arrivals.put(c.arg);
      arrivals.put_sized(node_->arrival_of(static_cast<int>(l)));
    }
  } else {
    arrivals.put(static_cast<std::uint64_t>(ctx_.rank));
    arrivals.put(epoch);
    arrivals.put(static_cast<std::uint64_t>(kind));
    arrivals.put(arg);
    arrivals.put_sized(payload);
  }
  // Not under state_mu: a large payload may wait for room while this rank's engine must go on
  // serving.
  app_op op;
  if (peer_ >= 0) {
    // Two groups: the leaders swap their groups' arrivals, application thread to application
    // thread, and each merges both; no engine takes part. This thread waits for the other's as for
    // any reply from another node (polling the network for a while, then asleep); if they came
    // first, they wait aside in the context (context::take_early).
    header swap{.type = msg::barrier_swap, .to = inbox::app, .id = epoch, .arg = members_.size()};
    ctx_.post_bulk(peer_, swap, arrivals.out);
    app_op theirs;
    theirs.expect_a = msg::barrier_swap;
    theirs.id = epoch;
    ctx_.wait(theirs, [](const app_op& o) { return o.done; });
    std::vector<std::byte> both = std::move(arrivals.out);
    both.insert(both.end(), theirs.payload.begin(), theirs.payload.end());
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    op.payload = merge(both, members_.size() + theirs.covered);
  } else {
    // Through this rank's own engine, which gathers the subtree (a leaf of the tree has nothing
    // to gather: straight to its parent's engine).
    op.expect_a = msg::barrier_release;
    op.id = epoch;
    send_up(group_ != 0 && children_.empty() ? parent_leader() : ctx_.rank, epoch, arrivals.out, members_.size());
    ctx_.wait(op, [](const app_op& o) { return o.done; });
  }
  // The group's releases, by rank.
  std::vector<std::vector<std::byte>> releases(members_.size());
  for (wire_reader in{op.payload, 0, "barrier releases"}; !in.done();) {
    const int r = get_rank(in, ctx_.ranks);
    const auto l = std::lower_bound(members_.begin(), members_.end(), r);
    DSM_REQUIRE(l != members_.end() && *l == r, "release of rank %d at rank %d, outside its group", r, ctx_.rank);
    const std::span<const std::byte> b = in.get_sized();
    releases[static_cast<size_t>(l - members_.begin())].assign(b.begin(), b.end());
  }
  if (node_) node_->release(releases);
  return std::move(releases[0]);  // the leader's own: it is its group's lowest rank
}

void barrier_service::send_up(int dest, std::uint64_t epoch, std::span<const std::byte> arrivals, std::uint64_t covered) {
  // One message when the arrivals fit in one (between hosts a second message costs about as much
  // as the barrier); else the data first, in fragments, and the arrival after it, in order.
  if (arrivals.size() > ctx_.net->max_payload()) {
    header d{.type = msg::barrier_data, .to = inbox::engine, .id = epoch};
    ctx_.post_bulk(dest, d, arrivals);
    arrivals = {};
  }
  // Straight to the transport, even to this rank's own engine.
  header h{.type = msg::barrier_arrive, .to = inbox::engine, .id = epoch, .arg = covered};
  ctx_.check_outgoing(dest, h, arrivals.size());
  ctx_.net->send(dest, h, arrivals);
}

void barrier_service::handle(const header& h, std::span<const std::byte> payload) {
  DSM_REQUIRE(members_[0] == ctx_.rank && peer_ < 0, "barrier message at rank %d's engine, not a tree's leader", ctx_.rank);
  std::vector<std::byte>& in = incoming_[static_cast<size_t>(h.src)];
  if (h.type == msg::barrier_data || h.type == msg::barrier_pass) {
    std::optional<std::vector<std::byte>> whole = bulk_.add(h, payload);
    if (!whole) return;
    if (h.type == msg::barrier_data) {
      in = std::move(*whole);
      return;
    }
    DSM_REQUIRE(group_ != 0 && h.src == parent_leader(), "barrier releases from rank %d, not this group's parent", h.src);
    pass_down(h.id, *whole);
    return;
  }
  // barrier_arrive, from this rank's own application thread or a child's leader: its arrivals are
  // its payload, or the data before it.
  std::vector<std::byte> bundle = std::move(in);
  in.clear();
  bundle.insert(bundle.end(), payload.begin(), payload.end());
  std::optional<std::vector<std::byte>> mine = gather(h.id, bundle, h.arg);
  if (!mine) return;
  pass_down(h.id, *mine);
}

std::optional<std::vector<std::byte>> barrier_service::gather(std::uint64_t epoch, std::span<const std::byte> bundle,
                                                              std::uint64_t covered) {
  // By epoch: a child may send its arrivals at the next call before this rank's own at this one
  // are in.
  gathering& g = gathering_[epoch];
  g.arrivals.insert(g.arrivals.end(), bundle.begin(), bundle.end());
  g.covered += covered;
  if (++g.bundles < 1 + children_.size()) return std::nullopt;
  const gathering done = std::move(g);
  gathering_.erase(epoch);
  if (group_ != 0) {
    send_up(parent_leader(), epoch, done.arrivals, done.covered);
    return std::nullopt;
  }
  return merge(done.arrivals, done.covered);
}

std::vector<std::byte> barrier_service::merge(std::span<const std::byte> arrivals, std::uint64_t covered) {
  DSM_REQUIRE(covered == static_cast<std::uint64_t>(ctx_.ranks), "barrier gathered %llu arrivals of %d ranks",
              static_cast<unsigned long long>(covered), ctx_.ranks);
  std::vector<std::uint64_t> epochs(static_cast<size_t>(ctx_.ranks), 0);
  for (wire_reader in{arrivals, 0, "barrier arrivals"}; !in.done();) {
    const auto r = static_cast<size_t>(get_rank(in, ctx_.ranks));
    DSM_REQUIRE(epochs[r] == 0, "two barrier arrivals of rank %zu", r);
    epochs[r] = in.get<std::uint64_t>();
    calls_[r].kind = in.get<std::uint64_t>();
    calls_[r].arg = in.get<std::uint64_t>();
    const std::span<const std::byte> a = in.get_sized();
    arrivals_[r].assign(a.begin(), a.end());
  }
  for (int r = 0; r < ctx_.ranks; ++r) {
    if (epochs[static_cast<size_t>(r)] != epochs[0]) {
      fatal("rank %d arrived at collective call %llu while the others are at %llu", r,
            static_cast<unsigned long long>(epochs[static_cast<size_t>(r)]), static_cast<unsigned long long>(epochs[0]));
    }
  }
  check_calls(calls_);
  std::vector<std::vector<std::byte>> releases;
  if (calls_[0].kind == static_cast<std::uint64_t>(collective::barrier) && calls_[0].arg == 0) {
    if (sync_payloads* p = proto_.payloads()) releases = p->barrier_merge(arrivals_);
  }
  for (auto& a : arrivals_) a.clear();
  wire_writer out;
  for (int r = 0; r < ctx_.ranks; ++r) {
    if (peer_ >= 0 && group_of_[static_cast<size_t>(r)] != group_) continue;  // the other leader releases its own
    out.put(static_cast<std::uint64_t>(r));
    out.put_sized(releases.empty() ? std::span<const std::byte>{} : std::span<const std::byte>(releases[static_cast<size_t>(r)]));
  }
  return std::move(out.out);
}

void barrier_service::pass_down(std::uint64_t epoch, std::span<const std::byte> releases) {
  std::vector<wire_writer> to_child(children_.size());
  wire_writer own;
  for (wire_reader in{releases, 0, "barrier releases"}; !in.done();) {
    const int r = get_rank(in, ctx_.ranks);
    const std::span<const std::byte> b = in.get_sized();
    const int g = group_of_[static_cast<size_t>(r)];
    DSM_REQUIRE(g >= group_, "release of rank %d passed to group %d", r, group_);
    // Child i covers the groups at distance [2^i, 2^(i+1)) from this one.
    const std::size_t child = g == group_ ? 0 : static_cast<std::size_t>(std::bit_width(static_cast<unsigned>(g - group_))) - 1;
    DSM_REQUIRE(g == group_ || child < children_.size(), "release of rank %d outside group %d's subtree", r, group_);
    wire_writer& out = g == group_ ? own : to_child[child];
    out.put(static_cast<std::uint64_t>(r));
    out.put_sized(b);
  }
  // A child with children of its own gets them through its engine; a leaf, straight to its
  // application thread (as it sent its arrivals straight here).
  for (std::size_t i = 0; i < children_.size(); ++i) {
    const bool leaf = i == 0 || children_[i] + 1 == static_cast<int>(leaders_.size());
    header p{.type = leaf ? msg::barrier_release : msg::barrier_pass, .to = leaf ? inbox::app : inbox::engine, .id = epoch};
    ctx_.post_bulk(leaders_[static_cast<size_t>(children_[i])], p, to_child[i].out);
  }
  header rel{.type = msg::barrier_release, .to = inbox::app, .id = epoch};
  ctx_.post_bulk(ctx_.rank, rel, own.out);
}

std::vector<std::byte> barrier_service::arrive_on_node(collective kind, std::uint64_t arg, std::span<const std::byte> payload,
                                                       std::uint64_t epoch) {
  if (!node_->arrive({epoch, static_cast<std::uint64_t>(kind), arg}, payload)) {
    node_->wait();
    return node_->my_release();
  }
  // The last to arrive does what rank 0's engine does on the message path.
  for (int r = 0; r < ctx_.ranks; ++r) {
    const node_barrier::call c = node_->call_of(r);
    if (c.epoch != epoch) {
      fatal("rank %d arrived at collective call %llu while the others are at %llu", r, static_cast<unsigned long long>(c.epoch),
            static_cast<unsigned long long>(epoch));
    }
    calls_[static_cast<size_t>(r)] = {c.kind, c.arg};
  }
  check_calls(calls_);
  std::vector<std::vector<std::byte>> releases;
  if (kind == collective::barrier && arg == 0) {
    for (int r = 0; r < ctx_.ranks; ++r) {
      const std::span<const std::byte> a = node_->arrival_of(r);
      arrivals_[static_cast<size_t>(r)].assign(a.begin(), a.end());
    }
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (sync_payloads* p = proto_.payloads()) releases = p->barrier_merge(arrivals_);
  }
  for (auto& a : arrivals_) a.clear();
  node_->release(releases);
  return node_->my_release();
}

}  // namespace dsm::rt
