// traffic.hpp: the protocol traffic and lock acquires of all ranks over a stretch of a benchmark,
// from two dsm::stats() snapshots; shared by the micro and release benchmarks. (Unlike bench.hpp it
// needs dsm and MPI.)
#ifndef DSM_BENCHMARKS_COMMON_TRAFFIC_HPP_
#define DSM_BENCHMARKS_COMMON_TRAFFIC_HPP_

#include <mpi.h>

#include <dsm/dsm.hpp>

namespace bench {

struct traffic {
  double msgs = 0, bytes = 0, acquires = 0, remote_acquires = 0;
};

// What every rank sent and acquired between its snapshots s0 and s1, summed over comm. Collective.
inline traffic summed_traffic(const dsm::statistics& s0, const dsm::statistics& s1, MPI_Comm comm) {
  double local[4] = {static_cast<double>(s1.messages_sent - s0.messages_sent),
                     static_cast<double>(s1.bytes_sent - s0.bytes_sent),
                     static_cast<double>(s1.lock_acquires - s0.lock_acquires),
                     static_cast<double>(s1.remote_lock_acquires - s0.remote_lock_acquires)};
  double sum[4] = {0, 0, 0, 0};
  MPI_Allreduce(local, sum, 4, MPI_DOUBLE, MPI_SUM, comm);
  return {sum[0], sum[1], sum[2], sum[3]};
}

}  // namespace bench

#endif  // DSM_BENCHMARKS_COMMON_TRAFFIC_HPP_
