/*
 * The ACPI tables: what PC firmware writes into memory to tell the OS
 * what the board has, because there is no firmware here to write them.
 *
 *	RSDP	"RSD PTR " at 0xe0000: points at the RSDT and the XSDT
 *	RSDT	32-bit pointers to the FADT and the MADT; XSDT the same, 64-bit
 *	FADT	the fixed ACPI hardware: SCI on IRQ 9, the PM1 event and
 *		control blocks and the PM timer (src/hw/acpi_pm.c), the FACS
 *		and the DSDT, and the boot architecture flags
 *	FACS	the firmware control structure the FADT must point at
 *	MADT	the interrupt controllers: the local APIC, the IO-APIC, ISA
 *		IRQ 0 on IO-APIC pin 2 and the SCI level-triggered, LINT1 NMI
 *	DSDT	the namespace, in AML: the PCI host bridge (its resources and
 *		its interrupt routing, _PRT, for PIC and APIC mode), the
 *		processor, and \_S5 for soft-off
 *
 * Every value is little-endian, written by offset from the ACPI
 * specification's tables (6.5, chapter 5), and every table carries a
 * checksum that makes its bytes sum to zero.  The AML is put together by
 * a few helpers below; `iasl -d` (Debian's acpica-tools) disassembles it
 * back to the ASL in the comment of build_dsdt().
 */
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "apic.h"
#include "ioapic.h"
#include "pci.h"

#define OEM_ID		"LGUEST"
#define OEM_TABLE_ID	"LGUESTPC"
#define IOAPIC_ID	1	/* after the CPU's APIC ID 0 */

/* A growing byte buffer: a table, or a piece of AML. */
struct abuf {
	u8 *p;
	size_t len, cap;
};

