/*
 * Memory as the CPU sees it: segments, then pages, then RAM or MMIO.
 *
 * Every guest memory access of an instruction comes through here, so this
 * is the interpreter's hot path.  A segmented access checks the segment
 * register's cached descriptor (presence, type, limit), adds the base and
 * becomes a linear access; a linear access looks in the software TLB, and
 * on a hit for RAM touches the host memory directly.  A miss walks the
 * guest's page tables, checks the rights the SDM gives (vol. 3, 4.6: U/S
 * and R/W are combined across the directory and table entries; CR0.WP
 * decides whether the supervisor may write read-only pages), writes back
 * the accessed and dirty bits, and fills the TLB.  Physical addresses
 * outside RAM go to the machine's MMIO callbacks.
 *
 * Two formats of page tables: the two-level 32-bit one (4 KiB pages and,
 * with CR4.PSE, 4 MiB pages), and with CR4.PAE the three-level one of
 * 64-bit entries (vol. 3, 4.4): four PDPTEs, which the CPU reads into
 * registers when CR3 is loaded (not at each walk, so changing them in
 * memory does nothing until the next load), then directory and table
 * entries, 2 MiB pages by the PS bit.  MAXPHYADDR is 36: address bits
 * above 35 are reserved (a walk meeting one raises #PF with RSVD), and
 * bit 63 is NX when EFER.NXE is set (reserved when it is not).  Our RAM
 * is below 4 GiB, so a page between 4 and 64 GiB maps nothing: reads
 * give all ones, writes are dropped.  An NX page refuses instruction
 * fetches (#PF with I/D set): its TLB entries are marked noexec, so a
 * fetch never hits one that a data access filled.
 *
 * The TLB has separate halves for supervisor and user accesses, so a hit
 * needs no rights check; a write hits only on entries marked writable,
 * which also means their dirty bit is already set and that the page holds
 * no translated code (see mmu_watch_code()).  With paging off the
 * TLB still caches the identity mapping, so RAM accesses take the same
 * short path either way.
 */
#include <string.h>

#include "cpu_internal.h"

/* Page-table entry bits. */
#define PG_P   0x001u
#define PG_RW  0x002u
#define PG_US  0x004u
#define PG_A   0x020u
#define PG_D   0x040u
#define PG_PS  0x080u
#define PG_G   0x100u

/* PAE entries (64 bits). */
#define PAE_ADDR       0x0000000ffffff000ull	/* bits 35..12 */
#define PAE_NX         (1ull << 63)
#define PAE_RSVD_HI    0x7ffffff000000000ull	/* bits 62..36 */
#define PAE_LARGE_RSVD 0x00000000001fe000ull	/* 2 MiB PDE: bits 20..13 */
/* Long mode's entries: bits 51..36 reserved (62..52 are ignored). */
#define LM_RSVD        0x000ffff000000000ull
#define LM_HUGE_RSVD   0x000000003fffe000ull	/* 1 GiB PDPTE: bits 29..13 */
/* A PDPTE has no rights bits: 2..1 and 8..5 are reserved, and NX too. */
#define PAE_PDPTE_RSVD (PAE_RSVD_HI | PAE_NX | 0x1e6ull)

/* tlb_entry.global bits. */
#define TLB_GLOBAL 1
#define TLB_LARGE  2	/* filled from a 4 MiB (or PAE 2 MiB) page */
#define TLB_HUGE   4	/* filled from a 1 GiB page (long mode) */

#define PAGE_MASK 0xfffff000u

/* lin + n, wrapping at 4 GiB outside 64-bit code. */
static inline u64 lin_next(const struct cpu *c, u64 lin, u64 n)
{
	return cpu_64bit(c) ? lin + n : (u32)(lin + n);
}

/* --- Physical memory --- */

