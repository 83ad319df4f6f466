/*
 * An i386 program for the guest (tests/e2e/test_code.sh): code that calls
 * a PIC thunk (MOV EAX, [ESP]; RET) in another page, which the translator
 * runs in line (src/cpu/jit.c, thunk_inline()), and then finds other code
 * mapped where the thunk was: the thunk's own page written, and a new
 * page mapped over it while the thunk's stays, mapped elsewhere too.
 * Then the same pages of such code mapped at two addresses at once, as a
 * shared library's are in two processes: each mapping's call must see its
 * own address, though the translator keeps one block for both.
 * Each call's result must be what the code there now says; it prints
 * them.  Under qemu-i386 that is what a real CPU does;
 * test_code.sh wants the guest's output to be the same.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef unsigned int u32;

#define PROT_RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

static const unsigned char thunk[] = { 0x8b, 0x04, 0x24, 0xc3 };
static const unsigned char forty_two[] = { 0xb8, 0x2a, 0, 0, 0, 0xc3 };

/* The caller: CALL rel32 to the thunk's page, then RET. */
static void make_caller(unsigned char *at, const unsigned char *to)
{
	u32 rel = (u32)(to - (at + 5));

	at[0] = 0xe8;
	memcpy(at + 1, &rel, 4);
	at[5] = 0xc3;
}

/* Runs the caller n times: the sum of what EAX came back with, as an
 * offset from the caller when it is its own address. */
static u32 run(unsigned char *caller, int n)
{
	u32 (*f)(void) = (u32 (*)(void))(void *)caller;
	u32 sum = 0, v;
	int i;

	for (i = 0; i < n; i++) {
		v = f();
		sum += v - (v >= (u32)caller && v < (u32)caller + 4096 ?
			    (u32)caller : 0);
	}
	return sum;
}

/*
 * Two pages of a file mapped twice: in the first, a caller of a thunk in
 * the same page and a caller of one in the second page.  Each mapping's
 * callers, run in turn, must come back with their own addresses.
 */
static int twice(int fd)
{
	unsigned char *a, *b, *m[2];
	int i, k;

	a = mmap(NULL, 8192, PROT_RWX, MAP_SHARED, fd, 0);
	b = mmap(NULL, 8192, PROT_RWX, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		perror("mmap twice");
		return 1;
	}
	memset(a, 0xcc, 8192);
	memcpy(a + 900, thunk, sizeof(thunk));
	make_caller(a + 600, a + 900);
	memcpy(a + 4096 + 300, thunk, sizeof(thunk));
	make_caller(a + 700, a + 4096 + 300);
	m[0] = a;
	m[1] = b;
	for (i = 0; i < 4; i++) {
		for (k = 0; k < 2; k++) {
			printf("code: mapping %d, thunk in its page %u\n", k,
			       run(m[k] + 600, 1000));
			printf("code: mapping %d, thunk in the next %u\n", k,
			       run(m[k] + 700, 1000));
		}
	}
	return 0;
}

int main(void)
{
	unsigned char *code, *t, *u;
	int fd;

	code = mmap(NULL, 4096, PROT_RWX, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	fd = memfd_create("code_prog", 0);
	if (fd < 0 || ftruncate(fd, 4096)) {
		perror("memfd_create");
		return 1;
	}
	t = mmap(NULL, 4096, PROT_RWX, MAP_SHARED, fd, 0);
	if (code == MAP_FAILED || t == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(t + 100, thunk, sizeof(thunk));
	make_caller(code + 200, t + 100);
	printf("code: thunk %u\n", run(code + 200, 1000));
	/* Other code written over the thunk, in its page. */
	memcpy(t + 100, forty_two, sizeof(forty_two));
	printf("code: written over %u\n", run(code + 200, 1000));
	/* A new caller, made while the thunk is back. */
	memcpy(t + 100, thunk, sizeof(thunk));
	make_caller(code + 400, t + 100);
	printf("code: thunk again %u\n", run(code + 400, 1000));
	/* Another page mapped where the thunk was, while the thunk's page
	 * stays as it is, mapped elsewhere too: nothing writes it. */
	u = mmap(NULL, 4096, PROT_RWX, MAP_SHARED, fd, 0);
	if (u == MAP_FAILED) {
		perror("mmap again");
		return 1;
	}
	if (mmap(t, 4096, PROT_RWX, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) != t) {
		perror("mmap fixed");
		return 1;
	}
	memcpy(t + 100, forty_two, sizeof(forty_two));
	printf("code: mapped over %u\n", run(code + 400, 1000));
	printf("code: the thunk's page still has it: %d\n",
	       !memcmp(u + 100, thunk, sizeof(thunk)));
	if (ftruncate(fd, 8192) || twice(fd))
		return 1;
	printf("code: done\n");
	return 0;
}
