# The x87 tests: a differential test of src/cpu/fpu.c against the host's
# x87.  It links fpu.o alone (with its own stubs for the CPU helpers fpu.c
# calls), so it tests the FPU independently of the rest of the CPU.
FPU_DIFF := build/tests/fpu/fpu_diff
CHECK_DEPS += $(FPU_DIFF)

$(FPU_DIFF): tests/fpu/fpu_diff.c build/asan/src/cpu/fpu.o
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# The x87 through the whole CPU (cpu_new/cpu_run, exec.c, mmu.c).
FPU_RUN := build/tests/fpu/fpu_run
CHECK_DEPS += $(FPU_RUN)

$(FPU_RUN): tests/fpu/fpu_run.c build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)