static u64 size_mask(int size)
{
	return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static bool in_ram(const struct cpu *c, u32 pa, int size)
{
	return pa < c->ram_size && (u32)size <= c->ram_size - pa;
}

/* Fixed-size accesses, so that no call to memcpy is left (the host is
 * little-endian, like us). */
#define host_load host_ld
#define host_store host_st

/* The bus takes accesses of up to 4 bytes: an 8-byte one is two. */
static u64 bus_read(struct cpu *c, u32 pa, int size)
{
	if (size == 8)
		return bus_read(c, pa, 4) | bus_read(c, pa + 4, 4) << 32;
	if (!c->bus.mmio_read)
		return size_mask(size);
	return c->bus.mmio_read(c->bus.opaque, pa, size) & size_mask(size);
}

static void bus_write(struct cpu *c, u32 pa, u64 val, int size)
{
	if (size == 8) {
		bus_write(c, pa, val, 4);
		bus_write(c, pa + 4, val >> 32, 4);
		return;
	}
	if (c->bus.mmio_write)
		c->bus.mmio_write(c->bus.opaque, pa, (u32)(val & size_mask(size)),
				  size);
}

/*C:180
 * A physical address that is not RAM goes to the machine's bus: that is
 * where a virtio device's registers are (M:130).
 :*/
u64 phys_read(struct cpu *c, u32 pa, int size)
{
	u64 v = 0;
	int i;

	if (likely(in_ram(c, pa, size)))
		return host_load(c->ram + pa, size);
	if (pa < c->ram_size) {
		/* Straddles the end of RAM: byte by byte. */
		for (i = 0; i < size; i++)
			v |= phys_read(c, pa + i, 1) << (8 * i);
		return v;
	}
	return bus_read(c, pa, size);
}

void phys_write(struct cpu *c, u32 pa, u64 val, int size)
{
	int i;

	if (likely(in_ram(c, pa, size))) {
		if (unlikely(page_has_code(c, pa) ||
			     page_has_code(c, pa + (u32)size - 1)))
			jit_code_written(c, pa, (u32)size);
		host_store(c->ram + pa, val, size);
		return;
	}
	if (pa < c->ram_size) {
		for (i = 0; i < size; i++)
			phys_write(c, pa + i, val >> (8 * i), 1);
		return;
	}
	bus_write(c, pa, val, size);
}

/* Physical accesses at 36-bit addresses (PAE): nothing above 4 GiB. */
static u64 phys_read_pa(struct cpu *c, u64 pa, int size)
{
	if (pa >> 32)
		return size_mask(size);
	return phys_read(c, (u32)pa, size);
}

static void phys_write_pa(struct cpu *c, u64 pa, u64 val, int size)
{
	if (!(pa >> 32))
		phys_write(c, (u32)pa, val, size);
}

static u64 phys_read64(struct cpu *c, u64 pa)
{
	return phys_read_pa(c, pa, 4) | (u64)phys_read_pa(c, pa + 4, 4) << 32;
}

/* --- The TLB and the page walk --- */

static inline struct tlb_entry *tlb_slot(struct cpu *c, u64 lin, bool user)
{
	return &c->tlb[user].e[(lin >> 12) & (TLB_SIZE - 1)];
}

/* The other part of entry e's slot (cpu_internal.h's struct tlb). */
static inline struct tlb_info *tlb_info(struct cpu *c,
					const struct tlb_entry *e)
{
	struct tlb *t = &c->tlb[(uintptr_t)e >= (uintptr_t)c->tlb[1].e];

	return &t->info[e - t->e];
}

void tlb_l0_drop(struct cpu *c)
{
	int t, k;

	for (t = 0; t < 2; t++) {
		for (k = 0; k < TLB_L0_SLOTS; k++) {
			c->tlb[t].l0[k].rpage = TLB_L0_NONE;
			c->tlb[t].l0[k].wpage = TLB_L0_NONE;
		}
	}
}

/* Empty an entry: both its tags. */
static inline void tlb_kill(struct cpu *c, struct tlb_entry *e)
{
	e->vpage = 0;
	tlb_info(c, e)->wpage = 0;
}

/* Put a slot that tlb_fill() filled on the list of its kind, unless it
 * is there already. */
static void tlb_list(struct cpu *c, struct tlb_entry *e)
{
	int t = (uintptr_t)e >= (uintptr_t)c->tlb[1].e;
	struct tlb_info *i = tlb_info(c, e);
	int k = !!(i->global & TLB_GLOBAL);
	struct tlb_used *u = &c->tlb_used[t];

	if (i->listed & (1u << k))
		return;
	i->listed |= (u8)(1u << k);
	u->slot[k][u->n[k]++] = (u32)(e - c->tlb[t].e);
}

/*
 * Every slot on the lists, in turn, for a search that would otherwise look
 * through the whole TLB: for (cur = 0; (e = tlb_listed(c, &cur)); ).  A
 * slot on both lists comes twice, and one emptied since it was listed
 * comes too.
 */
static struct tlb_entry *tlb_listed(struct cpu *c, u32 *cur)
{
	u32 l, i;

	for (;;) {
		l = *cur / TLB_SIZE;
		i = *cur % TLB_SIZE;
		if (l >= 4)
			return NULL;
		if (i < c->tlb_used[l / 2].n[l % 2]) {
			(*cur)++;
			return &c->tlb[l / 2]
					.e[c->tlb_used[l / 2].slot[l % 2][i]];
		}
		*cur = (l + 1) * TLB_SIZE;
	}
}

/* Empty the slots on list k (of both TLBs): from the non-global list,
 * only what is not global now (a slot filled again with a global page is
 * on the other list too), and the list is empty after. */
static void tlb_drop_list(struct cpu *c, int k)
{
	struct tlb_entry *e;
	struct tlb_info *info;
	struct tlb_used *u;
	u32 i;
	int t;

	for (t = 0; t < 2; t++) {
		u = &c->tlb_used[t];
		for (i = 0; i < u->n[k]; i++) {
			e = &c->tlb[t].e[u->slot[k][i]];
			info = &c->tlb[t].info[u->slot[k][i]];
			info->listed &= (u8)~(1u << k);
			if (k == 1 || !(info->global & TLB_GLOBAL))
				tlb_kill(c, e);
		}
		u->n[k] = 0;
	}
}

static inline bool tlb_hit(struct cpu *c, const struct tlb_entry *e,
			   u64 lin, int acc)
{
	if (acc == ACC_WRITE)
		return tlb_info(c, e)->wpage == (lin >> 12) + 1;
	return e->vpage == (lin >> 12) + 1 &&
	       (acc != ACC_EXEC || !tlb_info(c, e)->noexec);
}

void mmu_flush(struct cpu *c, bool keep_global)
{
	tlb_l0_drop(c);
	tlb_drop_list(c, 0);
	if (keep_global)
		return;
	tlb_drop_list(c, 1);
	memset(c->tlb_large, 0, sizeof(c->tlb_large));
	memset(c->tlb_huge, 0, sizeof(c->tlb_huge));
	c->tlb_huge_many = false;
}

/*
 * 1 GiB pages: the few 1 GiB regions the TLB holds pieces of are listed
 * (a kernel maps its direct map with a handful of them), so that INVLPG
 * elsewhere need not look through the whole TLB for them.
 */
static void huge_note(struct cpu *c, u64 region)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(c->tlb_huge); i++) {
		if (c->tlb_huge[i] == region + 1)
			return;
		if (!c->tlb_huge[i]) {
			c->tlb_huge[i] = region + 1;
			return;
		}
	}
	c->tlb_huge_many = true;
}

