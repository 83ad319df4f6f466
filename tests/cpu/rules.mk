# tests/cpu: the differential test of the CPU's integer instructions
# (test_diff.sh).  difftest is the 64-bit harness, built with the sanitizers
# against build/asan/liblguest.a; ref32 is its 32-bit reference executor,
# run under qemu-i386.
CPU_DIFF_SRCS := tests/cpu/difftest.c tests/cpu/forms.c tests/cpu/native.c
CPU_DIFF_HDRS := tests/cpu/difftest.h tests/cpu/harness.h tests/cpu/host_sse.h \
		 src/cpu/cpu.h src/cpu/cpu_internal.h src/types.h
CPU_DIFF_CFLAGS := -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE

build/tests/cpu/difftest: $(CPU_DIFF_SRCS) $(CPU_DIFF_HDRS) build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(CPU_DIFF_CFLAGS) $(ASANFLAGS) -o $@ $(CPU_DIFF_SRCS) \
		build/asan/liblguest.a $(LDLIBS)

build/tests/cpu/ref32: tests/cpu/ref32.c tests/cpu/difftest.h src/types.h
	@mkdir -p $(@D)
	$(CC) -m32 -static -O1 -g $(CPU_DIFF_CFLAGS) -o $@ $<

CHECK_DEPS += build/tests/cpu/difftest build/tests/cpu/ref32

# alu64: the arithmetic unit at every operand size against the host.
build/tests/cpu/alu64: tests/cpu/alu64.c src/cpu/exec.h src/cpu/cpu_internal.h \
		build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(CPU_DIFF_CFLAGS) $(ASANFLAGS) -o $@ $< build/asan/liblguest.a \
		$(LDLIBS)

CHECK_DEPS += build/tests/cpu/alu64

# simddiff: the MMX/SSE/SSE2 half (test_simd.sh), host CPU as the oracle.
build/tests/cpu/simddiff: tests/cpu/simddiff.c $(CPU_DIFF_HDRS) build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(CPU_DIFF_CFLAGS) $(ASANFLAGS) -o $@ tests/cpu/simddiff.c \
		build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += build/tests/cpu/simddiff

# diff64: the 64-bit half (test_diff64.sh): our CPU in long mode against
# the host, integer and SIMD forms with REX.
build/tests/cpu/diff64: tests/cpu/diff64.c $(CPU_DIFF_HDRS) build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(CPU_DIFF_CFLAGS) $(ASANFLAGS) -o $@ tests/cpu/diff64.c \
		build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += build/tests/cpu/diff64
