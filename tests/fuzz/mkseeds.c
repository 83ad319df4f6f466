/*
 * Writes the fuzz targets' seed corpus: mkseeds DIR makes DIR/<target>/
 * and a few inputs in each, the shapes an honest guest, kernel file or
 * peer would produce, for the fuzzer to start from and bend.  Nothing
 * here is committed as a file: tests/fuzz/mkcorpus.sh runs this.
 *
 * The virtio scripts use fuzz_guest.h's opcodes; the kernels are built
 * byte by byte: an ELF32 vmlinux, bzImages (with and without an XZ
 * payload, made with liblzma), Multiboot ELF and flat images.
 */
#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "fuzz_guest.h"
#include "net/net.h"

static const char *dir;
static u8 buf[1 << 20];
static size_t len;

static void b8(u8 v)
{
	if (len >= sizeof(buf))
		abort();
	buf[len++] = v;
}

static void b16(u16 v)
{
	b8((u8)v);
	b8((u8)(v >> 8));
}

static void b32(u32 v)
{
	b16((u16)v);
	b16((u16)(v >> 16));
}

static void b64(u64 v)
{
	b32((u32)v);
	b32((u32)(v >> 32));
}

static void bytes(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b8(((const u8 *)p)[i]);
}

static void save(const char *target, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0777) && errno != EEXIST)
		abort();
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		abort();
	len = 0;
}

/*
 * The guest's script (fuzz_guest.h).
 */
static void addr(u64 a)
{
	if (a >= 0xff0000) {
		b8(0xff);
		b64(a);
	} else {
		b8((u8)(a >> 16));
		b16((u16)a);
	}
}

static void features(u64 f)
{
	b8(FG_FEATURES);
	b64(f | 1ull << VIRTIO_F_VERSION_1);
}

static void queue(u8 q, u8 log2)
{
	b8(FG_QUEUE);
	b8(q);
	b8(log2);
}

static void driver_ok(void)
{
	b8(FG_DRIVER_OK);
}

static void ram(u64 a, const void *p, u8 n)
{
	b8(FG_RAM_WRITE);
	addr(a);
	b8(n);
	bytes(p, n);
}

static void desc(u8 table, u16 i, u64 a, u32 l, u16 flags, u16 next)
{
	b8(FG_DESC);
	b8(table);
	b16(i);
	addr(a);
	b32(l);
	b16(flags);
	b16(next);
}

static void kick(u8 q, u16 head)
{
	b8(FG_KICK);
	b8(q);
	b16(head);
}

static void tick(u16 us)
{
	b8(FG_TICK);
	b16(us);
}

#define F_RING ((1ull << VIRTIO_RING_F_INDIRECT_DESC) | \
		(1ull << VIRTIO_RING_F_EVENT_IDX))
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

static void rng_seeds(void)
{
	features(F_RING);
	queue(0, 3);
	driver_ok();
	desc(0, 0, FG_BUF, 64, W, 0);
	kick(0, 0);
	b8(FG_ISR);
	desc(FG_QUEUES, 0, FG_BUF, 32, W | N, 1);
	desc(FG_QUEUES, 1, FG_BUF + 32, 32, W, 0);
	desc(0, 1, FG_INDIRECT, 32, VRING_DESC_F_INDIRECT, 0);
	kick(0, 1);
	save("virtio_rng", "fill");
}

/* What the virtqueue target's device reads from the input per chain. */
static void fuzzq_answer(u8 in, u32 off, u16 l, u32 used, u8 hold)
{
	b8(in);
	b32(off);
	b16(l);
	if (in)
		b8(0x5a);
	b8(3);
	b32(used);
	b8(hold);
}

static void virtqueue_seeds(void)
{
	features(F_RING);
	for (u8 q = 0; q < 4; q++)
		queue(q, 4);
	driver_ok();
	ram(FG_BUF, "request", 7);
	desc(0, 0, FG_BUF, 7, N, 1);
	desc(0, 1, FG_BUF + 0x100, 100, W | N, 2);
	desc(0, 2, FG_BUF + 0x300, 28, W, 0);
	kick(0, 0);
	fuzzq_answer(0, 2, 4, 64, 0);
	kick(0, 0);
	fuzzq_answer(1, 90, 40, 128, 1);
	desc(FG_QUEUES, 0, FG_BUF, 16, N, 1);
	desc(FG_QUEUES, 1, FG_BUF + 0x1000, 4096, W, 0);
	desc(1, 3, FG_INDIRECT, 32, VRING_DESC_F_INDIRECT, 0);
	kick(1, 3);
	fuzzq_answer(1, 0, 4096, 4096, 0);
	b8(FG_RESET);
	save("virtqueue", "chains");
}

