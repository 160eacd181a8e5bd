// mpi.cpp: the program's own MPI calls on shared memory, through the MPI profiling interface
// (bounce.hpp says why).
//
// libdsm defines the MPI calls below; each calls the PMPI_ entry point, directly when no buffer lies
// in the global space. A shared send buffer is copied into a private one before the call; a shared
// receive buffer is received into a private one and copied into place when the call completes: at
// once for blocking calls and collectives, at the MPI_Wait or MPI_Test family call that completes a
// nonblocking receive. The private copy of a nonblocking call lives in a table keyed by its request
// until then. A buffer's extent follows its datatype (its true extent), so derived datatypes work;
// the bytes between a derived type's blocks are copied in and back unchanged.
//
// Covered: MPI_Send, Ssend, Rsend, Bsend, Recv, Sendrecv, Isend, Issend, Irecv, Wait, Waitall,
// Waitany, Waitsome, Test, Testall, Testany, Testsome, Bcast, Reduce, Allreduce, Gather, Allgather,
// Scatter, Alltoall. Not covered (the buffer must be private memory, or made accessible with
// dsm::touch and left alone until the call completes): persistent requests, matched probes
// (MPI_Mrecv), the v-variants of the collectives, nonblocking collectives, one-sided windows and
// MPI_Request_free of a pending receive. The runtime's own MPI traffic calls PMPI_ directly.
// Thread safe: the table has a mutex.
#include <mpi.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "interpose/bounce.hpp"

namespace {

using dsm::rt::bounce;
using dsm::rt::in_global_space;

// One buffer of an MPI call, in a private copy if it lies in the global space.
class buffer {
 public:
  // `count` items of `type` at p. reads: MPI reads them (copied in first); writes: MPI writes them
  // (copied back by finish()).
  buffer(const void* p, long count, MPI_Datatype type, bool reads, bool writes) : user_(const_cast<void*>(p)), writes_(writes) {
    if (p == nullptr || p == MPI_IN_PLACE || count <= 0 || type == MPI_DATATYPE_NULL) return;
    MPI_Aint lb = 0, extent = 0, true_lb = 0, true_extent = 0;
    if (PMPI_Type_get_extent(type, &lb, &extent) != MPI_SUCCESS ||
        PMPI_Type_get_true_extent(type, &true_lb, &true_extent) != MPI_SUCCESS) {
      return;  // MPI reports the bad type itself
    }
    const auto span = static_cast<std::size_t>((count - 1) * extent + true_extent);
    start_ = static_cast<std::byte*>(user_) + true_lb;
    if (!in_global_space(start_, span)) return;
    int size = 0;
    PMPI_Type_size(type, &size);
    const bool dense = true_lb == 0 && true_extent == extent && extent == size;
    copy_ = std::make_unique<bounce>(span);
    if (copy_->data() == nullptr) throw std::bad_alloc();
    if (reads || !dense) std::memcpy(copy_->data(), start_, span);
  }
  buffer(buffer&&) = default;
  buffer& operator=(buffer&&) = default;

  // What to hand to MPI.
  void* get() const { return copy_ ? copy_->data() - (start_ - static_cast<std::byte*>(user_)) : user_; }
  bool bounced() const { return copy_ != nullptr; }
  // After MPI has written the private copy: the bytes go into the shared buffer.
  void finish() {
    if (copy_ && writes_) std::memcpy(start_, copy_->data(), copy_->size());
    copy_.reset();
  }