/* INVLPG in a 1 GiB page: every piece of it goes. */
static void invlpg_huge(struct cpu *c, u64 lin)
{
	struct tlb_entry *e;
	u64 region = lin >> 30;
	bool listed = c->tlb_huge_many;
	unsigned i;
	u32 cur;

	for (i = 0; i < ARRAY_SIZE(c->tlb_huge); i++) {
		if (c->tlb_huge[i] == region + 1) {
			listed = true;
			if (!c->tlb_huge_many)
				c->tlb_huge[i] = 0;
		}
	}
	if (!listed)
		return;
	for (cur = 0; (e = tlb_listed(c, &cur)); ) {
		if (e->vpage && (tlb_info(c, e)->global & TLB_HUGE) &&
		    (e->vpage - 1) >> 18 == region)
			tlb_kill(c, e);
	}
}

/*
 * INVLPG drops the translation of one page.  When that page came from a
 * 4 MiB page, the guest means the whole large page, of which we may have
 * cached other 4 KiB pieces anywhere in the TLB, so those go too.
 */
/*
 * Entries from a large page may sit in any slot, so INVLPG in a region
 * that had one looks at every slot filled (tlb_listed()); elsewhere the
 * address's own slot in each TLB is all there is to drop.  (Linux maps
 * its own memory with large pages and INVLPGs user and vmalloc pages,
 * mostly elsewhere.)  The regions are 4 MiB (two 2 MiB pages of PAE and
 * long mode), and their bits are shared modulo 1024, so a 64-bit address
 * space fits: a bit set by another region costs a needless scan, and the
 * scan keeps the bit while a large entry of any region sharing it is
 * left.
 */
