// kv_table: a key-value table whose entries are objects. Each entry is a dsm::make_object<entry>
// found by hashing its key; a put opens a write handle on the entry, a get a read handle, so every
// entry is locked and moved on its own and a reader never waits for a writer of another key. Every
// rank puts its own keys (each key's value counts its puts), then every rank gets every key.
//   mpirun -np 4 ./kv_table [buckets=64] [rounds=20]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dsm/dsm.hpp"

struct entry {
  std::uint64_t key;
  long value;
  long puts;
};

class table {
 public:
  explicit table(int buckets) {
    for (int i = 0; i < buckets; ++i) slots_.push_back(dsm::make_object<entry>(entry{0, 0, 0}));
  }
  ~table() {
    for (auto& s : slots_) dsm::destroy(s);
  }
  // Adds `delta` to key's value (one bucket per key: the table is sized for the keys it holds).
  void put(std::uint64_t key, long delta) {
    auto w = slot(key).write();
    w->key = key;
    w->value += delta;
    ++w->puts;
  }
  entry get(std::uint64_t key) const { return *slot(key).read(); }

 private:
  const dsm::object<entry>& slot(std::uint64_t key) const { return slots_[key % slots_.size()]; }
  std::vector<dsm::object<entry>> slots_;
};

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const int buckets = argc > 1 ? std::atoi(argv[1]) : 64;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  {
    table t(buckets);
    // Rank r owns keys r, r + ranks, ...; every rank also adds 1 to key 0 each round (contended).
    for (int round = 0; round < rounds; ++round) {
      for (int k = dsm::rank(); k < buckets; k += dsm::ranks()) {
        if (k != 0) t.put(static_cast<std::uint64_t>(k), k);
      }
      t.put(0, 1);
    }
    dsm::barrier();
    bool ok = true;
    for (int k = 0; k < buckets; ++k) {
      const entry e = t.get(static_cast<std::uint64_t>(k));
      const long want = k == 0 ? static_cast<long>(rounds) * dsm::ranks() : static_cast<long>(rounds) * k;
      ok = ok && e.value == want && (k == 0 || e.key == static_cast<std::uint64_t>(k));
    }
    if (dsm::rank() == 0)
      std::printf("kv_table: %d keys, %d ranks, %d rounds: %s\n", buckets, dsm::ranks(), rounds, ok ? "OK" : "FAIL");
    dsm::barrier();
    if (!ok) return 1;
  }
  return 0;
}
