/*
 * The host terminal, as the guest's serial console sees it.
 *
 * term_open() takes an input and an output fd (normally 0 and 1).  When
 * the input is a terminal in the foreground, it is put in raw mode so that
 * every key goes to the guest, and restored on every way out: a normal
 * exit or die() (atexit), SIGTERM, SIGINT, SIGHUP and SIGQUIT, and the
 * signals of a crash or a limit, SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
 * SIGILL, SIGSYS and SIGXCPU (a handler that restores it and then dies of
 * the same signal).  Three ^C within one
 * second end lguest with status 130 (END_CTRL_C), as the original launcher
 * did; a single ^C goes to the guest.
 *
 * Input and output are buffered and never block the run loop: input is
 * read when the run loop's epoll says so and handed out with term_read();
 * end of input (a pipe, /dev/null) only stops the watching.  Output is
 * queued and written when the fd takes it; a stuck reader makes
 * term_write_room() shrink to zero, which a UART turns into a busy
 * transmitter, so nothing the guest was told was sent is lost.
 */
#ifndef LGUEST_TERM_H
#define LGUEST_TERM_H

#include "machine.h"

struct term;

struct term *term_open(struct machine *m, int in_fd, int out_fd);
void term_close(struct term *t);

/* The console device's callbacks: input_ready when term_read() has bytes,
 * output_room when term_write_room() grew after reaching zero. */
void term_set_client(struct term *t, void (*input_ready)(void *opaque),
		     void (*output_room)(void *opaque), void *opaque);

/* Up to max bytes of input; 0 when none is waiting. */
size_t term_read(struct term *t, u8 *buf, size_t max);
/* Queues up to len bytes for output; returns how many it took. */
size_t term_write(struct term *t, const u8 *buf, size_t len);
size_t term_write_room(struct term *t);

/* Puts the terminal back as it was (idempotent; atexit does it too). */
void term_restore(void);

#endif
