# apps.cmake: dsm_app(<workload>) builds the three versions of one application benchmark from
# benchmarks/<workload>/: bench_<workload>_dsm (<workload>_dsm.cpp, runs under any DSM_MODEL),
# bench_<workload>_mpi (<workload>_mpi.cpp, plain MPI) and bench_<workload>_threads
# (<workload>_threads.cpp, std::thread in one process). With the tests built it also registers
# their correctness runs at `--size test`, label "apps":
#   app.<workload>.dsm.<model>.np<N>  every model in DSM_MODELS at 1, 2 and 4 ranks
#   app.<workload>.mpi.np2            the MPI version at 2 ranks
#   app.<workload>.threads            the threads version with 2 threads
# The dsm version's runs are registered by dsm_app_dsm_test, once per argument variant.
if(DSM_BUILD_TESTS)
  include(DsmTesting)
  enable_testing()  # the top level enables testing only after this directory
endif()

function(dsm_app workload)
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  set(common ${PROJECT_SOURCE_DIR}/benchmarks/common)

  add_executable(bench_${workload}_dsm ${dir}/${workload}_dsm.cpp)
  target_link_libraries(bench_${workload}_dsm PRIVATE dsm dsm::warnings)

  add_executable(bench_${workload}_mpi ${dir}/${workload}_mpi.cpp)
  target_link_libraries(bench_${workload}_mpi PRIVATE MPI::MPI_C dsm::warnings)

  add_executable(bench_${workload}_threads ${dir}/${workload}_threads.cpp)
  target_link_libraries(bench_${workload}_threads PRIVATE Threads::Threads dsm::warnings)

  foreach(v dsm mpi threads)
    target_include_directories(bench_${workload}_${v} PRIVATE ${common} ${dir})
    target_link_libraries(bench_${workload}_${v} PRIVATE bench_result_line)  # bench.hpp's RESULT line
  endforeach()

  if(DSM_BUILD_TESTS)
    add_test(NAME app.${workload}.mpi.np2
             COMMAND ${DSM_MPIRUN} -np 2 $<TARGET_FILE:bench_${workload}_mpi> --size test)
    set_tests_properties(app.${workload}.mpi.np2 PROPERTIES TIMEOUT 60 LABELS "mpi;np2;apps"
      ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
    add_test(NAME app.${workload}.threads COMMAND bench_${workload}_threads --size test --threads 2)
    set_tests_properties(app.${workload}.threads PROPERTIES TIMEOUT 60 LABELS "apps")
    dsm_tests_done()
  endif()
endfunction()

# dsm_app_dsm_test(<workload> <name> [args...]): the dsm version's test runs under every model at
# 1, 2 and 4 ranks, named app.<name>.<model>.np<N>.
function(dsm_app_dsm_test workload name)
  if(DSM_BUILD_TESTS)
    dsm_add_mpi_test(app.${name} COMMAND bench_${workload}_dsm --size test ${ARGN}
                     RANKS 1 2 4 MODELS ${DSM_MODELS} TIMEOUT 60 LABELS apps)
  endif()
endfunction()
