# DsmTesting.cmake: one helper per kind of test, so that `ctest -L unit` runs without MPI and
# `ctest -L mpi` runs the rest. Every test gets a timeout; MPI tests run under mpirun with the
# options these machines need (root in CI, more ranks than cores).

# dsm_add_unit_test(<target>) : a GoogleTest binary without MPI.
function(dsm_add_unit_test target)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 60)
  endif()
  add_test(NAME ${target} COMMAND ${target})
  set_tests_properties(${target} PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "unit;${A_LABELS}"
    ENVIRONMENT "${DSM_SANITIZER_ENV}")
endfunction()

# The mpirun prefix every MPI test uses.
set(DSM_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe --mca btl self,vader,tcp
    --mca mpi_yield_when_idle 1 --bind-to none)

# dsm_add_mpi_test(<name> COMMAND <target-or-path> [args...] RANKS 1 2 4 [MODELS sc ...]
#                  [TIMEOUT s] [LABELS ...] [ENV VAR=value ...])
# registers <name>.<model>.np<N> for each model and rank count.
function(dsm_add_mpi_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "COMMAND;RANKS;MODELS;LABELS;ENV" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  if(NOT A_RANKS)
    set(A_RANKS 1 2 4)
  endif()
  if(NOT A_MODELS)
    set(A_MODELS ${DSM_TEST_MODELS})
  endif()
  list(GET A_COMMAND 0 exe)
  list(REMOVE_AT A_COMMAND 0)
  if(TARGET ${exe})
    set(exe $<TARGET_FILE:${exe}>)
  endif()
  foreach(model IN LISTS A_MODELS)
    foreach(n IN LISTS A_RANKS)
      set(test ${name}.${model}.np${n})
      add_test(NAME ${test} COMMAND ${DSM_MPIRUN} -np ${n} ${exe} ${A_COMMAND})
      set_tests_properties(${test} PROPERTIES TIMEOUT ${A_TIMEOUT}
        LABELS "mpi;np${n};${model};${A_LABELS}"
        ENVIRONMENT "DSM_MODEL=${model};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;${DSM_SANITIZER_ENV};${A_ENV}")
    endforeach()
  endforeach()
endfunction()
