# tests/virtio: the PCI bus and the virtio devices driven directly by a C
# program playing the guest (driver.c), good and hostile.  guest_kill is
# wrapped so the test can read the kill reason, and fdatasync and pwritev so
# that they can fail or wait on demand.
VIRTIO_TEST := build/tests/virtio/test_virtio
VIRTIO_TEST_SRCS := tests/virtio/test_virtio.c tests/virtio/driver.c

$(VIRTIO_TEST): $(VIRTIO_TEST_SRCS) tests/virtio/driver.h tests/unit/tap.h \
		build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -Wl,--wrap=guest_kill \
		-Wl,--wrap=fdatasync -Wl,--wrap=pwritev -o $@ \
		$(VIRTIO_TEST_SRCS) build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += $(VIRTIO_TEST)
