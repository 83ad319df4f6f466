/*
 * Fuzz target: the command line (src/options.c) and the small parsers the
 * devices run on their option values before the guest starts: the
 * sizes, --block's ",ro", the NICs' ",mac=..." and ",promisc" items and
 * MAC addresses (src/net/netopt.c), --tunnet's address (src/net/tap.c),
 * and the kernel command line we build from the user's words (boot.c).
 * The input is argv, its words separated by NUL bytes.
 *
 * options_parse() must never exit or die, only answer; an error comes
 * with a reason.  A run it accepts must be one lguest can start: a memory
 * size in range and a multiple of 4 KiB, a kernel, no more devices and
 * initrds than the tables hold, and every device value non-empty.
 */
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "fuzz.h"
#include "memory.h"
#include "net/net.h"
#include "net/virtio_net.h"
#include "options.h"

#define MAX_WORDS 64

static void check_run(const struct options *o)
{
	if (o->mem < GUEST_MEM_MIN || o->mem > GUEST_MEM_MAX ||
	    o->mem % 4096)
		fuzz_fail("memory size %llu accepted",
			  (unsigned long long)o->mem);
	if (!o->kernel || !o->mem_arg || !o->cmdline)
		fuzz_fail("no kernel, size or command line");
	if (o->ndev < 0 || o->ndev > MAX_DEVICES || o->ninitrd < 0 ||
	    o->ninitrd > MAX_INITRDS)
		fuzz_fail("%d devices, %d initrds", o->ndev, o->ninitrd);
	for (int i = 0; i < o->ninitrd; i++)
		if (!o->initrd[i] || !*o->initrd[i])
			fuzz_fail("an empty --initrd");
}

/* What each device does with its value before the guest starts. */
static void device_values(const struct options *o)
{
	char out[64], ip[128];
	u8 mac[6];

	for (int i = 0; i < o->ndev; i++) {
		const char *a = o->dev[i].arg;

		if (!a)
			continue;
		if (!*a)
			fuzz_fail("--%s with an empty value", o->dev[i].opt);
		if (net_opt(a, "mac", out, sizeof(out)))
			net_parse_mac(out, mac);
		net_opt(a, "promisc", out, sizeof(out));
		net_opt(a, "hostfwd", out, sizeof(out));
		if (o->dev[i].kind == DEV_TUNNET &&
		    virtio_net_tunnet_ip_arg(a, ip, sizeof(ip)) &&
		    strncmp(ip, "ip=", 3))
			fuzz_fail("tunnet ip= argument \"%s\"", ip);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_WORDS + 2], err[256];
	struct options o;
	enum opt_action act;
	int argc = 1;
	u64 bytes;

	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = 0;
	argv[0] = "lguest";
	for (char *p = copy; argc <= MAX_WORDS && p <= copy + size;
	     p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++)
		parse_size(argv[i], &bytes);

	err[0] = 0;
	act = options_parse(&o, argc, argv, err, sizeof(err));
	if (act == OPT_ERROR && !err[0])
		fuzz_fail("an error without a reason");
	if (act == OPT_RUN) {
		char *cmd = linux_cmdline(o.cmdline);

		check_run(&o);
		device_values(&o);
		linux_console_is_hvc0(o.cmdline);
		if (!strstr(cmd, o.cmdline))
			fuzz_fail("the user's words are not in \"%s\"", cmd);
		free(cmd);
	}
	options_free(&o);
	free(copy);
	return 0;
}