static void put(struct abuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put8(struct abuf *b, u8 v)
{
	put(b, &v, 1);
}

static void put16(struct abuf *b, u16 v)
{
	u8 t[2];

	put_le16(t, v);
	put(b, t, 2);
}

static void put32(struct abuf *b, u32 v)
{
	u8 t[4];

	put_le32(t, v);
	put(b, t, 4);
}

static void put64(struct abuf *b, u64 v)
{
	put32(b, (u32)v);
	put32(b, (u32)(v >> 32));
}

static void put_zeros(struct abuf *b, size_t n)
{
	while (n--)
		put8(b, 0);
}

/*
 * AML.
 */

/* Opens a PkgLength-prefixed object: returns where its length goes. */
static size_t aml_open(struct abuf *b)
{
	return b->len;
}

/* Inserts the PkgLength of everything since at, which counts itself. */
static void aml_close(struct abuf *b, size_t at)
{
	size_t body = b->len - at, n, total;
	u8 enc[4];

	for (n = 1; n < 4; n++)
		if (body + n < (n == 1 ? 0x40u : 1u << (4 + 8 * (n - 1))))
			break;
	total = body + n;
	if (n == 1) {
		enc[0] = (u8)total;
	} else {
		size_t i;

		enc[0] = (u8)((n - 1) << 6 | (total & 0xf));
		for (i = 1; i < n; i++)
			enc[i] = (u8)(total >> (4 + 8 * (i - 1)));
	}
	put(b, enc, n);		/* room at the end, then move it in place */
	memmove(b->p + at + n, b->p + at, body);
	memcpy(b->p + at, enc, n);
}

/* A NameString: "\\_SB_.PCI0", "PRTA", "_S5"; segments are padded with
 * '_' to four characters. */
static void aml_name(struct abuf *b, const char *s)
{
	const char *p;
	int segs = 1;

	if (*s == '\\') {
		put8(b, '\\');
		s++;
	}
	for (p = s; *p; p++)
		segs += *p == '.';
	if (segs == 2) {
		put8(b, 0x2e);		/* DualNamePrefix */
	} else if (segs > 2) {
		put8(b, 0x2f);		/* MultiNamePrefix */
		put8(b, (u8)segs);
	}
	while (*s) {
		size_t n = strcspn(s, ".");
		char seg[4] = { '_', '_', '_', '_' };

		memcpy(seg, s, n > 4 ? 4 : n);
		put(b, seg, 4);
		s += n + (s[n] == '.');
	}
}

static void aml_int(struct abuf *b, u64 v)
{
	if (v <= 1) {
		put8(b, (u8)v);		/* ZeroOp, OneOp */
	} else if (v <= 0xff) {
		put8(b, 0x0a);
		put8(b, (u8)v);
	} else if (v <= 0xffff) {
		put8(b, 0x0b);
		put16(b, (u16)v);
	} else if (v <= 0xffffffffu) {
		put8(b, 0x0c);
		put32(b, (u32)v);
	} else {
		put8(b, 0x0e);
		put64(b, v);
	}
}

static void aml_string(struct abuf *b, const char *s)
{
	put8(b, 0x0d);
	put(b, s, strlen(s) + 1);
}

/* Name(name, <integer>) */
static void aml_name_int(struct abuf *b, const char *name, u64 v)
{
	put8(b, 0x08);
	aml_name(b, name);
	aml_int(b, v);
}

/* A compressed EISA ID, "PNP0A03" -> 0x030ad041. */
static u32 eisa_id(const char *s)
{
	u16 vendor = (u16)((s[0] - 0x40) << 10 | (s[1] - 0x40) << 5 |
			   (s[2] - 0x40));
	u32 product = (u32)strtoul(s + 3, NULL, 16);

	return (u32)(vendor >> 8) | (u32)(vendor & 0xff) << 8 |
	       (product >> 8) << 16 | (product & 0xff) << 24;
}

/*
 * Resource descriptors for the host bridge's _CRS.
 */

/* A Word Address Space Descriptor: a bus-number or I/O window the bridge
 * produces (min and max fixed). */
static void res_word(struct abuf *b, u8 type, u8 tflags, u16 min, u16 max)
{
	put8(b, 0x88);
	put16(b, 13);
	put8(b, type);		/* 1: I/O, 2: bus numbers */
	put8(b, 0x0c);		/* producer, min and max fixed */
	put8(b, tflags);
	put16(b, 0);		/* granularity */
	put16(b, min);
	put16(b, max);
	put16(b, 0);		/* translation */
	put16(b, (u16)(max - min + 1));
}

/* A DWord Memory descriptor: a memory window the bridge produces. */
static void res_dword_mem(struct abuf *b, u32 min, u32 max)
{
	put8(b, 0x87);
	put16(b, 23);
	put8(b, 0);		/* memory */
	put8(b, 0x0c);
	put8(b, 0x01);		/* read/write, not cacheable */
	put32(b, 0);
	put32(b, min);
	put32(b, max);
	put32(b, 0);
	put32(b, max - min + 1);
}

static void build_crs(struct abuf *b)
{
	struct abuf r = { 0 };
	size_t at;

	res_word(&r, 2, 0, 0x00, 0xff);		/* buses 0-255 */
	/* The configuration ports, which the bridge itself decodes. */
	put(&r, "\x47\x01\xf8\x0c\xf8\x0c\x01\x08", 8);
	res_word(&r, 1, 3, 0x0000, 0x0cf7);	/* I/O below and above */
	res_word(&r, 1, 3, 0x0d00, 0xffff);
	res_dword_mem(&r, 0x000a0000u, 0x000bffffu);	/* VGA hole */
	res_dword_mem(&r, GUEST_MMIO_BASE, GUEST_MMIO_END - 1);
	put(&r, "\x79\x00", 2);			/* end tag */

	put8(b, 0x08);				/* Name(_CRS, Buffer() {...}) */
	aml_name(b, "_CRS");
	put8(b, 0x11);
	at = aml_open(b);
	aml_int(b, r.len);
	put(b, r.p, r.len);
	aml_close(b, at);
	free(r.p);
}

/*D:360
 * PCI interrupt routing, as the DSDT's _PRT tells it.  INTA of slot s is
 * on PIRQ (s - 1) mod 4 (INTB the next, and so on), and a PIRQ is two
 * wires at once, as on a PIIX board: the 8259 line firmware routed it to
 * (11, 10, 9, 5; also in the function's Interrupt Line register, for a
 * guest without ACPI) and IO-APIC pin 16-19 (global system interrupt
 * 16-19), level-triggered, active low as PCI wants.  The OS says which
 * controller it uses by calling \_PIC (0: 8259, 1: IO-APIC), and _PRT
 * answers with the matching table.
 :*/
static void build_prt(struct abuf *b, const char *name, bool apic)
{
	size_t at;
	int slot, pin;

	put8(b, 0x08);
	aml_name(b, name);
	put8(b, 0x12);
	at = aml_open(b);
	put8(b, 31 * 4);
	for (slot = 1; slot < 32; slot++) {
		for (pin = 0; pin < 4; pin++) {
			int pirq = (slot - 1 + pin) % PCI_NR_PIRQ;
			size_t e;

			put8(b, 0x12);
			e = aml_open(b);
			put8(b, 4);
			aml_int(b, (u32)slot << 16 | 0xffff);
			aml_int(b, (u64)pin);
			aml_int(b, 0);	/* no link device: a fixed GSI */
			aml_int(b, apic ? (u64)PCI_IRQ_BASE + pirq :
				(u64)pci_pirq_isa[pirq]);
			aml_close(b, e);
		}
	}
	aml_close(b, at);
}

/* Method(_PRT) { If (\PICM) { Return (PRTA) } Return (PRTP) } */
static void build_prt_method(struct abuf *b)
{
	size_t m, i;

	put8(b, 0x14);
	m = aml_open(b);
	aml_name(b, "_PRT");
	put8(b, 0);		/* no arguments, not serialized */
	put8(b, 0xa0);		/* If */
	i = aml_open(b);
	aml_name(b, "\\PICM");
	put8(b, 0xa4);		/* Return */
	aml_name(b, "PRTA");
	aml_close(b, i);
	put8(b, 0xa4);
	aml_name(b, "PRTP");
	aml_close(b, m);
}

/*
 * The DSDT's ASL, for the reader:
 *
 *	Name (\PICM, Zero)
 *	Method (\_PIC, 1) { Store (Arg0, \PICM) }
 *	Name (\_S5, Package (4) { 5, 5, 0, 0 })
 *	Scope (\_SB) {
 *		Device (PCI0) {
 *			Name (_HID, EisaId ("PNP0A03"))
 *			Name (_UID, Zero)
 *			Name (_BBN, Zero)
 *			Name (_CRS, ResourceTemplate () { ... })
 *			Name (PRTP, Package () { ... })	// 8259 IRQs
 *			Name (PRTA, Package () { ... })	// IO-APIC GSIs
 *			Method (_PRT) { If (\PICM) { Return (PRTA) }
 *					Return (PRTP) }
 *		}
 *		Device (CPU0) {
 *			Name (_HID, "ACPI0007")
 *			Name (_UID, Zero)
 *		}
 *	}
 */
static void build_aml(struct abuf *b)
{
	size_t scope, dev, at;

	aml_name_int(b, "\\PICM", 0);
	put8(b, 0x14);			/* Method (\_PIC, 1) */
	at = aml_open(b);
	aml_name(b, "\\_PIC");
	put8(b, 1);
	put8(b, 0x70);			/* Store (Arg0, \PICM) */
	put8(b, 0x68);
	aml_name(b, "\\PICM");
	aml_close(b, at);

	put8(b, 0x08);			/* Name (\_S5, Package ...) */
	aml_name(b, "\\_S5");
	put8(b, 0x12);
	at = aml_open(b);
	put8(b, 4);
	aml_int(b, ACPI_S5_TYP);
	aml_int(b, ACPI_S5_TYP);
	aml_int(b, 0);
	aml_int(b, 0);
	aml_close(b, at);

	put8(b, 0x10);			/* Scope (\_SB) */
	scope = aml_open(b);
	aml_name(b, "\\_SB");

	put(b, "\x5b\x82", 2);		/* Device (PCI0) */
	dev = aml_open(b);
	aml_name(b, "PCI0");
	aml_name_int(b, "_HID", eisa_id("PNP0A03"));
	aml_name_int(b, "_UID", 0);
	aml_name_int(b, "_BBN", 0);
	build_crs(b);
	build_prt(b, "PRTP", false);
	build_prt(b, "PRTA", true);
	build_prt_method(b);
	aml_close(b, dev);

	put(b, "\x5b\x82", 2);		/* Device (CPU0) */
	dev = aml_open(b);
	aml_name(b, "CPU0");
	put8(b, 0x08);
	aml_name(b, "_HID");
	aml_string(b, "ACPI0007");
	aml_name_int(b, "_UID", 0);
	aml_close(b, dev);

	aml_close(b, scope);
}

/*
 * Tables.
 */
static void header(struct abuf *b, const char *sig, u8 rev)
{
	put(b, sig, 4);
	put32(b, 0);		/* length, filled in by finish() */
	put8(b, rev);
	put8(b, 0);		/* checksum, likewise */
	put(b, OEM_ID, 6);
	put(b, OEM_TABLE_ID, 8);
	put32(b, 1);		/* OEM revision */
	put(b, "LGST", 4);	/* creator */
	put32(b, 1);
}

static u8 checksum(const u8 *p, size_t n)
{
	u8 sum = 0;

	while (n--)
		sum += *p++;
	return (u8)-sum;
}

/* The tables' home in guest RAM, filled from the bottom up. */
struct placer {
	struct guest_mem *mem;
	u32 next;
};

/* Copies b to the next suitably aligned address and returns it. */
static u32 place(struct placer *pl, struct abuf *b, u32 align)
{
	u32 at = (pl->next + align - 1) & ~(align - 1);
	u8 *p;

	if ((u64)at + b->len > ACPI_TABLES_END ||
	    !(p = guest_ptr(pl->mem, at, b->len)))
		die("the ACPI tables do not fit below 1 MiB");
	memcpy(p, b->p, b->len);
	pl->next = at + (u32)b->len;
	free(b->p);
	*b = (struct abuf){ 0 };
	return at;
}

/* Sets a table's length and checksum and places it. */
static u32 finish(struct placer *pl, struct abuf *b)
{
	put_le32(b->p + 4, (u32)b->len);
	b->p[9] = checksum(b->p, b->len);
	return place(pl, b, 16);
}

static u32 build_dsdt(struct placer *pl)
{
	struct abuf b = { 0 };

	header(&b, "DSDT", 2);
	build_aml(&b);
	return finish(pl, &b);
}

static u32 build_facs(struct placer *pl)
{
	struct abuf b = { 0 };

	put(&b, "FACS", 4);
	put32(&b, 64);
	put32(&b, 0);		/* hardware signature */
	put32(&b, 0);		/* waking vector: we do not sleep */
	put32(&b, 0);		/* global lock */
	put32(&b, 0);		/* flags */
	put64(&b, 0);		/* 64-bit waking vector */
	put8(&b, 2);		/* version */
	put_zeros(&b, 64 - b.len);
	return place(pl, &b, 64);
}

/* A Generic Address Structure for I/O ports. */
static void gas_io(struct abuf *b, u16 port, u8 bytes)
{
	put8(b, port ? 1 : 0);	/* system I/O */
	put8(b, (u8)(bytes * 8));
	put8(b, 0);
	put8(b, 0);		/* access size: undefined (legacy) */
	put64(b, port);
}

/*D:350
 * The FADT is where the OS finds ACPI's fixed hardware.  Ours has no SMI
 * command port, which tells the OS that ACPI is always on (SCI_EN reads
 * 1); the PM1a event block (status and enable), the PM1a control block
 * (where SLP_TYP 5 with SLP_EN is soft-off: lguest ends with status 0)
 * and a 32-bit PM timer at 3.579545 MHz, on ports 0x600-0x60b; the SCI on
 * IRQ 9; C1 by HLT and no deeper C-states; no VGA, no MSI (our PCI
 * functions have no MSI capability), no 8042 keyboard for the OS to probe
 * (ours is there only for its reset line).
 :*/
static u32 build_fadt(struct placer *pl, u32 facs, u32 dsdt)
{
	struct abuf b = { 0 };

	header(&b, "FACP", 3);
	put32(&b, facs);		/* 36 FIRMWARE_CTRL */
	put32(&b, dsdt);		/* 40 DSDT */
	put8(&b, 0);			/* 44 reserved */
	put8(&b, 0);			/* 45 PM profile: unspecified */
	put16(&b, ACPI_SCI_IRQ);	/* 46 SCI_INT */
	put32(&b, 0);			/* 48 SMI_CMD: none, always ACPI */
	put32(&b, 0);			/* 52 ACPI_ENABLE .. PSTATE_CNT */
	put32(&b, ACPI_PM1_EVT);	/* 56 PM1a_EVT_BLK */
	put32(&b, 0);			/* 60 PM1b_EVT_BLK */
	put32(&b, ACPI_PM1_CNT);	/* 64 PM1a_CNT_BLK */
	put32(&b, 0);			/* 68 PM1b_CNT_BLK */
	put32(&b, 0);			/* 72 PM2_CNT_BLK */
	put32(&b, ACPI_PM_TMR);		/* 76 PM_TMR_BLK */
	put32(&b, 0);			/* 80 GPE0_BLK */
	put32(&b, 0);			/* 84 GPE1_BLK */
	put8(&b, 4);			/* 88 PM1_EVT_LEN */
	put8(&b, 2);			/* 89 PM1_CNT_LEN */
	put8(&b, 0);			/* 90 PM2_CNT_LEN */
	put8(&b, 4);			/* 91 PM_TMR_LEN */
	put32(&b, 0);			/* 92 GPE lengths, GPE1_BASE, CST */
	put16(&b, 101);			/* 96 P_LVL2_LAT: no C2 */
	put16(&b, 1001);		/* 98 P_LVL3_LAT: no C3 */
	put32(&b, 0);			/* 100 FLUSH_SIZE, FLUSH_STRIDE */
	put16(&b, 0);			/* 104 DUTY_OFFSET, DUTY_WIDTH */
	put8(&b, 0);			/* 106 DAY_ALRM */
	put8(&b, 0);			/* 107 MON_ALRM */
	put8(&b, 0x32);			/* 108 CENTURY: the CMOS byte */
	/* 109 IAPC_BOOT_ARCH: legacy devices, no VGA, no MSI. */
	put16(&b, 1u << 0 | 1u << 2 | 1u << 3);
	put8(&b, 0);			/* 111 reserved */
	/* 112 flags: WBINVD, C1 supported, power and sleep buttons are
	 * not fixed features (we have neither), 32-bit PM timer. */
	put32(&b, 1u << 0 | 1u << 2 | 1u << 4 | 1u << 5 | 1u << 8);
	put_zeros(&b, 12);		/* 116 RESET_REG: none */
	put8(&b, 0);			/* 128 RESET_VALUE */
	put_zeros(&b, 3);		/* 129 reserved */
	put64(&b, facs);		/* 132 X_FIRMWARE_CTRL */
	put64(&b, dsdt);		/* 140 X_DSDT */
	gas_io(&b, ACPI_PM1_EVT, 4);	/* 148 X_PM1a_EVT_BLK */
	gas_io(&b, 0, 0);		/* 160 X_PM1b_EVT_BLK */
	gas_io(&b, ACPI_PM1_CNT, 2);	/* 172 X_PM1a_CNT_BLK */
	gas_io(&b, 0, 0);		/* 184 X_PM1b_CNT_BLK */
	gas_io(&b, 0, 0);		/* 196 X_PM2_CNT_BLK */
	gas_io(&b, ACPI_PM_TMR, 4);	/* 208 X_PM_TMR_BLK */
	gas_io(&b, 0, 0);		/* 220 X_GPE0_BLK */
	gas_io(&b, 0, 0);		/* 232 X_GPE1_BLK */
	return finish(pl, &b);
}

/* Interrupt source override: ISA IRQ src is GSI gsi, with flags
 * (polarity bits 0-1, trigger bits 2-3; 0 is "as the bus says"). */
static void madt_iso(struct abuf *b, u8 src, u32 gsi, u16 flags)
{
	put8(b, 2);
	put8(b, 10);
	put8(b, 0);		/* ISA */
	put8(b, src);
	put32(b, gsi);
	put16(b, flags);
}

/*D:370
 * The MADT tells the OS what the interrupt hardware is: one CPU with
 * local APIC ID 0 at 0xfee00000, an IO-APIC (ID 1) at 0xfec00000 whose
 * pins start at global system interrupt 0, the 8259 pair still there
 * (PCAT_COMPAT).  ISA IRQs are identity-mapped to IO-APIC pins except
 * IRQ 0, the PIT, which is on pin 2 as on every PC since the first
 * IO-APIC (pin 0 was the 8259's output), and IRQ 9, the SCI, which is
 * level-triggered and active high.  LINT1 of every CPU is NMI.
 :*/
static u32 build_madt(struct placer *pl)
{
	struct abuf b = { 0 };

	header(&b, "APIC", 3);
	put32(&b, APIC_DEFAULT_BASE);
	put32(&b, 1);		/* PCAT_COMPAT: there are 8259s */
	/* Processor local APIC: UID 0, APIC ID 0, enabled. */
	put(&b, "\x00\x08\x00\x00\x01\x00\x00\x00", 8);
	/* IO-APIC. */
	put8(&b, 1);
	put8(&b, 12);
	put8(&b, IOAPIC_ID);
	put8(&b, 0);
	put32(&b, IOAPIC_BASE);
	put32(&b, 0);		/* GSI base */
	madt_iso(&b, 0, 2, 0);
	madt_iso(&b, ACPI_SCI_IRQ, ACPI_SCI_IRQ, 0x000d);
	/* Local APIC NMI: all processors (0xff), LINT1. */
	put(&b, "\x04\x06\xff\x00\x00\x01", 6);
	return finish(pl, &b);
}

static u32 build_rsdt(struct placer *pl, const char *sig, const u32 *t,
		      int n, int entry)
{
	struct abuf b = { 0 };
	int i;

	header(&b, sig, 1);
	for (i = 0; i < n; i++) {
		if (entry == 8)
			put64(&b, t[i]);
		else
			put32(&b, t[i]);
	}
	return finish(pl, &b);
}

static void build_rsdp(struct guest_mem *mem, u32 rsdt, u32 xsdt)
{
	u8 *p = guest_ptr(mem, ACPI_RSDP_ADDR, 36);

	if (!p)
		die("no RAM for the ACPI RSDP");
	memset(p, 0, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, OEM_ID, 6);
	p[15] = 2;			/* ACPI 2.0+: XSDT too */
	put_le32(p + 16, rsdt);
	put_le32(p + 20, 36);
	put_le64(p + 24, xsdt);
	p[8] = checksum(p, 20);
	p[32] = checksum(p, 36);
}

void acpi_build_tables(struct machine *m)
{
	struct placer pl = { machine_mem(m), ACPI_RSDP_ADDR + 48 };
	u32 facs, dsdt, t[2], rsdt, xsdt;

	facs = build_facs(&pl);
	dsdt = build_dsdt(&pl);
	t[0] = build_fadt(&pl, facs, dsdt);
	t[1] = build_madt(&pl);
	rsdt = build_rsdt(&pl, "RSDT", t, 2, 4);
	xsdt = build_rsdt(&pl, "XSDT", t, 2, 8);
	build_rsdp(machine_mem(m), rsdt, xsdt);
	/* The RSDP, then the tables (M:125). */
	mem_written(machine_mem(m), ACPI_RSDP_ADDR, pl.next - ACPI_RSDP_ADDR);
	verbose("acpi: tables at %#x-%#x, RSDP at %#x", ACPI_TABLES_ADDR,
		pl.next, ACPI_RSDP_ADDR);
}
