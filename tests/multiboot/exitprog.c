/*
 * exitprog: a Multiboot program that does what its command line says, to
 * test the exit port and the boot-time mark on lguest and on QEMU alike.
 *
 *	exitprog read			print what a 4-byte read of 0xf4 gives
 *	exitprog mark			write the boot-time mark (123 to 0x440)
 *	exitprog out SIZE VALUE [PORT]	write VALUE, SIZE (1, 2, 4) bytes wide,
 *					to PORT (default 0xf4)
 *	exitprog in SIZE PORT		print what a read of PORT gives
 *	exitprog peek SIZE ADDR		print what a read of physical ADDR gives
 *	exitprog poke SIZE VALUE ADDR	write VALUE to physical ADDR
 *	exitprog ins SIZE PORT ADDR N	REP INS: N items from PORT to ADDR
 *	exitprog outs SIZE PORT ADDR N	REP OUTS: N items from ADDR to PORT
 *
 * (the last five drive QEMU's pc-testdev and fw_cfg, which lguest has
 * with --exit-port; paging is off, so an address is physical).
 *
 * Words run in order.  If the program is still running after the last one
 * it says so on COM1 and pulls the i8042 reset line.
 */
#include "serial.h"

#define MB_BOOT_MAGIC	0x2badb002
#define MBI_HAS_CMDLINE	(1u << 2)

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

static void puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static void put_hex(u32 v)
{
	int i;

	puts("0x");
	for (i = 28; i >= 0; i -= 4)
		serial_putc("0123456789abcdef"[(v >> i) & 0xf]);
}

/* The next word of *p, NUL-terminated in a copy; empty at the end. */
static const char *next_word(const char **p)
{
	static char word[64];
	unsigned n = 0;

	while (**p == ' ')
		(*p)++;
	while (**p && **p != ' ') {
		if (n < sizeof(word) - 1)
			word[n++] = **p;
		(*p)++;
	}
	word[n] = 0;
	return word;
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Decimal, or hex with 0x. */
static u32 number(const char *s)
{
	u32 v = 0, base = 10;

	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
	}
	for (; *s; s++) {
		u32 d = *s >= '0' && *s <= '9' ? (u32)(*s - '0') :
			*s >= 'a' && *s <= 'f' ? (u32)(*s - 'a' + 10) : 99;

		if (d >= base)
			break;
		v = v * base + d;
	}
	return v;
}

static void out(u16 port, u32 size, u32 v)
{
	puts("exitprog: out ");
	put_hex(v);
	puts("\n");
	if (size == 1)
		asm volatile("outb %b0, %w1" : : "a"(v), "Nd"(port));
	else if (size == 2)
		asm volatile("outw %w0, %w1" : : "a"(v), "Nd"(port));
	else
		asm volatile("outl %0, %w1" : : "a"(v), "Nd"(port));
}

static u32 in(u16 port, u32 size)
{
	u32 v;

	if (size == 1) {
		asm volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port));
		return v & 0xff;
	}
	if (size == 2) {
		asm volatile("inw %w1, %w0" : "=a"(v) : "Nd"(port));
		return v & 0xffff;
	}
	asm volatile("inl %w1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static u32 peek(u32 addr, u32 size)
{
	if (size == 1)
		return *(volatile u8 *)addr;
	if (size == 2)
		return *(volatile u16 *)addr;
	return *(volatile u32 *)addr;
}

static void poke(u32 addr, u32 size, u32 v)
{
	if (size == 1)
		*(volatile u8 *)addr = (u8)v;
	else if (size == 2)
		*(volatile u16 *)addr = (u16)v;
	else
		*(volatile u32 *)addr = v;
}

/* REP INS or REP OUTS of n items, size bytes each. */
static void string_io(int out, u16 port, u32 size, u32 addr, u32 n)
{
	if (out && size == 1)
		asm volatile("cld; rep outsb" : "+S"(addr), "+c"(n)
			     : "d"(port) : "memory");
	else if (out && size == 2)
		asm volatile("cld; rep outsw" : "+S"(addr), "+c"(n)
			     : "d"(port) : "memory");
	else if (out)
		asm volatile("cld; rep outsl" : "+S"(addr), "+c"(n)
			     : "d"(port) : "memory");
	else if (size == 1)
		asm volatile("cld; rep insb" : "+D"(addr), "+c"(n)
			     : "d"(port) : "memory");
	else if (size == 2)
		asm volatile("cld; rep insw" : "+D"(addr), "+c"(n)
			     : "d"(port) : "memory");
	else
		asm volatile("cld; rep insl" : "+D"(addr), "+c"(n)
			     : "d"(port) : "memory");
}

static void say(const char *what, u32 where, u32 v)
{
	puts("exitprog: ");
	puts(what);
	puts(" ");
	put_hex(where);
	puts(" = ");
	put_hex(v);
	puts("\n");
}

static void run(const char *p)
{
	next_word(&p);		/* the kernel's own path */
	for (;;) {
		const char *w = next_word(&p);

		if (!*w) {
			return;
		} else if (streq(w, "read")) {
			u32 v;

			asm volatile("inl %w1, %0" : "=a"(v) : "Nd"((u16)0xf4));
			puts("exitprog: read 0xf4 = ");
			put_hex(v);
			puts("\n");
		} else if (streq(w, "in")) {
			u32 size = number(next_word(&p));
			u16 port = (u16)number(next_word(&p));

			say("in", port, in(port, size));
		} else if (streq(w, "peek")) {
			u32 size = number(next_word(&p));
			u32 addr = number(next_word(&p));

			say("peek", addr, peek(addr, size));
		} else if (streq(w, "poke")) {
			u32 size = number(next_word(&p));
			u32 v = number(next_word(&p));

			poke(number(next_word(&p)), size, v);
		} else if (streq(w, "ins") || streq(w, "outs")) {
			int is_out = w[0] == 'o';
			u32 size = number(next_word(&p));
			u16 port = (u16)number(next_word(&p));
			u32 addr = number(next_word(&p));

			string_io(is_out, port, size, addr,
				  number(next_word(&p)));
		} else if (streq(w, "mark")) {
			serial_outb(0x440, 123);
		} else if (streq(w, "out")) {
			u32 size = number(next_word(&p));
			u32 v = number(next_word(&p));
			const char *port = next_word(&p);

			out(*port ? (u16)number(port) : 0xf4, size, v);
		} else {
			puts("exitprog: unknown word ");
			puts(w);
			puts("\n");
		}
	}
}

void exitprog_main(u32 magic, const u32 *mbi)
{
	if (magic != MB_BOOT_MAGIC)
		puts("exitprog: bad boot magic\n");
	else if (!(mbi[0] & MBI_HAS_CMDLINE))
		puts("exitprog: no command line\n");
	else
		run((const char *)mbi[4]);
	puts("exitprog: still running\n");
	serial_outb(0x64, 0xfe);
}