static void blk_request(u32 type, u64 sector, u32 data, u16 data_flags,
			bool indirect)
{
	struct virtio_blk_outhdr h = { type, 0, sector };
	u8 t = indirect ? FG_QUEUES : 0;

	ram(FG_BUF, &h, sizeof(h));
	desc(t, 0, FG_BUF, sizeof(h), N, 1);
	if (data) {
		desc(t, 1, FG_BUF + 0x1000, data, data_flags | N, 2);
		desc(t, 2, FG_BUF + 0x100, 1, W, 0);
	} else {
		desc(t, 1, FG_BUF + 0x100, 1, W, 0);
	}
	if (indirect)
		desc(0, 5, FG_INDIRECT, data ? 48 : 32,
		     VRING_DESC_F_INDIRECT, 0);
	kick(0, indirect ? 5 : 0);
}

static void blk_start(bool ro)
{
	b8(ro);
	features(F_RING | 1ull << VIRTIO_BLK_F_FLUSH |
		 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		 (ro ? 1ull << VIRTIO_BLK_F_RO :
		       1ull << VIRTIO_BLK_F_DISCARD |
		       1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	queue(0, 4);
	driver_ok();
}

static void blk_seeds(void)
{
	struct virtio_blk_discard_write_zeroes r = { 4, 8, 0 };

	blk_start(false);
	blk_request(VIRTIO_BLK_T_OUT, 3, 1024, 0, false);
	blk_request(VIRTIO_BLK_T_IN, 3, 1024, W, false);
	blk_request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	save("virtio_blk", "rw");
	blk_start(false);
	blk_request(VIRTIO_BLK_T_GET_ID, 0, 20, W, true);
	ram(FG_BUF + 0x1000, &r, sizeof(r));
	blk_request(VIRTIO_BLK_T_DISCARD, 0, sizeof(r), 0, false);
	blk_request(VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(r), 0, true);
	b8(FG_RESET);
	save("virtio_blk", "misc");
	blk_start(true);
	blk_request(VIRTIO_BLK_T_IN, 127, 512, W, false);
	blk_request(VIRTIO_BLK_T_OUT, 0, 512, 0, false);
	save("virtio_blk", "readonly");
}

/* Mergeable receive buffers and receive offloads: 48 small chains, then
 * a 64 KiB TCP segment from the host with a partial checksum, spread
 * over as many of them as it needs (big: a sharenet-like backend, whose
 * 60 KiB frame's checksum the NIC finishes for a guest without
 * GUEST_CSUM). */
static void net_mergeable_seed(const u8 *frame, size_t len, bool big)
{
	struct virtio_net_hdr_v1 h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = big ? 0 : VIRTIO_NET_HDR_GSO_TCPV4,
		.gso_size = big ? 0 : 1448, .csum_start = 34,
		.csum_offset = 16,
	};

	b8(big ? 2 : 1);
	features(1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_MTU |
		 1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MRG_RXBUF |
		 F_RING | (big ? 1ull << VIRTIO_NET_F_CSUM :
			   NET_TX_OFFLOADS | NET_RX_OFFLOADS));
	queue(0, 6);
	queue(1, 4);
	driver_ok();
	for (u16 i = 0; i < 48; i++) {
		desc(0, i, FG_BUF + 0x4000 + 0x600ull * i, 0x600, W, 0);
		kick(0, i);
	}
	b8(FG_HOST);
	b8(1 | (big ? 58 : 63) << 1);	/* a header; KiB more than ... */
	b16(1000);		/* ... this */
	bytes(frame, len);
	bytes(frame, 64 - len);
	bytes(&h, sizeof(h));
	b8(FG_ISR);
	b8(FG_HOST);
	b8(0);
	b16(len);
	bytes(frame, len);
	bytes(&h, sizeof(h));
	save("virtio_net", big ? "big-csum" : "mergeable");
}

static void net_seeds(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0,
			 2, 0x08, 0x06 };

	for (int off = 0; off < 2; off++) {
		b8(off);
		features(1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_MTU |
			 1ull << VIRTIO_NET_F_STATUS | F_RING |
			 (off ? NET_TX_OFFLOADS : 0));
		queue(0, 4);
		queue(1, 4);
		driver_ok();
		ram(FG_BUF, &h, sizeof(h));
		ram(FG_BUF + sizeof(h), frame, sizeof(frame));
		desc(1, 0, FG_BUF, sizeof(h), N, 1);
		desc(1, 1, FG_BUF + sizeof(h), sizeof(frame), 0, 0);
		kick(1, 0);
		if (off) {
			h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
			h.gso_size = 1448;
			h.csum_start = 34;
			h.csum_offset = 16;
			ram(FG_BUF + 0x800, &h, sizeof(h));
			desc(1, 2, FG_BUF + 0x800, sizeof(h), N, 3);
			desc(1, 3, FG_BUF + 0x1000, 9000, 0, 0);
			kick(1, 2);
		}
		tick(2000);
		desc(0, 0, FG_BUF + 0x4000, 1526, W, 0);
		kick(0, 0);
		b8(FG_HOST);
		b8(0);
		b16(60);
		bytes(frame, sizeof(frame));
		bytes(&h, sizeof(h));
		b8(FG_ISR);
		save("virtio_net", off ? "offloads" : "plain");
	}
	net_mergeable_seed(frame, sizeof(frame), false);
	net_mergeable_seed(frame, sizeof(frame), true);
}