static u32 large_bit(u64 region)
{
	return (u32)(region & 1023);
}

void mmu_invlpg(struct cpu *c, u64 lin)
{
	struct tlb_entry *e;
	u64 big = lin >> 22, region;
	u32 slot = (lin >> 12) & (TLB_SIZE - 1), bit = large_bit(big);
	bool keep = false, large;
	u32 cur;
	int i;

	tlb_l0_drop(c);
	invlpg_huge(c, lin);
	if (!(c->tlb_large[bit / 32] & (1u << (bit % 32)))) {
		for (i = 0; i < 2; i++)
			if (c->tlb[i].e[slot].vpage == (lin >> 12) + 1)
				tlb_kill(c, &c->tlb[i].e[slot]);
		return;
	}
	for (cur = 0; (e = tlb_listed(c, &cur)); ) {
		if (!e->vpage)
			continue;
		region = (e->vpage - 1) >> 10;
		large = tlb_info(c, e)->global & TLB_LARGE;
		if (e->vpage == (lin >> 12) + 1 || (large && region == big))
			tlb_kill(c, e);
		else if (large && large_bit(region) == bit)
			keep = true;
	}
	if (!keep)
		c->tlb_large[bit / 32] &= ~(1u << (bit % 32));
}

static void tlb_fill(struct cpu *c, struct tlb_entry *e, u64 lin, u64 pa,
		     bool writable, u8 global, bool noexec)
{
	struct tlb_info *i = tlb_info(c, e);
	bool ram;

	i->ppage = (u32)pa & PAGE_MASK;
	i->pa_high = (u8)(pa >> 32);
	ram = !i->pa_high && in_ram(c, i->ppage, 4096);
	/* A device's page is walked again on every access, which then
	 * goes to the device anyway; so a hit always means RAM, and the
	 * translator's inline accesses need not ask. */
	e->addend = ram ? (uintptr_t)(c->ram + i->ppage) -
			  (uintptr_t)(lin & ~(u64)0xfff) : 0;
	e->vpage = ram ? (lin >> 12) + 1 : 0;
	i->wpage = writable && !(ram && page_has_code(c, i->ppage)) ?
		   e->vpage : 0;
	i->global = global;
	i->noexec = noexec;
	if (global & TLB_LARGE)
		c->tlb_large[large_bit(lin >> 22) / 32] |=
			1u << (large_bit(lin >> 22) % 32);
	if (global & TLB_HUGE)
		huge_note(c, lin >> 30);
	if (e->vpage)
		tlb_list(c, e);
}

/*
 * Pages that hold translated code are watched for writes through the
 * TLB: an entry that maps one is never writable (tlb_fill() above), so
 * the inline stores of the interpreter and of translated code, which go
 * only through writable entries, take the slow path to phys_write(),
 * which finds the page's bit and has the translator drop its code first.
 * When a page is first marked, entries already filled for it, through
 * whatever linear address (pieces of large pages included: each entry is
 * one 4 KiB page), lose the right to write.  The bit goes when the code
 * does (jit_code_written()); the next write to the page walks the tables
 * again and finds it writable.
 */
void mmu_watch_code(struct cpu *c, u32 pa)
{
	struct tlb_entry *e;
	struct tlb_info *i;
	u32 cur;

	if (!c->code_pages || page_has_code(c, pa))
		return;
	c->code_pages[pa >> 17] |= 1u << ((pa >> 12) & 31);
	tlb_l0_drop(c);
	for (cur = 0; (e = tlb_listed(c, &cur)); ) {
		i = tlb_info(c, e);
		if (e->vpage && !i->pa_high && i->ppage == (pa & PAGE_MASK))
			i->wpage = 0;
	}
}

static noreturn void page_fault(struct cpu *c, u64 lin, u32 err)
{
	c->cr2 = lin;
	cpu_raise(c, EXC_PF, err);
}

/* May an access of this kind go through entries whose combined U/S and
 * R/W bits are rights? */
static bool page_allows(const struct cpu *c, u32 rights, bool write,
			bool user)
{
	if (user) {
		if (!(rights & PG_US))
			return false;
		return !write || (rights & PG_RW);
	}
	return !write || !(c->cr0 & CR0_WP) || (rights & PG_RW);
}

static void set_bits(struct cpu *c, u32 pa, u32 *entry, u32 bits)
{
	if ((*entry & bits) != bits) {
		*entry |= bits;
		phys_write(c, pa, *entry, 4);
	}
}

