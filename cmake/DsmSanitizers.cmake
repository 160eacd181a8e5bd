# DsmSanitizers.cmake: the sanitizer builds, one cache option.
#   -DDSM_SANITIZE=address   AddressSanitizer + UndefinedBehaviorSanitizer (any UB aborts the test)
#   -DDSM_SANITIZE=thread    ThreadSanitizer (the unit tests; Open MPI itself is not instrumented)
# The flags live on the interface target dsm_sanitize, which the dsm library links PUBLIC inside the
# build tree only ($<BUILD_INTERFACE:...>): every test, example and benchmark that links dsm is
# instrumented too, and the installed package carries no sanitizer flag. The run-time options the
# tests need (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS, TSAN_OPTIONS) are in DSM_SANITIZER_ENV, which
# the helpers of DsmTesting.cmake put into every test's environment; docs/reliability.md explains them.
set(DSM_SANITIZE "" CACHE STRING "Sanitizer build: address (ASan+UBSan), thread (TSan), or empty for none")
set_property(CACHE DSM_SANITIZE PROPERTY STRINGS "" address thread)

add_library(dsm_sanitize INTERFACE)
set(DSM_SANITIZER_ENV "")
set(_supp ${CMAKE_CURRENT_LIST_DIR}/sanitizers)

if(DSM_SANITIZE STREQUAL "address")
  set(_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(dsm_sanitize INTERFACE ${_flags})
  target_link_options(dsm_sanitize INTERFACE ${_flags})
  # handle_segv=1 + allow_user_segv_handler=1: ASan installs its SIGSEGV handler at start-up and
  # lets dsm::init install the runtime's over it; the runtime handles faults in the global space and
  # passes every other one to ASan's handler, which reports it with a stack trace (docs/reliability.md,
  # "The SIGSEGV handler under ASan"). detect_leaks stays on, with suppressions for Open MPI only,
  # which match only on whole allocation stacks (fast_unwind_on_malloc=0: Open MPI has no frame pointers).
  set(DSM_SANITIZER_ENV
    "ASAN_OPTIONS=handle_segv=1:allow_user_segv_handler=1:detect_leaks=1:fast_unwind_on_malloc=0"
    "LSAN_OPTIONS=suppressions=${_supp}/lsan.supp:print_suppressions=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
elseif(DSM_SANITIZE STREQUAL "thread")
  set(_flags -fsanitize=thread -fno-omit-frame-pointer)
  target_compile_options(dsm_sanitize INTERFACE ${_flags})
  target_link_options(dsm_sanitize INTERFACE ${_flags})
  set(DSM_SANITIZER_ENV "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${_supp}/tsan.supp")
elseif(NOT DSM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "DSM_SANITIZE='${DSM_SANITIZE}'; valid: address, thread, or empty")
endif()
if(DSM_SANITIZE)
  message(STATUS "dsm: sanitizer build (${DSM_SANITIZE}); test environment: ${DSM_SANITIZER_ENV}")
endif()
