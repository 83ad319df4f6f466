# tests/longmode: a 64-bit test program, started by Multiboot in 32-bit
# mode, that enters long mode itself.  Compiled for x86-64 and turned into
# a 32-bit ELF file (objcopy) that Multiboot loaders take; its header's
# address fields make both lguest and QEMU load it as a flat image.
LMT := build/tests/longmode
LMT_CFLAGS := -m64 -mno-red-zone -mgeneral-regs-only -mcmodel=small -O2 -g \
	-ffreestanding -nostdlib -fno-pic -no-pie -static \
	-fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -Wall -Wextra -Werror \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

$(LMT)/lm.elf: tests/longmode/start.S tests/longmode/lm.c \
	       tests/longmode/prog.ld
	@mkdir -p $(@D)
	$(CC) $(LMT_CFLAGS) -T tests/longmode/prog.ld -o $(LMT)/lm64.elf \
		tests/longmode/start.S tests/longmode/lm.c
	objcopy -O elf32-i386 $(LMT)/lm64.elf $@

CHECK_DEPS += $(LMT)/lm.elf
