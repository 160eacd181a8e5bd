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
  dsm_cpu_slots("unit;${A_LABELS}" slots)
  if(slots)
    set_tests_properties(${target} PROPERTIES RESOURCE_GROUPS ${slots})
  endif()
endfunction()

# The mpirun prefix every MPI test uses (pml ob1 and HWLOC_COMPONENTS: README.md, "Which messaging
# layer" and "Start-up on a virtual machine").
set(DSM_MPIRUN env HWLOC_COMPONENTS=-pci,-linuxio ${MPIEXEC_EXECUTABLE} --oversubscribe --mca pml ob1
    --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 --bind-to none)

# The variants of the models that choose the other lazy-release protocol (DSM_LAZY=homeless, the
# TreadMarks protocol, for lazy release and for entry consistency's unbound data). A test named
# after a variant runs under its model with DSM_LAZY=homeless and carries the labels of both.
set(DSM_TEST_HOMELESS lazy-homeless entry-homeless)

# dsm_model_env(<model or variant> <env var> <label var>): the environment and labels of a run.
function(dsm_model_env model env_var label_var)
  if(model MATCHES "^(lazy|entry)-homeless$")
    string(REPLACE "lazy-homeless" "lazy-release" base "${model}")
    string(REPLACE "entry-homeless" "entry" base "${base}")
    set(${env_var} "DSM_MODEL=${base};DSM_LAZY=homeless" PARENT_SCOPE)
    set(${label_var} "${base};homeless" PARENT_SCOPE)
  else()
    set(${env_var} "DSM_MODEL=${model}" PARENT_SCOPE)
    set(${label_var} "${model}" PARENT_SCOPE)
  endif()
endfunction()

# Each MPI test's Open MPI session directory base is its own directory under this one (see
# dsm_add_mpi_test).
set(DSM_SESSIONS_DIR ${CMAKE_BINARY_DIR}/ompi-sessions)

# CPU slots. scripts/test.sh runs ctest with twice as many jobs as it has CPU slots to give (a
# resource spec it writes: two slots per core, at least four): a test that computes takes one slot;
# one whose ranks poll takes two (labels mpi-transport, nodes and netns: the MPI path's engines spin
# after traffic, and on loaded cores they spin longest: mpi_transport.litmus at 4 ranks took 2.6 s
# alone and 36 s among three other tests); one that mostly waits takes none (label waits: injected
# delays, a rank's death, an idle measurement, a job that must fail), so that its waiting overlaps
# the others' work.
# ctest without --resource-spec-file ignores the slots.
function(dsm_cpu_slots labels out_var)
  if("waits" IN_LIST labels)
    set(${out_var} "" PARENT_SCOPE)
  elseif("mpi-transport" IN_LIST labels OR "nodes" IN_LIST labels OR "netns" IN_LIST labels)
    set(${out_var} "cpu:2" PARENT_SCOPE)
  else()
    set(${out_var} "cpu:1" PARENT_SCOPE)
  endif()
endfunction()

# dsm_tests_done(): gives every test of the calling directory that has none the Open MPI session
# directory base of its own that dsm_add_mpi_test gives its tests (below), and its CPU slots
# (above). Call it at the end of a CMakeLists.txt that registers tests with add_test: a test's
# properties can be set only from its own directory.
function(dsm_tests_done)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} ENVIRONMENT env)
    if(NOT env MATCHES "OMPI_MCA_orte_tmpdir_base=")
      set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT "OMPI_MCA_orte_tmpdir_base=${DSM_SESSIONS_DIR}/${test}")
    endif()
    get_test_property(${test} RESOURCE_GROUPS groups)
    get_test_property(${test} LABELS labels)
    dsm_cpu_slots("${labels}" slots)
    if(NOT groups AND slots)
      set_property(TEST ${test} PROPERTY RESOURCE_GROUPS ${slots})
    endif()
  endforeach()
endfunction()

# dsm_add_mpi_test(<name> COMMAND <target-or-path> [args...] RANKS 1 2 4 [MODELS sc ...] [HOMELESS]
#                  [TIMEOUT s] [COST c] [LABELS ...] [ENV VAR=value ...])
# registers <name>.<model>.np<N> for each model and rank count; HOMELESS adds the homeless variants
# of the lazy-release models (DSM_TEST_HOMELESS) to the default models, at one rank count: the
# largest of RANKS up to 4 (the homeless protocol is the one the project started with; the variants
# keep it honest without doubling the suite).
function(dsm_add_mpi_test name)
  cmake_parse_arguments(A "HOMELESS" "TIMEOUT;COST" "COMMAND;RANKS;MODELS;LABELS;ENV" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  if(NOT A_RANKS)
    set(A_RANKS 1 2 4)
  endif()
  if(NOT A_MODELS)
    set(A_MODELS ${DSM_TEST_MODELS})
    if(A_HOMELESS)
      list(APPEND A_MODELS ${DSM_TEST_HOMELESS})
    endif()
  endif()
  list(GET A_COMMAND 0 exe)
  list(REMOVE_AT A_COMMAND 0)
  if(TARGET ${exe})
    set(exe $<TARGET_FILE:${exe}>)
  endif()
  set(chaos_factor 1)
  if("chaos" IN_LIST A_LABELS)
    set(chaos_factor 5)
    list(APPEND A_LABELS waits)  # injected delays: the ranks sleep most of the run
  endif()
  set(homeless_ranks "")
  foreach(n IN LISTS A_RANKS)
    if(n LESS_EQUAL 4)
      set(homeless_ranks ${n})
    endif()
  endforeach()
  foreach(model IN LISTS A_MODELS)
    set(ranks ${A_RANKS})
    if(model IN_LIST DSM_TEST_HOMELESS AND homeless_ranks)
      set(ranks ${homeless_ranks})
    endif()
    foreach(n IN LISTS ranks)
      set(test ${name}.${model}.np${n})
      dsm_model_env(${model} model_env model_labels)
      add_test(NAME ${test} COMMAND ${DSM_MPIRUN} -np ${n} ${exe} ${A_COMMAND})
      # ctest starts the costliest tests first (with -j, a long test started last would end the
      # run alone): more ranks cost more, and injected faults (label chaos) sleep for a long time.
      math(EXPR cost "${n} * ${chaos_factor}")
      if(A_COST)
        set(cost ${A_COST})
      endif()
      # Each test's Open MPI session directory under a base of its own: mpiruns started at once
      # under ctest -j shared /tmp/ompi.<host>.<uid>/, and one's clean-up could remove it while
      # another made it (orte_init: mkdir "File exists", "orte_session_dir failed", once in a
      # fresh-clone run of the suite).
      set(labels "mpi;np${n};${model_labels};${A_LABELS}")
      dsm_cpu_slots("${labels}" slots)
      if(slots)
        set_tests_properties(${test} PROPERTIES RESOURCE_GROUPS ${slots})
      endif()
      set_tests_properties(${test} PROPERTIES TIMEOUT ${A_TIMEOUT} COST ${cost} LABELS "${labels}"
        ENVIRONMENT "${model_env};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_orte_tmpdir_base=${DSM_SESSIONS_DIR}/${test};${DSM_SANITIZER_ENV};${A_ENV}")
    endforeach()
  endforeach()
endfunction()
