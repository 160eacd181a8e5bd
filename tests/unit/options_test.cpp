// options_test: DSM_* variables and --dsm-* flags are parsed, and every bad value is refused with a
// message that names the variable, the value and the valid choices.
#include "base/options.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {
using dsm::rt::options;
using dsm::rt::parse_options;

options parse(std::map<std::string, std::string> env, std::vector<std::string> args = {}) {
  std::vector<char*> argv;
  std::string prog = "prog";
  argv.push_back(prog.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(argv.size()) - 1;
  char** p = argv.data();
  return parse_options(
      [&](const std::string& k) -> std::optional<std::string> {
        auto it = env.find(k);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      &argc, &p, 4096);
}

std::string error_of(std::map<std::string, std::string> env, std::vector<std::string> args = {}) {
  try {
    parse(std::move(env), std::move(args));
  } catch (const dsm::error& e) {
    return e.what();
  }
  return "";
}

TEST(Options, Defaults) {
  const options o = parse({});
  EXPECT_EQ(o.model, dsm::model::sequential);
  EXPECT_EQ(o.unit, 4096u);
  EXPECT_EQ(o.size, std::uint64_t{16} << 30);
  EXPECT_FALSE(o.stats_table);
  EXPECT_TRUE(o.stats_path.empty());
  EXPECT_EQ(o.transport, dsm::rt::transport_kind::automatic);
}

TEST(Options, ModelNamesAndAliases) {
  EXPECT_EQ(parse({{"DSM_MODEL", "sequential"}}).model, dsm::model::sequential);
  EXPECT_EQ(parse({{"DSM_MODEL", "SC"}}).model, dsm::model::sequential);
  EXPECT_EQ(dsm::rt::parse_model("DSM_MODEL", "erc"), dsm::model::eager_release);
  EXPECT_EQ(dsm::rt::parse_model("DSM_MODEL", "lazy-release"), dsm::model::lazy_release);
  EXPECT_EQ(dsm::rt::parse_model("DSM_MODEL", "ec"), dsm::model::entry);
}

TEST(Options, UnknownModelNamesVariableValueAndChoices) {
  const std::string e = error_of({{"DSM_MODEL", "bogus"}});
  EXPECT_NE(e.find("DSM_MODEL"), std::string::npos) << e;
  EXPECT_NE(e.find("'bogus'"), std::string::npos) << e;
  EXPECT_NE(e.find("lazy-release"), std::string::npos) << e;
}

TEST(Options, CheckIsOffByDefaultAndParsed) {
  EXPECT_FALSE(parse({}).check);
  EXPECT_TRUE(parse({{"DSM_CHECK", "1"}}).check);
  EXPECT_FALSE(parse({{"DSM_CHECK", "0"}}).check);
  const std::string e = error_of({{"DSM_CHECK", "maybe"}});
  EXPECT_NE(e.find("DSM_CHECK"), std::string::npos) << e;
  EXPECT_NE(e.find("'maybe'"), std::string::npos) << e;
}

TEST(Options, InvariantsAreOffByDefaultAndParsed) {
  EXPECT_FALSE(parse({}).invariants);
  EXPECT_TRUE(parse({{"DSM_INVARIANTS", "1"}}).invariants);
  EXPECT_FALSE(parse({{"DSM_INVARIANTS", "off"}}).invariants);
  EXPECT_NE(parse({{"DSM_INVARIANTS", "1"}}).describe(), parse({}).describe());
  const std::string e = error_of({{"DSM_INVARIANTS", "yes"}});
  EXPECT_NE(e.find("DSM_INVARIANTS"), std::string::npos) << e;
  EXPECT_NE(e.find("'yes'"), std::string::npos) << e;
}

TEST(Options, FlagOverridesVariableAndIsRemovedFromArgv) {
  std::vector<std::string> args = {"--dsm-model=sc", "keep", "--dsm-unit=8K", "me"};
  std::vector<char*> argv;
  std::string prog = "prog";
  argv.push_back(prog.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = 5;
  char** p = argv.data();
  const options o = parse_options(
      [](const std::string& k) -> std::optional<std::string> {
        if (k == "DSM_MODEL") return std::string("bogus");
        return std::nullopt;
      },
      &argc, &p, 4096);
  EXPECT_EQ(o.model, dsm::model::sequential);
  EXPECT_EQ(o.unit, 8192u);
  ASSERT_EQ(argc, 3);
  EXPECT_STREQ(p[1], "keep");
  EXPECT_STREQ(p[2], "me");
  EXPECT_EQ(p[3], nullptr);
}

TEST(Options, BadFlagIsAnError) {
  EXPECT_NE(error_of({}, {"--dsm-colour=red"}).find("--dsm-colour"), std::string::npos);
  EXPECT_NE(error_of({}, {"--dsm-model"}).find("needs a value"), std::string::npos);
  EXPECT_NE(error_of({}, {"--dsm-model=weak"}).find("--dsm-model='weak'"), std::string::npos);
}

TEST(Options, Sizes) {
  EXPECT_EQ(dsm::rt::parse_size("DSM_SIZE", "4096"), 4096u);
  EXPECT_EQ(dsm::rt::parse_size("DSM_SIZE", "64K"), 65536u);
  EXPECT_EQ(dsm::rt::parse_size("DSM_SIZE", "2g"), std::uint64_t{2} << 30);
  EXPECT_EQ(dsm::rt::parse_size("DSM_SIZE", "1TB"), std::uint64_t{1} << 40);
  EXPECT_THROW(dsm::rt::parse_size("DSM_SIZE", "abc"), dsm::error);
  EXPECT_THROW(dsm::rt::parse_size("DSM_SIZE", "12Q"), dsm::error);
  EXPECT_THROW(dsm::rt::parse_size("DSM_SIZE", "99999999999999999999999"), dsm::error);
  EXPECT_THROW(dsm::rt::parse_size("DSM_SIZE", ""), dsm::error);
}

TEST(Options, UnitMustBeAPowerOfTwoMultipleOfThePage) {
  EXPECT_EQ(parse({{"DSM_UNIT", "16K"}}).unit, 16384u);
  for (const char* bad : {"3000", "2048", "12K", "0", "2G"}) {
    const std::string e = error_of({{"DSM_UNIT", bad}});
    EXPECT_NE(e.find("DSM_UNIT"), std::string::npos) << bad;
    EXPECT_NE(e.find("power-of-two multiple"), std::string::npos) << e;
  }
}

TEST(Options, SizeMustBeAMultipleOfTheUnit) {
  EXPECT_EQ(parse({{"DSM_SIZE", "1G"}, {"DSM_UNIT", "64K"}}).size, std::uint64_t{1} << 30);
  EXPECT_NE(error_of({{"DSM_SIZE", "100000"}}).find("multiple of DSM_UNIT"), std::string::npos);
  EXPECT_NE(error_of({{"DSM_SIZE", "abc"}}).find("DSM_SIZE='abc'"), std::string::npos);
}

TEST(Options, StatsTransportLog) {
  EXPECT_TRUE(parse({{"DSM_STATS", "1"}}).stats_table);
  EXPECT_EQ(parse({{"DSM_STATS", "/tmp/s.json"}}).stats_path, "/tmp/s.json");
  EXPECT_NE(error_of({{"DSM_STATS", "yes"}}).find("DSM_STATS"), std::string::npos);
  EXPECT_EQ(parse({{"DSM_TRANSPORT", "mpi"}}).transport, dsm::rt::transport_kind::mpi);
  EXPECT_NE(error_of({{"DSM_TRANSPORT", "udp"}}).find("auto, shm, mpi"), std::string::npos);
  EXPECT_EQ(parse({{"DSM_LOG", "debug"}}).log, dsm::rt::log_level::debug);
  EXPECT_EQ(parse({{"DSM_GC_BYTES", "256K"}}).gc_bytes, 256u * 1024);
  EXPECT_NE(error_of({{"DSM_GC_BYTES", "0"}}).find("DSM_GC_BYTES"), std::string::npos);
  EXPECT_NE(error_of({{"DSM_LOG", "loud"}}).find("error, warn, info, debug"), std::string::npos);
}

TEST(Options, NodeShmAndBind) {
  EXPECT_TRUE(parse({}).node_shm);
  EXPECT_TRUE(parse({}).node_data);
  EXPECT_FALSE(parse({{"DSM_NODE_SHM", "off"}}).node_shm);
  EXPECT_FALSE(parse({{"DSM_NODE_SHM", "off"}}).node_data);
  EXPECT_TRUE(parse({{"DSM_NODE_SHM", "queues"}}).node_shm);
  EXPECT_FALSE(parse({{"DSM_NODE_SHM", "queues"}}).node_data);
  EXPECT_NE(parse({{"DSM_NODE_SHM", "queues"}}).describe(), parse({}).describe());
  EXPECT_TRUE(parse({{"DSM_NODE_SHM", "ON"}}).node_shm);
  EXPECT_FALSE(parse({{"DSM_NODE_SHM", "on"}}, {"--dsm-node-shm=off"}).node_shm);
  EXPECT_NE(error_of({{"DSM_NODE_SHM", "maybe"}}).find("DSM_NODE_SHM='maybe'"), std::string::npos);
  EXPECT_NE(error_of({{"DSM_NODE_SHM", "maybe"}}).find("valid: on, queues, off"), std::string::npos);
  // Shared-memory queues only, but no node-local shared memory: refused, naming both settings.
  const std::string clash = error_of({{"DSM_NODE_SHM", "off"}, {"DSM_TRANSPORT", "shm"}});
  EXPECT_NE(clash.find("DSM_NODE_SHM='off'"), std::string::npos) << clash;
  EXPECT_NE(clash.find("DSM_TRANSPORT=shm"), std::string::npos) << clash;
  EXPECT_EQ(parse({{"DSM_NODE_SHM", "off"}, {"DSM_TRANSPORT", "mpi"}}).transport, dsm::rt::transport_kind::mpi);

  EXPECT_EQ(parse({}).node_ranks, 0u);
  EXPECT_EQ(parse({{"DSM_NODE_RANKS", "2"}}).node_ranks, 2u);
  EXPECT_EQ(parse({}, {"--dsm-node-ranks=3"}).node_ranks, 3u);
  EXPECT_EQ(parse({{"DSM_NODE_RANKS", "0"}}).node_ranks, 0u);
  for (const char* v : {"65537", "two", "-2", "2K"}) {
    const std::string e = error_of({{"DSM_NODE_RANKS", v}});
    EXPECT_NE(e.find("valid: 0 (each host one node) or a number from 1 to 65536"), std::string::npos) << v << ": " << e;
  }

  EXPECT_EQ(parse({}).queue_slots, 0u);
  EXPECT_EQ(parse({{"DSM_QUEUE_SLOTS", "2"}}).queue_slots, 2u);
  EXPECT_EQ(parse({{"DSM_QUEUE_SLOTS", ""}}).queue_slots, 0u);
  EXPECT_EQ(parse({}, {"--dsm-queue-slots=65536"}).queue_slots, 65536u);
  for (const char* v : {"1", "65537", "lots", "-4", "4K"}) {
    const std::string e = error_of({{"DSM_QUEUE_SLOTS", v}});
    EXPECT_NE(e.find("valid: a number from 2 to 65536"), std::string::npos) << v << ": " << e;
  }

  EXPECT_EQ(parse({}).bind, dsm::rt::bind_mode::none);
  EXPECT_EQ(parse({{"DSM_BIND", "core"}}).bind, dsm::rt::bind_mode::core);
  EXPECT_EQ(parse({{"DSM_BIND", "Auto"}}).bind, dsm::rt::bind_mode::automatic);
  EXPECT_EQ(parse({{"DSM_BIND", "core"}}, {"--dsm-bind=none"}).bind, dsm::rt::bind_mode::none);
  const std::string bad = error_of({{"DSM_BIND", "socket"}});
  EXPECT_NE(bad.find("DSM_BIND='socket'"), std::string::npos) << bad;
  EXPECT_NE(bad.find("valid: none, core, auto"), std::string::npos) << bad;
}

TEST(Options, Trace) {
  EXPECT_TRUE(parse({}).trace_path.empty());
  EXPECT_EQ(parse({{"DSM_TRACE", "/tmp/t.json"}}).trace_path, "/tmp/t.json");
  EXPECT_EQ(parse({}, {"--dsm-trace=run.json"}).trace_path, "run.json");
  EXPECT_TRUE(parse({{"DSM_TRACE", "off"}}).trace_path.empty());
  EXPECT_NE(error_of({{"DSM_TRACE", "yes"}}).find("DSM_TRACE='yes'"), std::string::npos);
  EXPECT_EQ(parse({{"DSM_TRACE_EVENTS", "4K"}}).trace_events, 4096u);
  EXPECT_NE(error_of({{"DSM_TRACE_EVENTS", "0"}}).find("DSM_TRACE_EVENTS"), std::string::npos);
  EXPECT_NE(parse({}).describe(), parse({{"DSM_TRACE", "a.json"}}).describe());
}

TEST(Options, Chaos) {
  EXPECT_FALSE(parse({}).chaos);
  EXPECT_FALSE(parse({{"DSM_CHAOS", "off"}}).chaos);
  const auto o = parse({{"DSM_CHAOS", "42"}});
  EXPECT_TRUE(o.chaos);
  EXPECT_EQ(o.chaos_seed, 42u);
  EXPECT_FALSE(o.chaos_pairs);
  EXPECT_TRUE(parse({{"DSM_CHAOS", "0"}}).chaos);  // seed 0 is a seed like any other
  const auto pairs = parse({{"DSM_CHAOS", "7:pairs"}});
  EXPECT_TRUE(pairs.chaos && pairs.chaos_pairs);
  EXPECT_EQ(pairs.chaos_seed, 7u);
  EXPECT_NE(error_of({{"DSM_CHAOS", ":pairs"}}).find("a seed"), std::string::npos);
  EXPECT_NE(parse({{"DSM_CHAOS", "7"}}).describe(), pairs.describe());
  EXPECT_NE(error_of({{"DSM_CHAOS", "yes"}}).find("DSM_CHAOS='yes'"), std::string::npos);
  EXPECT_NE(error_of({{"DSM_CHAOS", "-1"}}).find("a seed"), std::string::npos);
  EXPECT_NE(error_of({{"DSM_CHAOS", "12x"}}).find("a seed"), std::string::npos);
  EXPECT_NE(parse({{"DSM_CHAOS", "1"}}).describe(), parse({{"DSM_CHAOS", "2"}}).describe());
}

TEST(Options, DescribeDiffersWhenAnythingDiffers) {
  EXPECT_EQ(parse({}).describe(), parse({}).describe());
  EXPECT_NE(parse({}).describe(), parse({{"DSM_UNIT", "8K"}}).describe());
  EXPECT_NE(parse({}).describe(), parse({{"DSM_TRANSPORT", "mpi"}}).describe());
  EXPECT_NE(parse({}).describe(), parse({{"DSM_NODE_SHM", "off"}}).describe());
  EXPECT_NE(parse({}).describe(), parse({{"DSM_BIND", "core"}}).describe());
}

}  // namespace
