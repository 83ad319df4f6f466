# tests/jit: the translator (src/cpu/jit.c) against the interpreter on
# random whole programs (test_jit.sh).  jitdiff is built with the
# sanitizers against build/asan/liblguest.a like the other unit tests.
JIT_TEST_SRCS := tests/jit/jitdiff.c tests/jit/gen.c
JIT_TEST_HDRS := tests/jit/jitdiff.h tests/jit/watchdog.h tests/jit/rep_range.h \
		 src/cpu/cpu.h \
		 src/cpu/cpu_internal.h src/types.h

build/tests/jit/jitdiff: $(JIT_TEST_SRCS) $(JIT_TEST_HDRS) build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE $(ASANFLAGS) -o $@ \
		$(JIT_TEST_SRCS) build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += build/tests/jit/jitdiff

# jitdiff64: the same for 64-bit code in long mode (test_jit64.sh).
JIT64_TEST_SRCS := tests/jit/jitdiff64.c tests/jit/gen64.c
JIT64_TEST_HDRS := tests/jit/jitdiff64.h tests/jit/watchdog.h \
		   tests/jit/rep_range.h src/cpu/cpu.h \
		   src/cpu/cpu_internal.h src/types.h

build/tests/jit/jitdiff64: $(JIT64_TEST_SRCS) $(JIT64_TEST_HDRS) build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE $(ASANFLAGS) -o $@ \
		$(JIT64_TEST_SRCS) build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += build/tests/jit/jitdiff64
