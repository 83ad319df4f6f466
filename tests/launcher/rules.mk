# The launcher tests run ./lguest-asan itself; they use the tiny ELF kernels
# that tests/unit/rules.mk builds.
CHECK_DEPS += build/tests/unit/tiny.elf build/tests/unit/tiny-phys.elf \
	      build/tests/unit/mb.elf build/tests/unit/mb-flat.bin