static u32 page_walk(struct cpu *c, u32 lin, bool write, bool user,
		     struct tlb_entry *e)
{
	u32 err = (write ? PF_W : 0) | (user ? PF_U : 0);
	u32 pde_pa = (c->cr3 & PAGE_MASK) | ((lin >> 20) & 0xffc);
	u32 pde = phys_read(c, pde_pa, 4), pte_pa, pte, rights, pa;
	u8 global;

	if (!(pde & PG_P))
		page_fault(c, lin, err);
	if ((pde & PG_PS) && (c->cr4 & CR4_PSE)) {
		/* Bits 21:13 are reserved: no PSE-36, MAXPHYADDR 32. */
		if (pde & 0x003fe000u)
			page_fault(c, lin, err | PF_P | PF_RSVD);
		if (!page_allows(c, pde, write, user))
			page_fault(c, lin, err | PF_P);
		set_bits(c, pde_pa, &pde, PG_A | (write ? PG_D : 0));
		pa = (pde & 0xffc00000u) | (lin & 0x003ff000u);
		rights = pde;
		pte = pde;
		global = TLB_LARGE;
	} else {
		set_bits(c, pde_pa, &pde, PG_A);
		pte_pa = (pde & PAGE_MASK) | ((lin >> 10) & 0xffc);
		pte = phys_read(c, pte_pa, 4);
		if (!(pte & PG_P))
			page_fault(c, lin, err);
		rights = pde & pte;
		if (!page_allows(c, rights, write, user))
			page_fault(c, lin, err | PF_P);
		set_bits(c, pte_pa, &pte, PG_A | (write ? PG_D : 0));
		pa = pte & PAGE_MASK;
		global = 0;
	}
	if ((pte & PG_G) && (c->cr4 & CR4_PGE))
		global |= TLB_GLOBAL;
	tlb_fill(c, e, lin, pa, (pte & PG_D) &&
		 page_allows(c, rights, true, user), global, false);
	return pa | (lin & 0xfff);
}

/*
 * PAE (CR4.PAE): the four PDPTEs live in registers, read when CR3 is
 * loaded.  A present one with a reserved bit makes that load #GP(0); so
 * the walk below never meets one.
 */
bool mmu_read_pdptes(struct cpu *c, u32 cr3, u64 out[4])
{
	int i;

	for (i = 0; i < 4; i++) {
		out[i] = phys_read64(c, (cr3 & 0xffffffe0u) + 8u * i);
		if ((out[i] & PG_P) && (out[i] & PAE_PDPTE_RSVD))
			return false;
	}
	return true;
}

static void set_bits64(struct cpu *c, u64 pa, u64 *entry, u32 bits)
{
	/* A and D are in the low half: only that half is written. */
	if ((*entry & bits) != bits) {
		*entry |= bits;
		phys_write_pa(c, pa, (u32)*entry, 4);
	}
}

/* The PDPTE, PDE and PTE (or 2 MiB PDE) for lin; a reserved bit in a
 * present entry is #PF with RSVD, wherever the walk meets it. */
static u64 page_walk_pae(struct cpu *c, u32 lin, int acc, bool user,
			 struct tlb_entry *e)
{
	bool write = acc == ACC_WRITE, nxe = c->efer & EFER_NXE;
	bool fetch = acc == ACC_EXEC, nx;
	u32 err = (write ? PF_W : 0) | (user ? PF_U : 0) |
		  (fetch && nxe ? PF_I : 0);
	u64 rsvd = PAE_RSVD_HI | (nxe ? 0 : PAE_NX);
	u64 pdpte = c->pdpte[lin >> 30], pde_pa, pde, pte_pa, pte, pa;
	u32 rights;
	u8 global;

