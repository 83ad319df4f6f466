/*
 * An i386 program for the guest (tests/e2e/test_tsc.sh): the TSC as
 * userland and the kernel read it.  On a real CPU no two reads are alike
 * and none is below the one before; Linux builds on that (at boot it
 * counts how many of 8191 reads in a row differ, and waits twice as long
 * for its first random bytes if one pair is alike).  It prints how many
 * reads broke the rule; under qemu-i386, on the host's TSC, every count
 * is 0, and test_tsc.sh wants the guest's output to be the same.
 */
#include <stdio.h>

typedef unsigned long long u64;

static u64 rdtsc(void)
{
	unsigned int lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/*
 * Two reads, the first early in a long run of code that a conditional
 * jump leaves at once, the second just where it lands, before a RET: for
 * a translator, a long block left by its first jump and a short one.
 */
static void __attribute__((noinline)) read_pair(unsigned int out[4])
{
	asm volatile("rdtsc\n\t"
		     "movl %%eax, 0(%%ecx)\n\t"
		     "movl %%edx, 4(%%ecx)\n\t"
		     "cmpl %%eax, %%eax\n\t"
		     "je 1f\n\t"
		     ".rept 28\n\tnop\n\t.endr\n"
		     "1:\n\t"
		     "rdtsc\n\t"
		     "movl %%eax, 8(%%ecx)\n\t"
		     "movl %%edx, 12(%%ecx)\n\t"
		     : : "c"(out) : "eax", "edx", "memory", "cc");
}

int main(void)
{
	unsigned int p[4];
	u64 last = rdtsc(), t, a, b;
	unsigned int i, same = 0, back = 0, late = 0;

	/* Linux's try_to_generate_entropy() trial, as it is written. */
	for (i = 0; i < 8191; i++) {
		t = rdtsc();
		if (t == last)
			same++;
		last = t;
	}
	printf("tsc: alike in a row: %u of 8191\n", same);
	for (i = 0; i < 1000000; i++) {
		t = rdtsc();
		if (t <= last)
			back++;
		last = t;
	}
	printf("tsc: not above the read before: %u of 1000000\n", back);
	for (i = 0; i < 100000; i++) {
		read_pair(p);
		a = (u64)p[1] << 32 | p[0];
		b = (u64)p[3] << 32 | p[2];
		if (b <= a)
			late++;
	}
	printf("tsc: second of a pair not above the first: %u of 100000\n",
	       late);
	return 0;
}
