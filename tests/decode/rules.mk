# tests/decode: the instruction decoder (src/cpu/decode.c) against
# Capstone, a decoder we did not write (Debian's libcapstone-dev).
build/tests/decode/decodetest: tests/decode/decodetest.c src/cpu/decode.h \
		build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -Isrc -D_GNU_SOURCE $(ASANFLAGS) -o $@ $< \
		build/asan/liblguest.a $(LDLIBS) -lcapstone

CHECK_DEPS += build/tests/decode/decodetest