 private:
  void* user_;
  std::byte* start_ = nullptr;
  bool writes_;
  std::unique_ptr<bounce> copy_;
};

int comm_size(MPI_Comm comm) {
  int n = 1;
  if (comm != MPI_COMM_NULL) PMPI_Comm_size(comm, &n);
  return n;
}

// Nonblocking calls with a private copy, until the call that completes them.
class pending_table {
 public:
  void add(MPI_Request r, buffer b) {
    std::lock_guard<std::mutex> g(mu_);
    // A handle already here belongs to a request that ended in a way not wrapped (MPI_Request_free):
    // MPI has given the handle out again, and the new request's copy takes its place.
    if (table_.insert_or_assign(r, std::move(b)).second) count_.fetch_add(1, std::memory_order_relaxed);
  }
  bool any() const { return count_.load(std::memory_order_relaxed) != 0; }
  // The requests of `reqs` that are in the table (as they were before a completing call).
  std::vector<MPI_Request> ours(const MPI_Request* reqs, int n) {
    std::vector<MPI_Request> out(static_cast<std::size_t>(n), MPI_REQUEST_NULL);
    if (!any()) return out;
    std::lock_guard<std::mutex> g(mu_);
    for (int i = 0; i < n; ++i) {
      if (table_.count(reqs[i]) != 0) out[static_cast<std::size_t>(i)] = reqs[i];
    }
    return out;
  }
  // Request `r` completed: its received bytes go into place.
  void complete(MPI_Request r) {
    if (r == MPI_REQUEST_NULL) return;
    std::unique_ptr<buffer> b;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = table_.find(r);
      if (it == table_.end()) return;
      b = std::make_unique<buffer>(std::move(it->second));
      table_.erase(it);
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
    b->finish();  // stores into shared memory, which may fault: outside the mutex
  }

 private:
  std::mutex mu_;
  std::unordered_map<MPI_Request, buffer> table_;
  std::atomic<int> count_{0};
};

pending_table& pending() {
  static pending_table* t = new pending_table;  // never destroyed: MPI calls may come at exit
  return *t;
}

template <class Send>
int blocking_send(const void* buf, int count, MPI_Datatype type, Send&& send) {
  if (!in_global_space(buf, 1)) return send(buf);
  buffer b(buf, count, type, true, false);
  return send(b.get());
}

template <class Isend>
int nonblocking_send(const void* buf, int count, MPI_Datatype type, MPI_Request* request, Isend&& isend) {
  if (!in_global_space(buf, 1)) return isend(buf);
  buffer b(buf, count, type, true, false);
  const int rc = isend(b.get());
  if (rc == MPI_SUCCESS && b.bounced()) pending().add(*request, std::move(b));
  return rc;
}

}  // namespace

extern "C" {

int MPI_Send(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  return blocking_send(buf, count, type, [&](const void* b) { return PMPI_Send(b, count, type, dest, tag, comm); });
}
int MPI_Ssend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  return blocking_send(buf, count, type, [&](const void* b) { return PMPI_Ssend(b, count, type, dest, tag, comm); });
}
int MPI_Rsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  return blocking_send(buf, count, type, [&](const void* b) { return PMPI_Rsend(b, count, type, dest, tag, comm); });
}
int MPI_Bsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  return blocking_send(buf, count, type, [&](const void* b) { return PMPI_Bsend(b, count, type, dest, tag, comm); });
}

int MPI_Recv(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Status* status) {
  if (!in_global_space(buf, 1)) return PMPI_Recv(buf, count, type, source, tag, comm, status);
  buffer b(buf, count, type, false, true);
  const int rc = PMPI_Recv(b.get(), count, type, source, tag, comm, status);
  b.finish();
  return rc;
}

int MPI_Sendrecv(const void* sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag, void* recvbuf,
                 int recvcount, MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm, MPI_Status* status) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1)) {
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source, recvtag,
                         comm, status);
  }
  buffer s(sendbuf, sendcount, sendtype, true, false);
  buffer r(recvbuf, recvcount, recvtype, false, true);
  const int rc = PMPI_Sendrecv(s.get(), sendcount, sendtype, dest, sendtag, r.get(), recvcount, recvtype, source,
                               recvtag, comm, status);
  r.finish();
  return rc;
}

