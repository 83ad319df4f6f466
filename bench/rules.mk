# bench/cpu_mips.c: the CPU micro benchmark (not part of `make check`).
#   make -f Makefile -f bench/rules.mk cpu-mips
# builds build/bench/cpu_mips (host harness, linked with the optimised
# library) and build/bench/cpu_mips_guest.bin (the flat i386 guest), then
# runs it.  CPU_MIPS_ROUNDS sets the work (default 20).
CPU_MIPS_ROUNDS ?= 20

build/bench/cpu_mips_guest.bin: bench/cpu_mips.c
	@mkdir -p $(@D)
	$(CC) -m32 -march=i686 -O2 -DGUEST -ffreestanding -fno-pic -nostdlib \
		-static -Wl,-Ttext=0x100000 -Wl,-e,start -Wl,--build-id=none \
		-o $(@:.bin=.elf) $<
	objcopy -O binary -j .text -j .rodata -j .data $(@:.bin=.elf) $@

build/bench/cpu_mips: bench/cpu_mips.c build/rel/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) -O2 -g -o $@ $< build/rel/liblguest.a $(LDLIBS)

cpu-mips: build/bench/cpu_mips build/bench/cpu_mips_guest.bin
	build/bench/cpu_mips $(CPU_MIPS_ROUNDS)

.PHONY: cpu-mips