static void console_seeds(void)
{
	b8(1);
	features(0);
	queue(0, 3);
	queue(1, 3);
	driver_ok();
	ram(FG_BUF, "hello hvc0\n", 11);
	desc(1, 0, FG_BUF, 5, N, 1);
	desc(1, 1, FG_BUF + 5, 6, 0, 0);
	kick(1, 0);
	tick(3000);
	desc(0, 0, FG_BUF + 0x1000, 64, W, 0);
	kick(0, 0);
	b8(FG_HOST);
	b8(0);
	b8(5);
	bytes("ls -l", 5);
	tick(1000);
	save("virtio_console", "hello");
	b8(1);
	features(0);
	queue(0, 3);
	queue(1, 3);
	driver_ok();
	b8(FG_HOST);
	b8(1);		/* the reader goes away */
	desc(1, 0, FG_BUF, 0x10000, N, 1);
	desc(1, 1, FG_BUF, 0x10000, 0, 0);
	kick(1, 0);
	b8(FG_HOST);
	b8(2);		/* end of input */
	tick(3000);
	save("virtio_console", "gone");
}

/* The PCI target's accesses (fuzz_pci.c). */
static void pci_addr(u8 slot, u8 off)
{
	b8(0);
	b8(2);		/* size, unused */
	b8(slot);
	b8(off);
}

static void pci_seeds(void)
{
	pci_addr(1, 0x10);
	b8(1), b8(2), b8(4), b32(0xffffffff);
	b8(2), b8(2), b8(4);
	b8(1), b8(2), b8(4), b32(0xe8000000);
	pci_addr(1, 0x04);
	b8(1), b8(1), b8(4), b32(0);
	b8(1), b8(1), b8(4), b32(2);
	b8(3), b8(2), b8(1), b32(8), b32(0x12345678);
	b8(4), b8(1), b8(3), b32(0x1000);
	pci_addr(2, 0x3c);
	b8(2), b8(0), b8(4);
	b8(1), b8(0), b8(1), b32(4);	/* 0xcf9: reset */
	save("pci", "sizing");
}

/*
 * Kernels.
 */
static size_t elf(u8 *p, u32 paddr, u32 entry, const u8 *code, u32 n,
		  u32 bss)
{
	memset(p, 0, 0x60);
	memcpy(p, "\177ELF\1\1\1", 7);
	put_le16(p + 16, 2);		/* ET_EXEC */
	put_le16(p + 18, 3);		/* EM_386 */
	put_le32(p + 20, 1);
	put_le32(p + 24, entry);
	put_le32(p + 28, 52);		/* e_phoff */
	put_le16(p + 40, 52);
	put_le16(p + 42, 32);
	put_le16(p + 44, 1);
	put_le32(p + 52, 1);		/* PT_LOAD */
	put_le32(p + 56, 0x60);		/* p_offset */
	put_le32(p + 60, paddr + 0xc0000000u);
	put_le32(p + 64, paddr);
	put_le32(p + 68, n);
	put_le32(p + 72, n + bss);
	put_le32(p + 76, 7);
	memcpy(p + 0x60, code, n);
	return 0x60 + n;
}

