// diff_test: diffs are exact to the byte (disjoint writes to one word both survive), empty when
// nothing changed, and a malformed or out-of-bounds diff is refused without writing anything.
#include "memory/diff.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace {
using namespace dsm::rt;

std::vector<std::byte> bytes(std::size_t n, int fill = 0) { return std::vector<std::byte>(n, std::byte(fill)); }

TEST(Diff, NothingChangedIsEmpty) {
  auto twin = bytes(4096, 7), now = twin;
  std::vector<std::byte> d;
  EXPECT_EQ(diff_encode(twin.data(), now.data(), 4096, d), 0u);
  EXPECT_TRUE(d.empty());
}

TEST(Diff, DisjointBytesOfOneWordFromTwoWritersBothSurvive) {
  auto twin = bytes(4096), a = twin, b = twin, home = twin;
  a[100] = std::byte{0x11};  // writer A: byte 0 of the word at 100
  b[101] = std::byte{0x22};  // writer B: byte 1 of the same word
  std::vector<std::byte> da, db;
  diff_encode(twin.data(), a.data(), 4096, da);
  diff_encode(twin.data(), b.data(), 4096, db);
  ASSERT_TRUE(diff_apply(da, home.data(), 4096));
  ASSERT_TRUE(diff_apply(db, home.data(), 4096));
  EXPECT_EQ(home[100], std::byte{0x11});
  EXPECT_EQ(home[101], std::byte{0x22});
  EXPECT_EQ(diff_payload_bytes(da), 1u);
  EXPECT_EQ(diff_payload_bytes(db), 1u);
}

TEST(Diff, RandomChangesRoundTrip) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = 1 + rng() % 9000;
    auto twin = bytes(n), now = bytes(n);
    for (auto& x : twin) x = std::byte(rng());
    now = twin;
    const int changes = static_cast<int>(rng() % 50);
    for (int c = 0; c < changes; ++c) now[rng() % n] = std::byte(rng());
    std::vector<std::byte> d;
    diff_encode(twin.data(), now.data(), n, d);
    auto copy = twin;
    ASSERT_TRUE(diff_apply(d, copy.data(), n));
    ASSERT_EQ(copy, now);
  }
}

TEST(Diff, EverythingChangedIsOneRun) {
  auto twin = bytes(4096, 0), now = bytes(4096, 1);
  std::vector<std::byte> d;
  EXPECT_EQ(diff_encode(twin.data(), now.data(), 4096, d), 4096u + 8u);
}

TEST(Diff, SplitPiecesAreSmallAndApplyToTheWhole) {
  std::mt19937 rng(7);
  for (std::size_t max_piece : {9u, 17u, 100u, 4160u}) {
    auto twin = bytes(4096), now = twin;
    for (std::size_t i = 0; i < 4096; i += 2) now[i] = std::byte{0xA5};  // 2048 one-byte runs
    for (std::size_t i = 3000; i < 3900; ++i) now[i] = std::byte(rng() | 1);  // and one long run
    std::vector<std::byte> d;
    diff_encode(twin.data(), now.data(), 4096, d);
    auto pieces = diff_split(d, max_piece);
    auto copy = twin;
    for (const auto& p : pieces) {
      ASSERT_LE(p.size(), max_piece);
      ASSERT_TRUE(diff_apply(p, copy.data(), 4096));
    }
    EXPECT_EQ(copy, now) << max_piece;
  }
}

TEST(Diff, MalformedDiffsAreRefusedWithoutWriting) {
  auto dst = bytes(64, 5);
  auto run = [](std::uint32_t off, std::uint32_t len, std::size_t data) {
    std::vector<std::byte> d(8 + data, std::byte{9});
    std::memcpy(d.data(), &off, 4);
    std::memcpy(d.data() + 4, &len, 4);
    return d;
  };
  EXPECT_TRUE(diff_apply(run(0, 4, 4), dst.data(), 64));
  auto before = dst;
  EXPECT_FALSE(diff_apply(run(62, 4, 4), dst.data(), 64));           // past the end
  EXPECT_FALSE(diff_apply(run(0xFFFFFFF0u, 32, 32), dst.data(), 64)); // offset wraps
  EXPECT_FALSE(diff_apply(run(0, 10, 4), dst.data(), 64));           // shorter than it says
  EXPECT_FALSE(diff_apply(run(0, 0, 0), dst.data(), 64));            // empty run
  auto good_then_bad = run(0, 4, 4);
  auto bad = run(100, 4, 4);
  good_then_bad.insert(good_then_bad.end(), bad.begin(), bad.end());
  EXPECT_FALSE(diff_apply(good_then_bad, dst.data(), 64));  // refused whole: the first run is not applied
  std::vector<std::byte> truncated(5);
  EXPECT_FALSE(diff_apply(truncated, dst.data(), 64));
  EXPECT_EQ(dst, before);
}

}  // namespace
