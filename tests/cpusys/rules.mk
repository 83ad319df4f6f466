# tests/cpusys: system behaviour of the software CPU (paging, traps,
# privilege, task switches), checked by small freestanding 32-bit programs
# that run on it inside a minimal harness (run.c).
CPUSYS := build/tests/cpusys
CPUSYS_PROGS := paging pae prot df intr triple features realmode vm86 sse
CPUSYS_ELFS := $(CPUSYS_PROGS:%=$(CPUSYS)/%.elf)
CPUSYS_LIB := tests/cpusys/start.S tests/cpusys/lib.c tests/cpusys/lib.h \
	      tests/cpusys/faults.h tests/cpusys/prog.ld
CPUSYS_GUEST_CFLAGS := -m32 -march=i686 -mno-sse -mno-mmx -O2 -g \
	-ffreestanding -nostdlib -fno-pic -no-pie -static \
	-fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -Wall -Wextra -Werror \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

$(CPUSYS)/run: tests/cpusys/run.c tests/unit/files.h build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

# REP string iterations against cpu_run()'s budget: a host program that
# builds its few instructions by hand.
$(CPUSYS)/rep_budget: tests/cpusys/rep_budget.c tests/unit/tap.h \
		build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)

$(CPUSYS)/%.elf: tests/cpusys/%.c $(CPUSYS_LIB)
	@mkdir -p $(@D)
	$(CC) $(CPUSYS_GUEST_CFLAGS) -T tests/cpusys/prog.ld -o $@ \
		tests/cpusys/start.S tests/cpusys/lib.c $<

CHECK_DEPS += $(CPUSYS)/run $(CPUSYS)/rep_budget $(CPUSYS_ELFS)
