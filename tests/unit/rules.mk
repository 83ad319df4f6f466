# Unit tests: C programs that test one part directly (options, memory, the
# loader), and the tiny ELF kernels the loader tests boot.  They link only
# the ASan objects of the parts they test, so that a half-written device
# elsewhere in the tree cannot stop them building.
UNIT_DIR := build/tests/unit
UNIT_BINS := $(UNIT_DIR)/test_options $(UNIT_DIR)/test_memory \
	     $(UNIT_DIR)/test_boot $(UNIT_DIR)/test_multiboot
UNIT_ELFS := $(UNIT_DIR)/tiny.elf $(UNIT_DIR)/tiny-phys.elf \
	     $(UNIT_DIR)/mb.elf $(UNIT_DIR)/mb-flat.bin
TINY_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,--build-id=none \
		-T tests/unit/tiny.ld

UNIT_OBJS := $(patsubst %,build/asan/src/%.o,options memory boot multiboot util)

$(UNIT_DIR)/test_%: tests/unit/test_%.c tests/unit/tap.h tests/unit/expect_die.h \
		    tests/unit/files.h $(UNIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) $< -o $@ $(UNIT_OBJS) $(LDLIBS)

$(UNIT_DIR)/tiny.elf: tests/unit/tiny.S tests/unit/tiny.ld
	@mkdir -p $(@D)
	$(CC) $(TINY_LDFLAGS) $< -o $@

$(UNIT_DIR)/tiny-phys.elf: tests/unit/tiny.S tests/unit/tiny.ld
	@mkdir -p $(@D)
	$(CC) $(TINY_LDFLAGS) -Wl,-e,phys_startup_32 $< -o $@

MB_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,--build-id=none \
	      -Wl,--no-warn-rwx-segments \
	      -T tests/unit/mb.ld

$(UNIT_DIR)/mb.elf: tests/unit/mb.S tests/unit/mb.ld
	@mkdir -p $(@D)
	$(CC) $(MB_LDFLAGS) $< -o $@

$(UNIT_DIR)/mb-flat.bin: tests/unit/mb.S tests/unit/mb.ld
	@mkdir -p $(@D)
	$(CC) $(MB_LDFLAGS) -DFLAT $< -o $@.elf
	objcopy -O binary $@.elf $@

CHECK_DEPS += $(UNIT_BINS) $(UNIT_ELFS)
