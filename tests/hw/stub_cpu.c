/* The stand-in CPU: see stub_cpu.h. */
#include <stdlib.h>
#include <string.h>

#include "stub_cpu.h"

enum cpu_event (*stub_run)(struct cpu *c, u64 budget);

struct cpu *cpu_new(u8 *ram, u32 ram_size, const struct cpu_bus *bus)
{
	struct cpu *c = calloc(1, sizeof(*c));

	(void)ram;
	(void)ram_size;
	c->bus = *bus;
	c->eflags = 0x202;
	return c;
}

void cpu_free(struct cpu *c)
{
	free(c);
}

void cpu_reset_flat32(struct cpu *c, u32 eip)
{
	(void)c;
	(void)eip;
}

void cpu_get_regs(const struct cpu *c, struct cpu_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->eflags = c->eflags;
}

void cpu_set_regs(struct cpu *c, const struct cpu_regs *r)
{
	c->eflags = r->eflags;
}

enum cpu_event cpu_run(struct cpu *c, u64 budget)
{
	if (c->stop) {
		c->stop = false;
		return CPU_STOPPED;
	}
	if (stub_run)
		return stub_run(c, budget);
	c->icount += budget;
	return CPU_BUDGET;
}

/* The stand-in translates nothing: no code to drop. */
void cpu_mem_written(struct cpu *c, u64 pa, u64 len)
{
	(void)c;
	(void)pa;
	(void)len;
}

void cpu_stop(struct cpu *c)
{
	c->stop = true;
}

void cpu_set_intr(struct cpu *c, bool level)
{
	c->intr = level;
}

void cpu_set_nmi(struct cpu *c)
{
	c->nmis++;
}

u64 cpu_icount(const struct cpu *c)
{
	return c->icount;
}

/* The stand-in has no translator: nothing to report or give back. */
void cpu_jit_stats(const struct cpu *c, struct cpu_jit_stats *st)
{
	(void)c;
	memset(st, 0, sizeof(*st));
}

void cpu_jit_trim(struct cpu *c)
{
	(void)c;
}

const char *cpu_error(const struct cpu *c)
{
	(void)c;
	return "#GP while delivering #DF (stub)";
}

u32 stub_in(struct cpu *c, u16 port, int size)
{
	return c->bus.io_in(c->bus.opaque, port, size);
}

void stub_out(struct cpu *c, u16 port, u32 val, int size)
{
	c->bus.io_out(c->bus.opaque, port, val, size);
}