static const u8 code[64] = { 0xfa, 0xf4, 0xeb, 0xfd };

static size_t xz(const u8 *in, size_t n, u8 *out, size_t cap)
{
	size_t pos = 0;

	if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out,
				    &pos, cap) != LZMA_OK)
		abort();
	return pos;
}

/* A bzImage: one setup sector after the boot sector, then the
 * protected-mode part, which is the payload when there is one. */
static size_t bzimage(u8 *p, u16 version, const u8 *pm, size_t n,
		      bool payload)
{
	size_t setup = 2 * 512;

	memset(p, 0, setup);
	p[0x1f1] = 1;
	put_le32(p + 0x1f4, (u32)((n + 15) / 16));
	put_le16(p + 0x1fe, 0xaa55);
	p[0x201] = 0x6a;	/* header ends at 0x26c */
	memcpy(p + 0x202, "HdrS", 4);
	put_le16(p + 0x206, version);
	p[0x211] = 1;		/* LOADED_HIGH */
	put_le32(p + 0x22c, 0x7fffffff);
	put_le32(p + 0x230, 0x200000);
	p[0x234] = 1;
	put_le32(p + 0x238, 2047);
	if (payload) {
		put_le32(p + 0x248, 0);
		put_le32(p + 0x24c, (u32)n);
	}
	put_le64(p + 0x258, 0x1000000);
	put_le32(p + 0x260, 0x20000);
	memcpy(p + setup, pm, n);
	return setup + n;
}

static void linux_seed(const char *name, u8 flags, const char *cmd,
		       const u8 *k, size_t n)
{
	b8(flags);
	b8((u8)strlen(cmd));
	bytes(cmd, strlen(cmd));
	if (flags & 2) {
		b16(4096);
		for (int i = 0; i < 4096; i++)
			b8((u8)i);
	}
	bytes(k, n);
	save("boot_linux", name);
}

static u8 kbuf[65536], zbuf[65536];

static void linux_seeds(void)
{
	size_t n = elf(kbuf, 0x100000, 0x100000, code, sizeof(code), 4096);
	size_t z = xz(kbuf, n, zbuf, sizeof(zbuf));
	static u8 bz[65536];
	size_t m;

	linux_seed("vmlinux", 2 | 4 << 2, "root=/dev/vda", kbuf, n);
	/* Where a Debian kernel runs: 16 MiB up. */
	n = elf(kbuf, 0x1000000, 0x1000000, code, sizeof(code), 0);
	z = xz(kbuf, n, zbuf, sizeof(zbuf));
	m = bzimage(bz, 0x20f, zbuf, z, true);
	linux_seed("bzimage-xz", 1 | 2 | 20 << 2, "console=hvc0", bz, m);
	m = bzimage(bz, 0x20f, code, sizeof(code), true);
	linux_seed("bzimage", 2 | 20 << 2, "quiet", bz, m);
	m = bzimage(bz, 0x202, code, sizeof(code), false);
	linux_seed("bzimage-2.02", 0, "", bz, m);
}

/* A Multiboot header: magic, flags, checksum, then the address fields. */
static void mb_header(u8 *h, u32 flags, u32 header_addr, u32 load,
		      u32 load_end, u32 bss_end, u32 entry)
{
	put_le32(h, 0x1badb002);
	put_le32(h + 4, flags);
	put_le32(h + 8, -(0x1badb002 + flags));
	put_le32(h + 12, header_addr);
	put_le32(h + 16, load);
	put_le32(h + 20, load_end);
	put_le32(h + 24, bss_end);
	put_le32(h + 28, entry);
}

static void mb_seed(const char *name, u8 nmod, const u8 *k, size_t n)
{
	b8(nmod | 2 << 2);
	b8(9);
	bytes("test=ok 1", 9);
	for (int i = 0; i < nmod; i++) {
		b16(100 + i);
		for (int j = 0; j < 100 + i; j++)
			b8((u8)j);
	}
	bytes(k, n);
	save("multiboot", name);
}

