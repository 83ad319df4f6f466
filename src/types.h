/*
 * Small types and helpers every part of lguest shares.
 *
 * Kernel-style fixed-width names (u8 .. u64), a few bit helpers, and the
 * launcher's habits of speech: die() for a user error before the guest
 * starts, verbose() for what --verbose prints.  Nothing in here knows about
 * the guest machine.
 */
#ifndef LGUEST_TYPES_H
#define LGUEST_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define noreturn __attribute__((noreturn))
#define printf_like(a, b) __attribute__((format(printf, a, b)))

/*L:190
 * lguest has two kinds of error, and they never mix.  The user's
 * mistakes (a size that is not a size, a kernel that is not a kernel, a
 * disk that cannot be opened) are found before the guest runs its first
 * instruction and end lguest with die(): one line naming the file or the
 * option and the reason, status 1.  The guest's mistakes are found while
 * it runs and go through guest_kill() (see M:140) instead, because by then
 * there is a terminal to restore and devices to stop.  A third kind, a
 * bug in lguest itself (two devices claiming one port), is an abort(). :*/
/* Little-endian fields in byte buffers (boot headers, PCI configuration
 * space, guest structures), whatever the host's own order. */
static inline u16 get_le16(const u8 *p)
{
	return (u16)(p[0] | p[1] << 8);
}

static inline u32 get_le32(const u8 *p)
{
	return get_le16(p) | (u32)get_le16(p + 2) << 16;
}

static inline u64 get_le64(const u8 *p)
{
	return get_le32(p) | (u64)get_le32(p + 4) << 32;
}

static inline void put_le16(u8 *p, u16 v)
{
	p[0] = (u8)v;
	p[1] = (u8)(v >> 8);
}

static inline void put_le32(u8 *p, u32 v)
{
	put_le16(p, (u16)v);
	put_le16(p + 2, (u16)(v >> 16));
}

static inline void put_le64(u8 *p, u64 v)
{
	put_le32(p, (u32)v);
	put_le32(p + 4, (u32)(v >> 32));
}

/* Set by --verbose; verbose() prints only when it is on. */
extern int lguest_verbose;

/* The ways lguest ends; end_status() is the exit status of each. */
enum lguest_end {
	END_POWEROFF,	/* the guest powered off */
	END_RESET,	/* it reset itself (i8042, port 0xcf9) */
	END_PANIC,	/* Linux panicked (and reset, with panic=-1) */
	END_KILLED,	/* guest_kill(): a triple fault, a broken request */
	END_REFUSED,	/* die(): lguest refused to start it, or failed */
	END_CTRL_C,	/* the user typed three ^C */
};

/* The exit status for an end: 0, 1, 2 or 130 as always, or -- once
 * exit_statuses_even() was called, for --exit-port -- a distinct even
 * status for each, so that no end of ours reads as a QEMU test verdict. */
int end_status(enum lguest_end end);
void exit_statuses_even(void);

/* One line on stderr, "lguest: <message>", then exit with the status of
 * END_REFUSED.  For the user's mistakes, before the guest runs. */
noreturn void die(const char *fmt, ...) printf_like(1, 2);
/* As die(), with ": strerror(errno)" appended. */
noreturn void die_errno(const char *fmt, ...) printf_like(1, 2);
/* "lguest: <message>" on stderr when --verbose was given. */
void verbose(const char *fmt, ...) printf_like(1, 2);
/* "lguest: <message>" on stderr always: something the user must know
 * while the guest runs (a disk that failed).  Safe from any thread. */
void notice(const char *fmt, ...) printf_like(1, 2);

#endif
