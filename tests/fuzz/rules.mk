# tests/fuzz: libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer.  The library is built a
# third time for them (build/fuzz), with clang's coverage instrumentation.
# `make fuzz` runs each target for FUZZ_SECONDS (60) on a corpus kept in
# build/fuzz/corpus; `make check` runs each for a few seconds from the
# seeds alone (tests/fuzz/test_fuzz.sh).  The seeds are generated
# (tests/fuzz/mkcorpus.sh), never committed.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := virtqueue virtio_blk virtio_net virtio_console virtio_rng \
		pci boot_linux multiboot sharenet options
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer \
	       -fsanitize=address,undefined -fno-sanitize-recover=all \
	       -Wno-unknown-attributes
FUZZ_WRAP := -Wl,--wrap=guest_kill,--wrap=die,--wrap=die_errno
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/%.o)
FUZZ_HELPERS := $(patsubst %,$(FUZZ_DIR)/tests/fuzz/%.o,fuzz_lib fuzz_guest \
		  fuzz_load)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/fuzz_%)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASEFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/liblguest.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_DIR)/tests/fuzz/fuzz_%.o $(FUZZ_HELPERS) \
			$(FUZZ_DIR)/liblguest.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_WRAP) -o $@ $^ \
		$(LDLIBS)

# The seed generator is an ordinary program (it writes files).
$(FUZZ_DIR)/mkseeds: tests/fuzz/mkseeds.c tests/fuzz/fuzz_guest.h
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) -Itests/fuzz $(CFLAGS) $< -o $@ -llzma

fuzz-build: $(FUZZ_BINS) $(FUZZ_DIR)/mkseeds

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_KEEP=1 tests/fuzz/run.sh

CHECK_DEPS += $(FUZZ_BINS) $(FUZZ_DIR)/mkseeds
.PHONY: fuzz fuzz-build
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/tests/fuzz/fuzz_%.o) $(FUZZ_HELPERS)
