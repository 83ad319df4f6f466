/*
 * Fuzz target: the Linux loader (src/boot.c): bzImage (setup header,
 * sizes, run area, the XZ payload unpacked on the host), ELF vmlinux,
 * the command line and the initrd, through boot_linux().  The input:
 *
 *	u8	bit 0: unpack on the host; bit 1: an initrd;
 *		bits 2-6: RAM of 2 + n MiB
 *	u8	length of the kernel arguments, then they
 *	u16	length of the initrd, then it (with bit 1)
 *	...	the kernel file
 *
 * A load either returns, and then what it promises holds (fuzz_load.c),
 * or refuses with die(); anything else is a finding.
 */
#include <string.h>

#include "fuzz_load.h"

static struct fuzz_file kernel, initrd;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_file_init(&kernel, "kernel");
	fuzz_file_init(&initrd, "initrd");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u8 flags = in_u8(&in), buf[65536];
	char cmdline[256];
	const char *initrds[1] = { initrd.path };
	struct boot_args a = {
		.kernel = kernel.path, .initrd = initrds,
		.ninitrd = (flags >> 1) & 1, .cmdline = cmdline,
		.unpack = flags & 1,
	};
	size_t n;

	n = in_bytes(&in, cmdline, in_u8(&in));
	cmdline[n] = 0;
	if (a.ninitrd) {
		n = in_bytes(&in, buf, in_u16(&in));
		fuzz_file_set(&initrd, buf, n);
	}
	fuzz_file_set(&kernel, in.p, in.n);
	fuzz_load((2 + ((flags >> 2) & 31)) * MiB, &a, true);
	return 0;
}
