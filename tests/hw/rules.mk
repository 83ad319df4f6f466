# Platform tests: devices, the bus and the run loop on a stand-in CPU, and
# the host terminal.  They link the ASan library, with tests/hw/stub_cpu.c
# in place of the software CPU.
HW_TEST_BINS := build/tests/hw/hw_test build/tests/hw/term_child \
	build/tests/hw/clock_test build/tests/hw/apic_test \
	build/tests/hw/term_test
CHECK_DEPS += $(HW_TEST_BINS)

build/tests/hw/%: tests/hw/%.c tests/hw/stub_cpu.c tests/hw/stub_cpu.h \
		tests/hw/tap.h build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -Itests/hw -o $@ tests/hw/$*.c \
		tests/hw/stub_cpu.c build/asan/liblguest.a $(LDLIBS)
