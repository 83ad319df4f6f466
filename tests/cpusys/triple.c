/*
 * A triple fault: with an empty IDT, INT3 faults (#GP), that #GP cannot
 * be delivered either (#DF), nor can the #DF.  The harness, run with
 * --expect-shutdown, checks that the CPU shuts down and says why.
 */
#include "lib.h"

void test_main(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) empty = { 0, 0 };

	check(1, "triple: about to triple fault");
	asm volatile("lidt %0\n\tint3" : : "m"(empty));
	check(0, "triple: still running after a triple fault");
}
