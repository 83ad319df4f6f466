# lguest: `make` builds ./lguest, `make check` runs every test.
#
# Every .c under src/ except the launcher's main() goes into a library, built
# twice: once optimised (for ./lguest) and once with AddressSanitizer and
# UndefinedBehaviorSanitizer (for ./lguest-asan and the unit tests).  Test
# folders add their own rules in tests/*/rules.mk.

CC      ?= gcc
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
BASEFLAGS := -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE -MMD -MP
ASANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fno-omit-frame-pointer
LDLIBS  := -lm -llzma -lpthread -lslirp -lseccomp

LIB_SRCS := $(filter-out src/lguest.c,$(wildcard src/*.c src/*/*.c))
REL_OBJS := $(LIB_SRCS:%.c=build/rel/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=build/asan/%.o)

all: lguest

lguest: build/rel/src/lguest.o build/rel/liblguest.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

lguest-asan: build/asan/src/lguest.o build/asan/liblguest.a
	$(CC) $(ASANFLAGS) -o $@ $^ $(LDLIBS)

build/rel/liblguest.a: $(REL_OBJS)
	@rm -f $@
	ar rcs $@ $^

build/asan/liblguest.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

build/rel/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

# The software CPU: no SLP vectorising (it merges 4-byte stores and 8-byte
# reloads of neighbouring registers into failed store forwarding).
build/rel/src/cpu/%.o: CFLAGS += -fno-tree-slp-vectorize

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -c $< -o $@

# Tests: each tests/<area>/rules.mk appends its build targets to CHECK_DEPS.
CHECK_DEPS :=
include $(wildcard tests/*/rules.mk)

check: lguest lguest-asan $(CHECK_DEPS)
	@tests/run-all.sh

# The test guests (Debian's kernels and busybox, fetched by apt): the 686
# flavour every boot test uses, and 686-pae for tests/e2e/test_pae.sh.
guest:
	guest/build.sh
	FLAVOUR=686-pae guest/build.sh
	FLAVOUR=amd64 guest/build.sh

# The documentation (Documentation/guide.md says more): `make guide` stitches
# the tagged comments of src/ into the tour, build/guide/tour.md (generated,
# never committed); `make doc-check` checks the tags and that the man page
# and --help agree; `make install` installs the binary and the man page
# (PREFIX, DESTDIR as Debian packaging expects).
PREFIX ?= /usr/local

guide:
	@mkdir -p build/guide
	Documentation/extract-guide.sh >build/guide/tour.md
	@echo "the tour is in build/guide/tour.md"

doc-check: lguest
	@tests/docs/test_docs.sh

install: lguest
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 lguest $(DESTDIR)$(PREFIX)/bin/lguest
	install -m 644 Documentation/lguest.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/lguest.1

.PHONY: guide doc-check install

clean:
	rm -rf build lguest lguest-asan

.PHONY: all check clean guest
-include $(shell find build -name '*.d' 2>/dev/null)
