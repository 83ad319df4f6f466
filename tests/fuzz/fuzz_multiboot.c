/*
 * Fuzz target: the Multiboot loader (src/multiboot.c): the header search
 * and checksum, the flags, flat images (address fields) and ELF ones,
 * modules and the information block; through boot_kernel(), which tries
 * Multiboot first and Linux after, as lguest does.  The input:
 *
 *	u8	bits 0-1: 0-3 modules; bits 2-6: RAM of 2 + n MiB
 *	u8	length of the kernel arguments, then they
 *	u16	length of each module, then it
 *	...	the kernel file
 *
 * A load either returns, and then what it promises holds (fuzz_load.c),
 * or refuses with die(); anything else is a finding.
 */
#include <string.h>

#include "fuzz_load.h"

#define NMOD 3

static struct fuzz_file kernel, module[NMOD];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_file_init(&kernel, "kernel");
	for (int i = 0; i < NMOD; i++)
		fuzz_file_init(&module[i], "module");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u8 flags = in_u8(&in), buf[65536];
	char cmdline[256];
	const char *mods[NMOD];
	struct boot_args a = {
		.kernel = kernel.path, .initrd = mods,
		.ninitrd = (flags & 3) % (NMOD + 1), .cmdline = cmdline,
		.unpack = true,
	};
	size_t n;

	n = in_bytes(&in, cmdline, in_u8(&in));
	cmdline[n] = 0;
	for (int i = 0; i < a.ninitrd; i++) {
		mods[i] = module[i].path;
		n = in_bytes(&in, buf, in_u16(&in));
		fuzz_file_set(&module[i], buf, n);
	}
	fuzz_file_set(&kernel, in.p, in.n);
	fuzz_load((2 + ((flags >> 2) & 31)) * MiB, &a, false);
	return 0;
}
