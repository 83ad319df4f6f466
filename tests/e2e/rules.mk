# tests/e2e: sse_prog, an i386 program for the guest (test_sse.sh), built
# static with the host's 32-bit glibc like tests/cpu's ref32.
build/tests/e2e/sse_prog: tests/e2e/sse_prog.c
	@mkdir -p $(@D)
	$(CC) -m32 -static -O2 -msse2 -mfpmath=sse $(WARN) -o $@ $< -lm

CHECK_DEPS += build/tests/e2e/sse_prog

# tsc_prog: the TSC's reads in the guest (test_tsc.sh), the same way.
build/tests/e2e/tsc_prog: tests/e2e/tsc_prog.c
	@mkdir -p $(@D)
	$(CC) -m32 -static -O2 $(WARN) -o $@ $<

CHECK_DEPS += build/tests/e2e/tsc_prog

# string_prog: REP MOVS and STOS in the guest (test_string.sh), the same way.
build/tests/e2e/string_prog: tests/e2e/string_prog.c
	@mkdir -p $(@D)
	$(CC) -m32 -static -O2 $(WARN) -o $@ $<

CHECK_DEPS += build/tests/e2e/string_prog

# code_prog: code a translated block runs in line changing under it
# (test_code.sh), the same way.
build/tests/e2e/code_prog: tests/e2e/code_prog.c
	@mkdir -p $(@D)
	$(CC) -m32 -static -O2 $(WARN) -o $@ $<

CHECK_DEPS += build/tests/e2e/code_prog