int MPI_Isend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* request) {
  return nonblocking_send(buf, count, type, request,
                          [&](const void* b) { return PMPI_Isend(b, count, type, dest, tag, comm, request); });
}
int MPI_Issend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* request) {
  return nonblocking_send(buf, count, type, request,
                          [&](const void* b) { return PMPI_Issend(b, count, type, dest, tag, comm, request); });
}

int MPI_Irecv(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Request* request) {
  if (!in_global_space(buf, 1)) return PMPI_Irecv(buf, count, type, source, tag, comm, request);
  buffer b(buf, count, type, false, true);
  const int rc = PMPI_Irecv(b.get(), count, type, source, tag, comm, request);
  if (rc == MPI_SUCCESS && b.bounced()) pending().add(*request, std::move(b));
  return rc;
}

int MPI_Wait(MPI_Request* request, MPI_Status* status) {
  if (!pending().any()) return PMPI_Wait(request, status);
  const MPI_Request r = pending().ours(request, 1)[0];
  const int rc = PMPI_Wait(request, status);
  pending().complete(r);
  return rc;
}

int MPI_Waitall(int count, MPI_Request reqs[], MPI_Status statuses[]) {
  if (!pending().any()) return PMPI_Waitall(count, reqs, statuses);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Waitall(count, reqs, statuses);
  for (MPI_Request r : ours) pending().complete(r);
  return rc;
}

int MPI_Waitany(int count, MPI_Request reqs[], int* index, MPI_Status* status) {
  if (!pending().any()) return PMPI_Waitany(count, reqs, index, status);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Waitany(count, reqs, index, status);
  if (*index != MPI_UNDEFINED && *index >= 0 && *index < count) pending().complete(ours[static_cast<std::size_t>(*index)]);
  return rc;
}

int MPI_Waitsome(int count, MPI_Request reqs[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!pending().any()) return PMPI_Waitsome(count, reqs, outcount, indices, statuses);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Waitsome(count, reqs, outcount, indices, statuses);
  for (int i = 0; *outcount != MPI_UNDEFINED && i < *outcount; ++i) pending().complete(ours[static_cast<std::size_t>(indices[i])]);
  return rc;
}

int MPI_Test(MPI_Request* request, int* flag, MPI_Status* status) {
  if (!pending().any()) return PMPI_Test(request, flag, status);
  const MPI_Request r = pending().ours(request, 1)[0];
  const int rc = PMPI_Test(request, flag, status);
  if (*flag) pending().complete(r);
  return rc;
}

int MPI_Testall(int count, MPI_Request reqs[], int* flag, MPI_Status statuses[]) {
  if (!pending().any()) return PMPI_Testall(count, reqs, flag, statuses);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Testall(count, reqs, flag, statuses);
  if (*flag) {
    for (MPI_Request r : ours) pending().complete(r);
  }
  return rc;
}

int MPI_Testany(int count, MPI_Request reqs[], int* index, int* flag, MPI_Status* status) {
  if (!pending().any()) return PMPI_Testany(count, reqs, index, flag, status);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Testany(count, reqs, index, flag, status);
  if (*flag && *index != MPI_UNDEFINED && *index >= 0 && *index < count) pending().complete(ours[static_cast<std::size_t>(*index)]);
  return rc;
}

int MPI_Testsome(int count, MPI_Request reqs[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!pending().any()) return PMPI_Testsome(count, reqs, outcount, indices, statuses);
  const std::vector<MPI_Request> ours = pending().ours(reqs, count);
  const int rc = PMPI_Testsome(count, reqs, outcount, indices, statuses);
  for (int i = 0; *outcount != MPI_UNDEFINED && i < *outcount; ++i) pending().complete(ours[static_cast<std::size_t>(indices[i])]);
  return rc;
}

