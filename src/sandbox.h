/*
 * The sandbox: what lguest gives up once the machine is built.
 *
 * Everything the guest can reach (RAM, disks, TAP, sharenet files, the
 * terminal, libslirp's listening sockets) is opened before the guest runs
 * its first instruction.  Then main() calls sandbox_enter(): with
 * --chroot=DIR and --user=NAME the process moves into DIR and drops root
 * for NAME's uid and gid, as the original lguest launcher did; and, unless
 * --no-sandbox, a seccomp filter allows only the system calls the run loop,
 * the I/O threads and the backends make from then on, killing the process
 * on any other.  sandbox_check() runs first, before anything is opened, so
 * that a missing user or directory is refused in one line.
 */
#ifndef LGUEST_SANDBOX_H
#define LGUEST_SANDBOX_H

#include "options.h"

/* Looks up --user and --chroot; die()s with the reason if either is
 * wrong.  Call before opening anything. */
void sandbox_check(const struct options *o);

/* chroot, drop privileges, install the filter (each as asked); die()s if
 * any step fails.  Call after every device is open, before machine_run(). */
void sandbox_enter(const struct options *o);

#endif