static void multiboot_seeds(void)
{
	u8 c[96] = { 0 };
	size_t n;

	/* ELF: the header inside the loaded code. */
	memcpy(c, code, 8);
	mb_header(c + 8, 3, 0, 0, 0, 0, 0);
	n = elf(kbuf, 0x100000, 0x100000, c, sizeof(c), 4096);
	mb_seed("elf", 2, kbuf, n);
	/* Flat: the file is the image, loaded at 1 MiB. */
	memset(kbuf, 0, 256);
	mb_header(kbuf, 3 | 1u << 16, 0x100000, 0x100000, 0, 0x102000,
		  0x100020);
	memcpy(kbuf + 0x20, code, 8);
	mb_seed("flat", 1, kbuf, 256);
	mb_header(kbuf, 3 | 1u << 16, 0x100000, 0x100000, 0x100100, 0,
		  0x100020);
	mb_seed("flat-end", 0, kbuf, 512);
}

/* The sharenet target (fuzz_sharenet.c): a peer in slot 3 (we hold
 * slot 0) sends frames in cells 0-2, then the guest takes them; a frame
 * record at cell n, with a virtio-net header. */
static void sn_cell(u8 slot, u16 n, u32 seq, u32 l, const u8 *f, u8 nf)
{
	struct virtio_net_hdr_v1 h = { 0 };

	b8(1);
	b8(slot);
	b16(n);
	b32(seq);
	b32(l);
	bytes(&h, 12);
	b8(nf);
	bytes(f, nf);
}

static void sharenet_seeds(void)
{
	u8 f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0x4c, 0x53, 0, 0,
		     3, 8, 6 };

	for (u8 n = 0; n < 3; n++)
		sn_cell(3, n, n, 60, f, sizeof(f));
	b8(0), b8(3), b32(3);		/* head */
	b8(2), b8(8);			/* 8 buffers: deliver */
	save("sharenet", "three");
	sn_cell(5, 1, 1025, 1518, f, sizeof(f));
	b8(0), b8(5), b32(1026);
	b8(3), b8(5), b32(1), b32(1), b64(0x534c02);
	b8(2), b8(1);
	b8(4), b32(4096 + 100);		/* cut into slot 0's page */
	b8(2), b8(4);
	save("sharenet", "lapped-cut");
	/* A 60000-byte frame over 30 cells, wrapping round the ring's
	 * end, with the reserve moving on under it. */
	sn_cell(7, 1020, 1020, 60000, f, sizeof(f));
	b8(0), b8(7), b32(1050);
	b8(5), b8(7), b32(1050);
	b8(2), b8(2);
	b8(5), b8(7), b32(2050);
	sn_cell(7, 1020, 1020, 60000, f, sizeof(f));
	b8(2), b8(2);
	save("sharenet", "big");
}

static void argv_seed(const char *name, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		bytes(words[i], strlen(words[i]) + !!words[i + 1]);
	save("options", name);
}

static void options_seeds(void)
{
	static const char *const a[] = { "64m", "bzImage",
		"--initrd=initrd.img", "--block=disk.img,ro", "--rng",
		"console=hvc0", "quiet", NULL };
	static const char *const b[] = { "-v", "--tunnet", "192.168.19.1",
		"--sharenet=net,mac=02:00:00:00:00:01,promisc", "1G",
		"vmlinux", "--net=user,hostfwd=tcp::2222-:22", "--exit-port",
		"--", "--init", "-x", NULL };
	static const char *const c[] = { "--help", NULL };
	static const char *const d[] = { "--initrd=a", "--initrd=b", "512K",
		"mb.elf", "--no-unpack", "--boot-time", "--version", NULL };

	argv_seed("boot", a);
	argv_seed("net", b);
	argv_seed("help", c);
	argv_seed("multiboot", d);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0777) && errno != EEXIST)
		return 1;
	rng_seeds();
	virtqueue_seeds();
	blk_seeds();
	net_seeds();
	console_seeds();
	pci_seeds();
	linux_seeds();
	multiboot_seeds();
	sharenet_seeds();
	options_seeds();
	return 0;
}
