// consumer/main.cpp: an outside program using an installed dsm through <dsm/dsm.hpp> only. Every
// rank adds rank+1 to a lock-protected shared sum; after a barrier the sum must be n(n+1)/2.
#include <dsm/dsm.hpp>

#include <cstdio>
#include <mutex>

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  long* sum = dsm::alloc<long>(1);
  dsm::mutex m{3};
  {
    std::lock_guard<dsm::mutex> g(m);
    *sum += dsm::rank() + 1;
  }
  dsm::barrier();
  const long n = dsm::ranks();
  const long got = *sum;
  const bool ok = got == n * (n + 1) / 2;
  if (dsm::rank() == 0)
    std::printf("consumer: %ld ranks, model %s, sum %ld, expected %ld: %s\n", n,
                dsm::model_name(dsm::current_model()), got, n * (n + 1) / 2, ok ? "OK" : "FAIL");
  dsm::barrier();
  dsm::free(sum);
  return ok ? 0 : 1;
}
