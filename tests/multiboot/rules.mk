# tests/multiboot: Multiboot programs that lguest boots like any kernel
# (lguest --exit-port 128m prog.elf).  The cpusys system tests are built
# again here from their own sources, with their console on COM1 instead of
# the cpusys harness's port 0xe9 (serial_lib.c); exitprog tests the exit
# port itself, on lguest and on QEMU.
MBT := build/tests/multiboot
MBT_PROGS := paging pae prot df triple features realmode vm86
MBT_ELFS := $(MBT_PROGS:%=$(MBT)/%.elf) $(MBT)/exitprog.elf
MBT_CFLAGS := -m32 -march=i686 -mno-sse -mno-mmx -O2 -g \
	-ffreestanding -nostdlib -fno-pic -no-pie -static \
	-fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -Wall -Wextra -Werror \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
MBT_CPUSYS := tests/cpusys/start.S tests/cpusys/lib.c tests/cpusys/lib.h \
	      tests/cpusys/faults.h tests/cpusys/prog.ld

$(MBT)/%.elf: tests/cpusys/%.c tests/multiboot/serial_lib.c \
	      tests/multiboot/serial.h $(MBT_CPUSYS)
	@mkdir -p $(@D)
	$(CC) $(MBT_CFLAGS) -T tests/cpusys/prog.ld -o $@ \
		tests/cpusys/start.S tests/multiboot/serial_lib.c $<

$(MBT)/exitprog.elf: tests/multiboot/exitprog.c tests/multiboot/exit_start.S \
		     tests/multiboot/serial.h tests/cpusys/prog.ld
	@mkdir -p $(@D)
	$(CC) $(MBT_CFLAGS) -T tests/cpusys/prog.ld -o $@ \
		tests/multiboot/exit_start.S tests/multiboot/exitprog.c

CHECK_DEPS += $(MBT_ELFS)
