// config_probe.cpp: the smallest dsm program, driven by config_errors.sh. It initialises dsm (which
// reads DSM_* and removes --dsm-* flags from argv), and rank 0 prints the model in force and the
// argv it was left with on one line ("model=sequential argc=2 argv[1]=keep"); then a barrier and
// finalize. With a bad configuration dsm::init must report it and exit before main continues.
#include <cstdio>

#include "dsm/dsm.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  if (dsm::rank() == 0) {
    std::printf("model=%s argc=%d", dsm::model_name(dsm::current_model()), argc);
    for (int i = 1; i < argc; ++i) std::printf(" argv[%d]=%s", i, argv[i]);
    std::printf(" argv[argc]=%s\n", argv[argc] == nullptr ? "null" : argv[argc]);
    std::fflush(stdout);
  }
  dsm::barrier();
  return 0;
}