	if (!(pdpte & PG_P))
		page_fault(c, lin, err);
	pde_pa = (pdpte & PAE_ADDR) | ((lin >> 18) & 0xff8);
	pde = phys_read64(c, pde_pa);
	if (!(pde & PG_P))
		page_fault(c, lin, err);
	if ((pde & rsvd) || ((pde & PG_PS) && (pde & PAE_LARGE_RSVD)))
		page_fault(c, lin, err | PF_P | PF_RSVD);
	if (pde & PG_PS) {
		pte_pa = pde_pa;
		pte = pde;
		pa = (pde & PAE_ADDR & ~0x1fffffull) | (lin & 0x001ff000u);
		global = TLB_LARGE;
	} else {
		set_bits64(c, pde_pa, &pde, PG_A);
		pte_pa = (pde & PAE_ADDR) | ((lin >> 9) & 0xff8);
		pte = phys_read64(c, pte_pa);
		if (!(pte & PG_P))
			page_fault(c, lin, err);
		if (pte & rsvd)
			page_fault(c, lin, err | PF_P | PF_RSVD);
		pa = pte & PAE_ADDR;
		global = 0;
	}
	rights = (u32)pde & (u32)pte;
	nx = nxe && ((pde | pte) & PAE_NX);
	if (!page_allows(c, rights, write, user) || (fetch && nx))
		page_fault(c, lin, err | PF_P);
	set_bits64(c, pte_pa, &pte, PG_A | (write ? PG_D : 0));
	if ((pte & PG_G) && (c->cr4 & CR4_PGE))
		global |= TLB_GLOBAL;
	tlb_fill(c, e, lin, pa, (pte & PG_D) &&
		 page_allows(c, rights, true, user), global, nx);
	return pa | (lin & 0xfff);
}

/*
 * Long mode (EFER.LMA): four levels of 64-bit entries under CR3 (PML4,
 * PDPT, directory, table), 48-bit linear addresses, 1 GiB pages by a
 * PDPTE's PS bit (CPUID's PDPE1GB) and 2 MiB pages by a directory
 * entry's; PS in a PML4 entry is a reserved bit, as are the address bits
 * below a large page's size (29..13, 20..13).  Bits 51..36 are reserved
 * (MAXPHYADDR 36); 62..52 are the software's.
 */
static u64 page_walk_long(struct cpu *c, u64 lin, int acc, bool user,
			  struct tlb_entry *e)
{
	bool write = acc == ACC_WRITE, nxe = c->efer & EFER_NXE;
	bool fetch = acc == ACC_EXEC, nx = false;
	u32 err = (write ? PF_W : 0) | (user ? PF_U : 0) |
		  (fetch && nxe ? PF_I : 0);
	u64 rsvd = LM_RSVD | (nxe ? 0 : PAE_NX), table = c->cr3, epa = 0;
	u64 v = 0, pa;
	u32 rights = PG_RW | PG_US;
	int level, shift;
	u8 global = 0;

	for (level = 0, shift = 39; level < 4; level++, shift -= 9) {
		epa = (table & PAE_ADDR) | ((lin >> shift) & 0x1ff) * 8;
		v = phys_read64(c, epa);
		if (!(v & PG_P))
			page_fault(c, lin, err);
		if ((v & rsvd) || (level == 0 && (v & PG_PS)) ||
		    (level == 1 && (v & PG_PS) && (v & LM_HUGE_RSVD)) ||
		    (level == 2 && (v & PG_PS) && (v & PAE_LARGE_RSVD)))
			page_fault(c, lin, err | PF_P | PF_RSVD);
		rights &= (u32)v;
		nx |= nxe && (v & PAE_NX);
		if (level == 3 || (level > 0 && (v & PG_PS)))
			break;
		set_bits64(c, epa, &v, PG_A);
		table = v;
	}
	if (level == 1) {
		pa = (v & PAE_ADDR & ~0x3fffffffull) | (lin & 0x3ffff000u);
		global = TLB_HUGE;
	} else if (level == 2) {
		pa = (v & PAE_ADDR & ~0x1fffffull) | (lin & 0x001ff000u);
		global = TLB_LARGE;
	} else {
		pa = v & PAE_ADDR;
	}
	if (!page_allows(c, rights, write, user) || (fetch && nx))
		page_fault(c, lin, err | PF_P);
	set_bits64(c, epa, &v, PG_A | (write ? PG_D : 0));
	if ((v & PG_G) && (c->cr4 & CR4_PGE))
		global |= TLB_GLOBAL;
	tlb_fill(c, e, lin, pa, (v & PG_D) &&
		 page_allows(c, rights, true, user), global, nx);
	return pa | (lin & 0xfff);
}

/*C:170
 * Paging: a hit in the software TLB gives a host pointer for the page; a
 * miss walks the tables (two levels, three with PAE, four in long mode), combining U/S
 * and R/W over the levels (and NX, with PAE), setting accessed and dirty
 * bits, and raises #PF with CR2 and its error code when the access is not
 * allowed.  A CR3 write flushes all but global pages.
 :*/
