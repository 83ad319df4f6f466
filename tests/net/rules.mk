# tests/net: virtio-net and its backends (TAP, sharenet, slirp) driven
# through the NIC's queues by a C program playing the guest, on the
# virtio tests' driver (tests/virtio/driver.c).  guest_kill is wrapped to
# read kill reasons, machine_add_fd/machine_del_fd to run the backends'
# fds without a CPU.
NET_TEST := build/tests/net/test_net
NET_TEST_SRCS := tests/net/test_net.c tests/net/nic.c tests/virtio/driver.c

$(NET_TEST): $(NET_TEST_SRCS) tests/net/nic.h tests/virtio/driver.h \
		build/asan/liblguest.a
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(ASANFLAGS) -Wl,--wrap=guest_kill \
		-Wl,--wrap=machine_add_fd -Wl,--wrap=machine_del_fd -o $@ \
		$(NET_TEST_SRCS) build/asan/liblguest.a $(LDLIBS)

CHECK_DEPS += $(NET_TEST)

# A hostile peer on a sharenet file (tests/net/test_e2e_sharenet_hostile.sh
# and test_net.c run it beside real guests).
NET_HOSTILE := build/tests/net/sharenet_hostile

$(NET_HOSTILE): tests/net/sharenet_hostile.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) -O2 -o $@ $< -lpthread

CHECK_DEPS += $(NET_HOSTILE)
