/*
 * What the two loader targets share (fuzz_load.c): files made of input
 * bytes, a guest RAM of a size the input picks, and a load that may
 * die().
 *
 * The loaders read files by name, so the kernel and each initrd or module
 * is a memfd, named /proc/self/fd/N, rewritten for every input.  A kernel
 * the loader refuses ends, in lguest, the whole process with one line
 * (die()); here fuzz_catch_die() brings it back, and what the loader held
 * then (its copy of the file, a decoder's buffer, an open initrd) is what
 * exit() would have dropped: the target closes those fds and tells the
 * leak checker to ignore allocations made during a load.  Everything
 * else a sanitizer reports during a load is a finding.
 */
#ifndef TESTS_FUZZ_FUZZ_LOAD_H
#define TESTS_FUZZ_FUZZ_LOAD_H

#include "boot.h"
#include "fuzz.h"

struct fuzz_file {
	int fd;
	char path[32];
};

void fuzz_file_init(struct fuzz_file *f, const char *name);
/* Makes the file's contents exactly len bytes of p. */
void fuzz_file_set(struct fuzz_file *f, const void *p, size_t len);

/* Loads a->kernel (boot_kernel(), or boot_linux() when linux_only) into
 * a fresh RAM of mem bytes and checks what a successful load promises.
 * Returns true if it loaded, false if the loader refused it. */
bool fuzz_load(u64 mem, const struct boot_args *a, bool linux_only);

#endif