u64 mmu_translate(struct cpu *c, u64 lin, int acc, bool user)
{
	struct tlb_entry *e = tlb_slot(c, lin, user);
	struct tlb_info *i = tlb_info(c, e);

	if (tlb_hit(c, e, lin, acc))
		return (u64)i->pa_high << 32 | i->ppage | (lin & 0xfff);
	if (!(c->cr0 & CR0_PG)) {
		tlb_fill(c, e, lin, lin, true, 0, false);
		return lin;
	}
	if (c->efer & EFER_LMA)
		return page_walk_long(c, lin, acc, user, e);
	if (c->cr4 & CR4_PAE)
		return page_walk_pae(c, (u32)lin, acc, user, e);
	return page_walk(c, (u32)lin, acc == ACC_WRITE, user, e);
}

/* --- Linear accesses --- */

static inline bool priv_user(const struct cpu *c, bool sys)
{
	return !sys && c->cpl == 3;
}

static inline bool crosses_page(u64 lin, int size)
{
	return (lin & 0xfff) + (u32)size > 0x1000;
}

static u64 lin_read_slow(struct cpu *c, u64 lin, int size, bool user,
			 int acc)
{
	u64 v = 0;
	int i;

	if (!crosses_page(lin, size))
		return phys_read_pa(c, mmu_translate(c, lin, acc, user), size);
	for (i = 0; i < size; i++)
		v |= lin_read_slow(c, lin_next(c, lin, i), 1, user, acc) <<
		     (8 * i);
	return v;
}

static inline u64 lin_read_acc(struct cpu *c, u64 lin, int size, bool user,
			       int acc)
{
	struct tlb_entry *e = tlb_slot(c, lin, user);

	if (likely(tlb_hit(c, e, lin, acc) &&
		   !crosses_page(lin, size)))
		return host_load(tlb_host(e, lin), size);
	return lin_read_slow(c, lin, size, user, acc);
}

static void lin_write_slow(struct cpu *c, u64 lin, u64 val, int size,
			   bool user)
{
	u64 pa0, pa1;
	u32 n0;
	int i;

	pa0 = mmu_translate(c, lin, ACC_WRITE, user);
	if (!crosses_page(lin, size)) {
		phys_write_pa(c, pa0, val, size);
		return;
	}
	/* Both pages must be writable before either is written. */
	pa1 = mmu_translate(c, lin_next(c, lin | 0xfff, 1), ACC_WRITE, user);
	n0 = 0x1000 - (lin & 0xfff);
	for (i = 0; i < size; i++)
		phys_write_pa(c, (u32)i < n0 ? pa0 + i : pa1 + (i - n0),
			      val >> (8 * i), 1);
}

static inline void lin_write_priv(struct cpu *c, u64 lin, u64 val, int size,
				  bool user)
{
	struct tlb_entry *e = tlb_slot(c, lin, user);

	if (likely(tlb_hit(c, e, lin, ACC_WRITE) &&
		   !crosses_page(lin, size))) {
		host_store(tlb_host(e, lin), val, size);
		return;
	}
	lin_write_slow(c, lin, val, size, user);
}

u64 lin_read(struct cpu *c, u64 lin, int size, bool sys)
{
	return lin_read_acc(c, lin, size, priv_user(c, sys), ACC_READ);
}

void lin_write(struct cpu *c, u64 lin, u64 val, int size, bool sys)
{
	lin_write_priv(c, lin, val, size, priv_user(c, sys));
}

/* Check that every page of [lin, lin+len) allows the access. */
static void lin_check(struct cpu *c, u64 lin, u32 len, int acc, bool user)
{
	u64 p = lin & ~0xfffull, last = lin_next(c, lin, len - 1) & ~0xfffull;

	mmu_translate(c, lin, acc, user);
	while (p != last) {
		p = lin_next(c, p, 0x1000);
		mmu_translate(c, p, acc, user);
	}
}

/* --- Segments --- */

/* May [off, off+len) be addressed through s?  Expand-down segments hold
 * the offsets above the limit, up to 64 KiB or 4 GiB by their B bit. */
