/*
 * The launcher's command line, kept as the original lguest had it:
 *
 *	lguest [--verbose] <mem> <kernel> [--initrd=FILE] [--block=FILE]...
 *	       [--tunnet=IPADDR] [--sharenet=FILE]... [kernel args...]
 *
 * One table (options.c) drives parsing, validation and --help.  Parsing
 * never exits and never touches a file: it only turns argv into a struct
 * options or a one-line reason, so that tests can run it on any input.
 * Whether a kernel or a disk can actually be opened is found out later, by
 * the part that opens it.
 */
#ifndef LGUEST_OPTIONS_H
#define LGUEST_OPTIONS_H

#include <stdio.h>

#include "types.h"

#define LGUEST_VERSION "0.1"

/* Options that ask for a device, in the order the user gave them (the
 * order decides the PCI slot, as it decided the device number once). */
enum dev_kind {
	DEV_BLOCK,	/* --block=FILE */
	DEV_TUNNET,	/* --tunnet=IPADDR */
	DEV_SHARENET,	/* --sharenet=FILE */
	DEV_RNG,	/* --rng */
	DEV_NET_USER,	/* --net=user */
	DEV_EXIT_PORT,	/* --exit-port: QEMU's isa-debug-exit at 0xf4 */
};

struct dev_request {
	enum dev_kind kind;
	const char *opt;	/* the option's name, for messages */
	const char *arg;	/* its value, or NULL */
};

#define MAX_DEVICES 32
#define MAX_INITRDS 16

struct options {
	u64 mem;		/* bytes */
	const char *mem_arg;	/* as the user wrote it */
	const char *kernel;
	const char *initrd[MAX_INITRDS];
	int ninitrd;
	struct dev_request dev[MAX_DEVICES];
	int ndev;
	bool verbose;
	bool boot_time;		/* print the guest's boot-time mark */
	bool unpack;		/* unpack an XZ bzImage on the host */
	bool no_sandbox;	/* --no-sandbox: no system call filter */
	const char *chroot_dir;	/* --chroot=DIR, or NULL */
	const char *user;	/* --user=NAME, or NULL */
	char *cmdline;		/* the kernel args joined by spaces (malloc) */
};

enum opt_action {
	OPT_RUN,	/* boot the guest */
	OPT_HELP,	/* --help: print options_usage() and exit 0 */
	OPT_VERSION,	/* --version */
	OPT_ERROR,	/* err holds the one-line reason */
};

/* Turn argv into o.  Returns what to do; on OPT_ERROR, err (errlen bytes)
 * says why, without the "lguest: " prefix.  o->cmdline is malloc'd even when
 * empty; options_free() releases it. */
enum opt_action options_parse(struct options *o, int argc, char **argv,
			      char *err, size_t errlen);
void options_free(struct options *o);

/* Parse a memory size: decimal digits and an optional k, m or g suffix in
 * either case.  A plain number means MiB, as the original's <mem-in-mb>.
 * Returns 0, or -1 if s is not such a size (or overflows). */
int parse_size(const char *s, u64 *bytes);

/* The --help text, generated from the table. */
void options_usage(FILE *f);

/* For main(): parse, print --help/--version and exit 0, or die() with the
 * reason.  Returns only for OPT_RUN. */
void options_parse_or_exit(struct options *o, int argc, char **argv);

#endif