int MPI_Bcast(void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm) {
  if (!in_global_space(buf, 1)) return PMPI_Bcast(buf, count, type, root, comm);
  int me = 0;
  PMPI_Comm_rank(comm, &me);
  buffer b(buf, count, type, me == root, me != root);
  const int rc = PMPI_Bcast(b.get(), count, type, root, comm);
  b.finish();
  return rc;
}

int MPI_Reduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Reduce(sendbuf, recvbuf, count, type, op, root, comm);
  int me = 0;
  PMPI_Comm_rank(comm, &me);
  buffer s(sendbuf, count, type, true, false);
  buffer r(me == root ? recvbuf : nullptr, count, type, sendbuf == MPI_IN_PLACE, true);
  const int rc = PMPI_Reduce(sendbuf == MPI_IN_PLACE ? MPI_IN_PLACE : s.get(), me == root ? r.get() : recvbuf, count,
                             type, op, root, comm);
  r.finish();
  return rc;
}

int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
  buffer s(sendbuf, count, type, true, false);
  buffer r(recvbuf, count, type, sendbuf == MPI_IN_PLACE, true);
  const int rc = PMPI_Allreduce(sendbuf == MPI_IN_PLACE ? MPI_IN_PLACE : s.get(), r.get(), count, type, op, comm);
  r.finish();
  return rc;
}

int MPI_Gather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
               MPI_Datatype recvtype, int root, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Gather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
  int me = 0;
  PMPI_Comm_rank(comm, &me);
  const long all = static_cast<long>(recvcount) * comm_size(comm);
  buffer s(sendbuf, sendcount, sendtype, true, false);
  buffer r(me == root ? recvbuf : nullptr, all, recvtype, sendbuf == MPI_IN_PLACE, true);
  const int rc = PMPI_Gather(sendbuf == MPI_IN_PLACE ? MPI_IN_PLACE : s.get(), sendcount, sendtype,
                             me == root ? r.get() : recvbuf, recvcount, recvtype, root, comm);
  r.finish();
  return rc;
}

int MPI_Allgather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                  MPI_Datatype recvtype, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  const long all = static_cast<long>(recvcount) * comm_size(comm);
  buffer s(sendbuf, sendcount, sendtype, true, false);
  buffer r(recvbuf, all, recvtype, sendbuf == MPI_IN_PLACE, true);
  const int rc = PMPI_Allgather(sendbuf == MPI_IN_PLACE ? MPI_IN_PLACE : s.get(), sendcount, sendtype, r.get(),
                                recvcount, recvtype, comm);
  r.finish();
  return rc;
}

int MPI_Scatter(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                MPI_Datatype recvtype, int root, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Scatter(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
  int me = 0;
  PMPI_Comm_rank(comm, &me);
  const long all = static_cast<long>(sendcount) * comm_size(comm);
  buffer s(me == root ? sendbuf : nullptr, all, sendtype, true, false);
  buffer r(recvbuf == MPI_IN_PLACE ? nullptr : recvbuf, recvcount, recvtype, false, true);
  const int rc = PMPI_Scatter(me == root ? s.get() : sendbuf, sendcount, sendtype,
                              recvbuf == MPI_IN_PLACE ? MPI_IN_PLACE : r.get(), recvcount, recvtype, root, comm);
  r.finish();
  return rc;
}

int MPI_Alltoall(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                 MPI_Datatype recvtype, MPI_Comm comm) {
  if (!in_global_space(sendbuf, 1) && !in_global_space(recvbuf, 1))
    return PMPI_Alltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  const int n = comm_size(comm);
  buffer s(sendbuf, static_cast<long>(sendcount) * n, sendtype, true, false);
  buffer r(recvbuf, static_cast<long>(recvcount) * n, recvtype, sendbuf == MPI_IN_PLACE, true);
  const int rc = PMPI_Alltoall(sendbuf == MPI_IN_PLACE ? MPI_IN_PLACE : s.get(), sendcount, sendtype, r.get(),
                               recvcount, recvtype, comm);
  r.finish();
  return rc;
}

}  // extern "C"