bool seg_limit_ok(const struct seg *s, u64 off, u32 len)
{
	u64 last = off + len - 1;

	if (SEG_S(s->attr) && !SEG_CODE(s->attr) && SEG_EXPDN(s->attr))
		return off > s->limit &&
		       last <= (SEG_DB(s->attr) ? 0xffffffffu : 0xffffu);
	if (s->limit == 0xffffffffu)
		return true;	/* flat: wraps around, no fault */
	return last <= s->limit;
}

static noreturn void seg_fault(struct cpu *c, int sreg)
{
	cpu_raise(c, sreg == S_SS ? EXC_SS : EXC_GP, 0);
}

/* The linear address of seg:off after the segment checks for an access of
 * len bytes. */
static inline u64 seg_lin(struct cpu *c, int sreg, u64 off, u32 len, int acc)
{
	const struct seg *s = &c->seg[sreg];
	u16 a = s->attr;

	if (cpu_64bit(c)) {
		/* No checks but one: the address must be canonical. */
		u64 lin = (sreg >= S_FS ? s->base : 0) + off;

		if (unlikely(!canonical(lin) ||
			     !canonical(lin + len - 1)))
			seg_fault(c, sreg);
		return lin;
	}
	if (likely(cpu_pmode(c) && !cpu_vm86(c))) {
		if (unlikely(!SEG_P(a)))
			seg_fault(c, sreg);
		if (SEG_CODE(a) ? (acc == ACC_WRITE || !SEG_RW(a))
				: (acc == ACC_WRITE && !SEG_RW(a)))
			cpu_gp(c, 0);
	}
	if (unlikely(!seg_limit_ok(s, off, len)))
		seg_fault(c, sreg);
	return (u32)(s->base + off);
}

static inline bool cur_user(const struct cpu *c)
{
	return c->cpl == 3;
}

u64 mem_read(struct cpu *c, int seg, u64 off, int size)
{
	u64 lin = seg_lin(c, seg, off, size, ACC_READ);

	return lin_read_acc(c, lin, size, cur_user(c), ACC_READ);
}

void mem_write(struct cpu *c, int seg, u64 off, u64 val, int size)
{
	u64 lin = seg_lin(c, seg, off, size, ACC_WRITE);

	lin_write_priv(c, lin, val, size, cur_user(c));
}

u64 mem_read_rmw(struct cpu *c, int seg, u64 off, int size)
{
	u64 lin = seg_lin(c, seg, off, size, ACC_WRITE);
	struct tlb_entry *e = tlb_slot(c, lin, cur_user(c));

	/* A writable TLB entry already says the write will go through. */
	if (likely(tlb_hit(c, e, lin, ACC_WRITE) &&
		   !crosses_page(lin, size)))
		return host_load(tlb_host(e, lin), size);
	lin_check(c, lin, size, ACC_WRITE, cur_user(c));
	return lin_read_acc(c, lin, size, cur_user(c), ACC_READ);
}

u64 mem_read64(struct cpu *c, int seg, u64 off)
{
	return mem_read(c, seg, off, 8);
}

/* Both pages are checked before either is written (lin_write_slow). */
void mem_write64(struct cpu *c, int seg, u64 off, u64 val)
{
	mem_write(c, seg, off, val, 8);
}

void mem_check(struct cpu *c, int seg, u64 off, u32 len, int acc)
{
	u64 lin;

	if (!len)
		return;
	lin = seg_lin(c, seg, off, len, acc);
	lin_check(c, lin, len, acc, cur_user(c));
}

/* --- Instruction fetch --- */

static inline u32 code_read(struct cpu *c, u64 eip, int size)
{
	const struct seg *cs = &c->seg[S_CS];

	if (cpu_64bit(c)) {
		if (unlikely(!canonical(eip) || !canonical(eip + size - 1)))
			cpu_gp(c, 0);
		return (u32)lin_read_acc(c, eip, size, cur_user(c), ACC_EXEC);
	}
	if (unlikely(eip + size - 1 > cs->limit))
		cpu_gp(c, 0);
	return (u32)lin_read_acc(c, (u32)(cs->base + eip), size, cur_user(c),
				 ACC_EXEC);
}

u8 code_read8(struct cpu *c, u64 eip)
{
	return (u8)code_read(c, eip, 1);
}

u16 code_read16(struct cpu *c, u64 eip)
{
	return (u16)code_read(c, eip, 2);
}

u32 code_read32(struct cpu *c, u64 eip)
{
	return code_read(c, eip, 4);
}
