/*
 * The double fault, as Linux i386 takes it: IDT vector 8 is a task gate,
 * so #DF switches to a TSS of its own with a known-good stack.  We make
 * #DF happen twice (a #GP whose gate is not present; a #PF whose gate is
 * not present), check the task switch both ways, and come back to the
 * interrupted task by IRET with NT set.
 */
#include "faults.h"

static volatile u32 df_count, df_err, df_link, df_tr, df_eflags, df_eip;
static volatile u32 recover_at;

/* Runs as its own task, entered through the task gate. */
void df_task(u32 err)
{
	df_count++;
	df_err = err;
	df_link = tss_df[0] & 0xffff;
	df_tr = str();
	df_eflags = get_eflags();
	df_eip = tss_main[0x20 / 4];
	/* Repair what made the fault double, and leave the faulting
	 * instruction behind. */
	idt[13] |= 1ull << 47;
	idt[14] |= 1ull << 47;
	tss_main[0x20 / 4] = recover_at;
}

static u32 busy(int gdt_index)
{
	return (gdt[gdt_index] >> 41) & 1;
}

static void through_gp(void)
{
	u32 fault_eip;

	idt[13] &= ~(1ull << 47);
	asm volatile("movl $2f, %0\n\t"
		     "movl $1f, recover_at\n"
		     "2:\tmovw %w1, %%ds\n"
		     "1:\tpushl %2\n\tpopl %%ds"
		     : "=&r"(fault_eip) : "r"(0x1f8), "i"(KDATA) : "memory");
	check_eq(df_count, 1, "#GP with a not-present #GP gate: #DF");
	check_eq(df_err, 0, "... #DF pushes error code 0");
	check_eq(df_tr, TSS_DF, "... the handler runs in the #DF task");
	check_eq(df_link, TSS_MAIN, "... whose back link is the old task");
	check(df_eflags & 0x4000, "... with NT set");
	check_eq(df_eip, fault_eip,
		 "... the old TSS holds the faulting EIP");
	check_eq(str(), TSS_MAIN, "IRET with NT returns to the old task");
	check(busy(5) && !busy(6),
	      "... the old TSS is busy again, the #DF TSS is free");
	check(!(get_eflags() & 0x4000), "... and NT is clear");
}

static void through_pf(void)
{
	u32 v;

	paging_build();
	paging_on();
	/* A task switch loads CR3 but never saves it: both TSSs need it. */
	tss_df[0x1c / 4] = read_cr3();
	tss_main[0x1c / 4] = read_cr3();
	pt[1][512] = 0;
	invlpg(0x600000);
	idt[14] &= ~(1ull << 47);
	asm volatile("movl $1f, recover_at\n\t"
		     "movl 0x600000, %0\n"
		     "1:" : "=r"(v) : : "memory");
	check_eq(df_count, 2, "#PF with a not-present #PF gate: #DF again");
	check_eq(str(), TSS_MAIN, "... and back again");
	check_eq(read_cr2(), 0x600000, "... CR2 still holds the address");
}

void test_main(void)
{
	tss_df[0x1c / 4] = read_cr3();
	idt[8] = ((u64)(0x85 << 8) << 32) | ((u32)TSS_DF << 16);
	through_gp();
	through_pf();
}
