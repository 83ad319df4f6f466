/*
 * The cpusys harness: a minimal machine around the software CPU for the
 * system test programs in this folder.
 *
 * It loads a 32-bit ELF program (the Multiboot-style test programs built
 * from *.c here) into 32 MiB of RAM, enters it as a Multiboot loader would
 * (cpu_reset_flat32, EAX = 0x2badb002), and runs it.  The program talks
 * through ports: bytes written to 0xe9 are its TAP lines, a vector written
 * to 0xf0 is raised on the INTR pin (a 16-bit read there says 0x4c47 so
 * the program knows it may rely on that), a write to 0xf1 is an NMI, and
 * the value written to 0xf4 ends the run with that status (the number of
 * failed checks).  Anything else that ends
 * the run (a triple fault, HLT with interrupts off, too many instructions)
 * is reported as a failure, unless --expect-shutdown says a triple fault
 * is the point.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "../unit/files.h"

#define RAM_SIZE (32u << 20)
#define MAX_INSNS 50000000ull

struct harness {
	struct cpu *cpu;
	int exit_status;	/* -1 while running */
	int irq_vector;		/* -1 when none */
	u64 clock;
};

static u32 io_in(void *opaque, u16 port, int size)
{
	(void)opaque;
	if (port == 0xf0 && size == 2)
		return 0x4c47;	/* "an interrupt port is here" */
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void io_out(void *opaque, u16 port, u32 val, int size)
{
	struct harness *h = opaque;

	(void)size;
	switch (port) {
	case 0xe9:
		putchar((int)(val & 0xff));
		break;
	case 0xf0:
		h->irq_vector = (int)(val & 0xff);
		cpu_set_intr(h->cpu, true);
		break;
	case 0xf1:
		cpu_set_nmi(h->cpu);
		break;
	case 0xf4:
		h->exit_status = (int)val;
		cpu_stop(h->cpu);
		break;
	}
}

static u32 mmio_read(void *opaque, u32 gpa, int size)
{
	(void)opaque;
	(void)gpa;
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static void mmio_write(void *opaque, u32 gpa, u32 val, int size)
{
	(void)opaque;
	(void)gpa;
	(void)val;
	(void)size;
}

static u8 intr_ack(void *opaque)
{
	struct harness *h = opaque;
	int v = h->irq_vector;

	h->irq_vector = -1;
	cpu_set_intr(h->cpu, false);
	return v < 0 ? 0xff : (u8)v;
}

static u64 clock_ns(void *opaque)
{
	struct harness *h = opaque;

	return h->clock += 10;
}

/* Copy the PT_LOAD segments into RAM; returns the entry point or 0. */
static u32 load_elf(u8 *ram, const u8 *img, size_t len)
{
	const Elf32_Ehdr *eh = (const void *)img;
	int i;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_machine != EM_386)
		return 0;
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf32_Phdr *ph;
		u64 at = eh->e_phoff + (u64)i * eh->e_phentsize;

		if (at + sizeof(*ph) > len)
			return 0;
		ph = (const void *)(img + at);
		if (ph->p_type != PT_LOAD)
			continue;
		if ((u64)ph->p_paddr + ph->p_memsz > RAM_SIZE ||
		    ph->p_filesz > ph->p_memsz ||
		    (u64)ph->p_offset + ph->p_filesz > len)
			return 0;
		memcpy(ram + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
		memset(ram + ph->p_paddr + ph->p_filesz, 0,
		       ph->p_memsz - ph->p_filesz);
	}
	return eh->e_entry;
}

/* Run until the program ends; returns the process status. */
static int run(struct harness *h, const char *path, bool expect_shutdown)
{
	struct cpu_regs r;
	bool ok;

	for (;;) {
		enum cpu_event ev = cpu_run(h->cpu, 1000000);

		fflush(stdout);
		if (ev == CPU_SHUTDOWN) {
			ok = expect_shutdown && strstr(cpu_error(h->cpu),
						       "triple fault");
			printf("%s - %s: shut down: %s\n", ok ? "ok" : "not ok",
			       path, cpu_error(h->cpu));
			return ok ? 0 : 1;
		}
		if (h->exit_status >= 0)
			break;
		cpu_get_regs(h->cpu, &r);
		if (ev == CPU_HALT && (!(r.eflags & 0x200) ||
				       h->irq_vector < 0)) {
			printf("not ok - %s: halted for good at eip %#x\n",
			       path, r.eip);
			return 1;
		}
		if (cpu_icount(h->cpu) > MAX_INSNS) {
			printf("not ok - %s: still running at eip %#x\n",
			       path, r.eip);
			return 1;
		}
	}
	if (expect_shutdown) {
		printf("not ok - %s: exited (%d) instead of shutting down\n",
		       path, h->exit_status);
		return 1;
	}
	printf("%s - %s: exit status %d\n", h->exit_status ? "not ok" : "ok",
	       path, h->exit_status);
	return h->exit_status ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cpu_bus bus = {
		.io_in = io_in, .io_out = io_out, .mmio_read = mmio_read,
		.mmio_write = mmio_write, .intr_ack = intr_ack,
		.clock_ns = clock_ns,
	};
	struct harness h = { .exit_status = -1, .irq_vector = -1 };
	bool expect_shutdown = false;
	struct cpu_regs r;
	const char *path;
	size_t len = 0;
	u8 *ram, *img;
	u32 entry;
	int status = 1;

	if (argc > 1 && !strcmp(argv[1], "--expect-shutdown")) {
		expect_shutdown = true;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: run [--expect-shutdown] prog.elf\n");
		return 2;
	}
	path = argv[1];
	ram = calloc(1, RAM_SIZE);
	img = slurp(path, &len);
	entry = img && ram ? load_elf(ram, img, len) : 0;
	if (entry) {
		bus.opaque = &h;
		h.cpu = cpu_new(ram, RAM_SIZE, &bus);
		cpu_reset_flat32(h.cpu, entry);
		cpu_get_regs(h.cpu, &r);
		r.gpr[0] = 0x2badb002;
		cpu_set_regs(h.cpu, &r);
		status = run(&h, path, expect_shutdown);
		cpu_free(h.cpu);
	} else {
		printf("not ok - %s: cannot load\n", path);
	}
	free(ram);
	free(img);
	return status;
}
