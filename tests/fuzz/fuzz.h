/*
 * What every fuzz target shares (fuzz_lib.c): a reader that takes
 * numbers off the front of libFuzzer's input, the guest's kill reason,
 * and a catcher for die().
 *
 * Each target is one file, tests/fuzz/fuzz_*.c, with libFuzzer's
 * LLVMFuzzerTestOneInput(); tests/fuzz/rules.mk builds it with clang,
 * AddressSanitizer and UndefinedBehaviorSanitizer, and links it with
 * --wrap=guest_kill,die,die_errno so that:
 *
 *  - guest_kill() still kills (the real one runs), and the reason is kept
 *    in fuzz_kill_reason for the target to judge;
 *  - die() inside fuzz_catch_die() (a loader refusing a kernel, which in
 *    lguest ends the process with one line) comes back to the target as a
 *    refusal; die() anywhere else is a bug the fuzzer found and aborts,
 *    which libFuzzer reports as a crash.  So is exit(), and so is abort().
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* The input, read front to back; past its end every number is 0. */
struct fuzz_in {
	const u8 *p;
	size_t n;
};

static inline bool in_empty(const struct fuzz_in *in)
{
	return in->n == 0;
}

u8 in_u8(struct fuzz_in *in);
u16 in_u16(struct fuzz_in *in);
u32 in_u32(struct fuzz_in *in);
u64 in_u64(struct fuzz_in *in);
/* Up to max bytes (fewer at the end of the input); returns how many. */
size_t in_bytes(struct fuzz_in *in, void *buf, size_t max);
/* An access size: 1, 2 or 4. */
int in_size(struct fuzz_in *in);

/* The first reason the guest was killed for since fuzz_kill_clear(). */
extern char fuzz_kill_reason[256];
void fuzz_kill_clear(void);

/* With FUZZ_VERBOSE=1 in the environment, says what an input did (how a
 * load ended, why the guest was killed): for checking seeds by hand. */
void fuzz_note(const char *fmt, ...) printf_like(1, 2);

/* Prints why and aborts: a property the target checks did not hold. */
noreturn void fuzz_fail(const char *fmt, ...) printf_like(1, 2);

/* die()'s message when fuzz_catch_die() caught one. */
extern char fuzz_die_msg[256];
/* Set while a call that may die() runs: fuzz_catch_die(). */
extern jmp_buf *fuzz_die_jmp;

/* Runs stmt; true if it returned, false if it called die(). */
#define fuzz_catch_die(stmt) ({						\
	jmp_buf fuzz_jb_;						\
	bool fuzz_ok_ = false;						\
	fuzz_die_msg[0] = 0;						\
	if (!setjmp(fuzz_jb_)) {					\
		fuzz_die_jmp = &fuzz_jb_;				\
		stmt;							\
		fuzz_ok_ = true;					\
	}								\
	fuzz_die_jmp = NULL;						\
	fuzz_ok_;							\
})

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
