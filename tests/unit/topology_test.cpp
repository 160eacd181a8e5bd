// topology_test: the DSM_BIND policy (machine::place) on synthetic hwloc topologies, so that nodes
// with hardware threads and oversubscribed nodes are covered on any machine; and the real node's
// topology loads. No MPI, no binding.
#include "topology/topology.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {
using dsm::rt::bind_mode;
using dsm::rt::cpu_list;
using dsm::rt::machine;

// Two cores of one hardware thread each (these VMs), and two cores of two hardware threads each.
constexpr const char* kTwoCores = "package:1 core:2 pu:1";
constexpr const char* kTwoSmtCores = "package:1 core:2 pu:2";

TEST(Topology, CpuListString) {
  EXPECT_EQ(dsm::rt::cpu_list_string({}), "none");
  EXPECT_EQ(dsm::rt::cpu_list_string({3}), "3");
  EXPECT_EQ(dsm::rt::cpu_list_string({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
}

TEST(Topology, SyntheticCounts) {
  EXPECT_EQ(machine(kTwoCores).cores(), 2);
  EXPECT_EQ(machine(kTwoCores).pus(), 2);
  EXPECT_EQ(machine(kTwoSmtCores).cores(), 2);
  EXPECT_EQ(machine(kTwoSmtCores).pus(), 4);
  EXPECT_NE(machine(kTwoSmtCores).describe().find("2 core(s), 4 hardware thread(s); cores (PUs): 0(0-1) 1(2-3)"),
            std::string::npos)
      << machine(kTwoSmtCores).describe();
}

TEST(Topology, NoneNeverBinds) {
  const machine m(kTwoCores);
  for (int l = 0; l < 2; ++l) EXPECT_FALSE(m.place(bind_mode::none, l, 2, false).bind);
}

TEST(Topology, CoreGivesEachRankItsOwnCoreWithItsEngine) {
  const machine m(kTwoSmtCores);
  const auto p0 = m.place(bind_mode::core, 0, 2, false);
  const auto p1 = m.place(bind_mode::core, 1, 2, false);
  ASSERT_TRUE(p0.bind && p1.bind);
  EXPECT_EQ(p0.rank_cpus, (cpu_list{0, 1}));  // both hardware threads of core 0
  EXPECT_EQ(p1.rank_cpus, (cpu_list{2, 3}));
  EXPECT_EQ(p0.engine_cpus, p0.rank_cpus);
  EXPECT_EQ(p1.engine_cpus, p1.rank_cpus);
}

TEST(Topology, CoreOversubscribedSharesCoresEvenlyAndSaysSo) {
  const machine m(kTwoCores);
  std::vector<cpu_list> got;
  for (int l = 0; l < 4; ++l) {
    const auto p = m.place(bind_mode::core, l, 4, false);
    ASSERT_TRUE(p.bind);
    EXPECT_NE(p.decision.find("oversubscribed"), std::string::npos) << p.decision;
    got.push_back(p.rank_cpus);
  }
  EXPECT_EQ(got, (std::vector<cpu_list>{{0}, {1}, {0}, {1}}));
}

TEST(Topology, AutoBindsToCoresWhenEveryRankHasOne) {
  const machine m(kTwoCores);
  EXPECT_EQ(m.place(bind_mode::automatic, 0, 2, false).rank_cpus, (cpu_list{0}));
  EXPECT_EQ(m.place(bind_mode::automatic, 1, 2, false).rank_cpus, (cpu_list{1}));
  EXPECT_EQ(m.place(bind_mode::automatic, 0, 1, false).rank_cpus, (cpu_list{0}));
}

TEST(Topology, AutoUsesDistinctHardwareThreadsSpreadOverCores) {
  const machine m(kTwoSmtCores);  // core 0: PUs 0,1; core 1: PUs 2,3
  std::vector<cpu_list> got;
  for (int l = 0; l < 4; ++l) {
    const auto p = m.place(bind_mode::automatic, l, 4, false);
    ASSERT_TRUE(p.bind) << p.decision;
    EXPECT_EQ(p.engine_cpus, p.rank_cpus);
    got.push_back(p.rank_cpus);
  }
  // Ranks 0 and 1 on different cores before any core takes a second rank.
  EXPECT_EQ(got, (std::vector<cpu_list>{{0}, {2}, {1}, {3}}));
}

TEST(Topology, AutoLeavesAnOversubscribedNodeToTheScheduler) {
  const machine m(kTwoCores);
  for (int l = 0; l < 4; ++l) {
    const auto p = m.place(bind_mode::automatic, l, 4, false);
    EXPECT_FALSE(p.bind);
    EXPECT_NE(p.decision.find("oversubscribed"), std::string::npos) << p.decision;
  }
}

TEST(Topology, AutoKeepsTheLaunchersBindingButCoreOverridesIt) {
  const machine m(kTwoCores);
  EXPECT_FALSE(m.place(bind_mode::automatic, 0, 2, true).bind);
  EXPECT_TRUE(m.place(bind_mode::core, 0, 2, true).bind);
}

TEST(Topology, ThisNodeLoads) {
  const machine m;
  EXPECT_GE(m.cores(), 1);
  EXPECT_GE(m.pus(), m.cores());
  // The process is bound to some of the node's PUs (all of them unless a launcher bound it).
  const cpu_list now = m.process_binding();
  EXPECT_FALSE(now.empty());
  EXPECT_LE(now.size(), static_cast<std::size_t>(m.pus()));
}

}  // namespace
