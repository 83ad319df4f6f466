/*
 * The virtio devices and the PCI bus, driven directly, as a guest would
 * and as a hostile guest would: configuration space sizing and BAR moves,
 * feature negotiation, block requests that really read and write a file,
 * and chains built to hurt (outside RAM, wrapping, looping, nested, a
 * readable buffer where the device must write).  For each hostile case the
 * host must survive (this process, under ASan), the guest must be killed
 * with a reason, and the disk file must be unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "cpu/cpu.h"
#include "driver.h"
#include "term.h"

#define DISK_SECTORS	128
#define HDR_GPA		BUF_GPA
#define STATUS_GPA	(BUF_GPA + 0x100)
#define DATA_GPA	(BUF_GPA + 0x1000)
#define INDIRECT_GPA	(BUF_GPA + 0x80000)

#define F_VERSION_1	(1ull << VIRTIO_F_VERSION_1)
#define F_INDIRECT	(1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT_IDX	(1ull << VIRTIO_RING_F_EVENT_IDX)

static char disk_path[64];

static u8 pattern(u64 off)
{
	return (off * 7 + (off >> 9)) & 0xff;
}

static void make_disk(u64 size)
{
	u8 buf[512];
	int fd;

	strcpy(disk_path, "/tmp/lguest-virtio-XXXXXX");
	fd = mkstemp(disk_path);
	if (fd < 0)
		abort();
	for (u64 off = 0; off < size; off += sizeof(buf)) {
		for (unsigned int i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(off + i);
		if (write(fd, buf, size - off < sizeof(buf) ? size - off :
			  sizeof(buf)) < 0)
			abort();
	}
	close(fd);
}

static u64 file_sum(void)
{
	u64 h = 1469598103934665603ull;
	u8 buf[4096];
	ssize_t n;
	int fd = open(disk_path, O_RDONLY);

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static void file_read(u64 off, void *buf, size_t len)
{
	int fd = open(disk_path, O_RDONLY);

	if (pread(fd, buf, len, off) != (ssize_t)len)
		abort();
	close(fd);
}

/* A machine with one disk at 00:01.0, negotiated and running. */
static struct virtio_blk *setup_blk(struct drv *d, bool ro, u64 features,
				    u16 qsize)
{
	struct virtio_blk *blk;

	drv_machine(d);
	blk = virtio_blk_open(d->bus, disk_path, ro);
	if (!blk || !drv_probe(d, 1))
		abort();
	drv_negotiate(d, features);
	drv_queue(d, 0, qsize);
	drv_driver_ok(d);
	return blk;
}

/* Header, data, status as descriptors 0, 1, 2; returns the status. */
static u8 blk_request(struct drv *d, struct virtio_blk *blk, u32 type,
		      u64 sector, u32 len, u16 data_flags)
{
	struct virtio_blk_outhdr hdr = { type, 0, sector };
	u8 *status = gp(d, STATUS_GPA, 1);
	u16 idx = used_idx(d);

	memcpy(gp(d, HDR_GPA, sizeof(hdr)), &hdr, sizeof(hdr));
	*status = 0xee;
	set_desc(d, d->desc, 0, HDR_GPA, sizeof(hdr), VRING_DESC_F_NEXT, 1);
	if (len) {
		set_desc(d, d->desc, 1, DATA_GPA, len,
			 data_flags | VRING_DESC_F_NEXT, 2);
		set_desc(d, d->desc, 2, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	} else {
		set_desc(d, d->desc, 1, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	}
	drv_kick(d, 0, 0);
	virtio_blk_quiesce(blk);
	if (used_idx(d) != (u16)(idx + 1))
		return 0xff;
	return *status;
}

static void test_pci(void)
{
	struct drv d;
	u32 bar, v;

	make_disk(DISK_SECTORS * 512);
	drv_machine(&d);
	virtio_blk_open(d.bus, disk_path, false);
	virtio_rng_add(d.bus);

	pci_io_write(d.bus, 0xcf8, 0x80000000u, 4);
	ok(pci_io_read(d.bus, 0xcf8, 4) == 0x80000000u,
	   "pci: 0xcf8 reads back what was written");
	ok(cfg_read(&d, 0, PCI_VENDOR_ID, 4) == 0x12378086,
	   "pci: host bridge 8086:1237 at 00:00.0");
	ok(cfg_read(&d, 0, PCI_CLASS_DEVICE, 2) == 0x0600,
	   "pci: host bridge class 0x0600");
	ok(cfg_read(&d, 5, PCI_VENDOR_ID, 4) == 0xffffffffu &&
	   cfg_read(&d, 5, PCI_VENDOR_ID, 2) == 0xffff,
	   "pci: an empty slot reads all ones");
	ok(cfg_read(&d, 1, PCI_VENDOR_ID, 2) == 0x1af4 &&
	   cfg_read(&d, 1, PCI_DEVICE_ID, 2) == 0x1042 &&
	   cfg_read(&d, 1, PCI_REVISION_ID, 1) == 1 &&
	   cfg_read(&d, 1, PCI_DEVICE_ID + 1, 1) == 0x10,
	   "pci: virtio-blk is 1af4:1042 rev 1 (byte/word/dword access)");
	ok(cfg_read(&d, 2, PCI_DEVICE_ID, 2) == 0x1044,
	   "pci: virtio-rng is 1af4:1044 at 00:02.0");
	ok(cfg_read(&d, 1, PCI_INTERRUPT_PIN, 1) == 1 &&
	   cfg_read(&d, 1, PCI_INTERRUPT_LINE, 1) == 11 &&
	   cfg_read(&d, 2, PCI_INTERRUPT_LINE, 1) == 10,
	   "pci: INTA routed to lines 11, 10 in the Interrupt Line register");
	ok(drv_probe(&d, 1), "pci: virtio capabilities found in BAR 0");

	bar = cfg_read(&d, 1, PCI_BASE_ADDRESS_0, 4);
	ok(bar >= GUEST_MMIO_BASE && bar < GUEST_MMIO_END && !(bar & 0xf),
	   "pci: BAR0 placed in the MMIO window (%#x)", bar);
	ok(common_rd(&d, VIRTIO_PCI_COMMON_NUMQ, 2) == 1,
	   "pci: the BAR decodes (num_queues = 1)");

	cfg_write(&d, 1, PCI_COMMAND, 0, 2);
	ok(common_rd(&d, VIRTIO_PCI_COMMON_NUMQ, 2) == 0xffff,
	   "pci: memory space disabled: the BAR is not decoded");
	cfg_write(&d, 1, PCI_BASE_ADDRESS_0, 0xffffffffu, 4);
	v = cfg_read(&d, 1, PCI_BASE_ADDRESS_0, 4);
	ok(v == 0xffffc000u, "pci: BAR sizing reads back the 16 KiB mask "
	   "(%#x)", v);
	cfg_write(&d, 1, PCI_BASE_ADDRESS_0, 0xe8000000u, 4);
	cfg_write(&d, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	d.common += 0xe8000000u - bar;
	ok(common_rd(&d, VIRTIO_PCI_COMMON_NUMQ, 2) == 1 &&
	   machine_mmio_read(d.m, bar + VIRTIO_PCI_COMMON_NUMQ, 2) == 0xffff,
	   "pci: the BAR moved to 0xe8000000 and left its old place");
	cfg_write(&d, 1, PCI_BASE_ADDRESS_0 + 2, 0xe900, 2);
	ok(cfg_read(&d, 1, PCI_BASE_ADDRESS_0, 4) == 0xe9000000u &&
	   machine_mmio_read(d.m, 0xe9000000u + VIRTIO_PCI_COMMON_NUMQ, 2)
	   == 1, "pci: a word write to the BAR's upper half moves it too");
	v = cfg_read(&d, 2, PCI_BASE_ADDRESS_0, 4);
	cfg_write(&d, 2, PCI_BASE_ADDRESS_0, 0xe9000000u, 4);
	ok(machine_mmio_read(d.m, 0xe9000000u + VIRTIO_PCI_COMMON_NUMQ, 2)
	   == 1, "pci: a BAR moved onto another is not decoded");
	cfg_write(&d, 2, PCI_BASE_ADDRESS_0, v, 4);
	u32 cap = cfg_read(&d, 1, PCI_CAPABILITY_LIST, 1);
	while (cap && cfg_read(&d, 1, cap + 3, 1) != VIRTIO_PCI_CAP_PCI_CFG)
		cap = cfg_read(&d, 1, cap + 1, 1);
	cfg_write(&d, 1, cap + 4, 0, 1);
	cfg_write(&d, 1, cap + 8, VIRTIO_PCI_COMMON_NUMQ, 4);
	cfg_write(&d, 1, cap + 12, 2, 4);
	ok(cap && cfg_read(&d, 1, cap + 16, 2) == 1,
	   "virtio: the PCI configuration access capability reads the BAR");
	cfg_write(&d, 1, PCI_VENDOR_ID, 0x12345678, 4);
	ok(cfg_read(&d, 1, PCI_VENDOR_ID, 4) == 0x10421af4,
	   "pci: read-only registers ignore writes");
	drv_free(&d);
	unlink(disk_path);
}

static void test_negotiation(void)
{
	struct drv d;

	make_disk(DISK_SECTORS * 512);
	drv_machine(&d);
	virtio_blk_open(d.bus, disk_path, false);
	drv_probe(&d, 1);
	ok(!(drv_negotiate(&d, 0) & VIRTIO_CONFIG_S_FEATURES_OK),
	   "virtio: FEATURES_OK refused without VERSION_1");
	ok(!(drv_negotiate(&d, F_VERSION_1 | 1ull << 50) &
	     VIRTIO_CONFIG_S_FEATURES_OK),
	   "virtio: FEATURES_OK refused for a feature not offered");
	ok(drv_negotiate(&d, F_VERSION_1) & VIRTIO_CONFIG_S_FEATURES_OK,
	   "virtio: FEATURES_OK accepted with VERSION_1");
	common_wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	ok(common_rd(&d, VIRTIO_PCI_COMMON_DF, 4) & 1,
	   "virtio: device offers VERSION_1 (feature bit 32)");
	u64 cap;
	memcpy(&cap, &(u32[2]){ machine_mmio_read(d.m, d.device, 4),
				machine_mmio_read(d.m, d.device + 4, 4) }, 8);
	ok(cap == DISK_SECTORS, "virtio-blk: capacity %llu sectors",
	   (unsigned long long)cap);
	drv_free(&d);
	unlink(disk_path);
}

static void test_blk_io(void)
{
	struct drv d;
	struct virtio_blk *blk;
	u8 buf[1024], *data;
	u32 id, len;
	bool same = true;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1 | F_INDIRECT | F_EVENT_IDX, 16);
	data = gp(&d, DATA_GPA, 4096);

	ok(blk_request(&d, blk, VIRTIO_BLK_T_IN, 3, 1024, VRING_DESC_F_WRITE)
	   == VIRTIO_BLK_S_OK, "virtio-blk: read request OK");
	for (int i = 0; i < 1024; i++)
		same &= data[i] == pattern(3 * 512 + i);
	ok(same, "virtio-blk: read returns the file's sectors 3-4");
	used_elem(&d, 0, &id, &len);
	ok(id == 0 && len == 1025, "virtio-blk: used element id 0, len 1025");
	ok(d.irq[PCI_IRQ_BASE] == 1, "virtio: INTx (PIRQA) raised on completion");
	ok(isr_read(&d) == 1 && d.irq[PCI_IRQ_BASE] == 0 && isr_read(&d) == 0,
	   "virtio: reading ISR returns 1, clears it and lowers the line");

	memset(data, 0x5a, 1024);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 10, 1024, 0) ==
	   VIRTIO_BLK_S_OK, "virtio-blk: write request OK");
	file_read(10 * 512, buf, 1024);
	same = true;
	for (int i = 0; i < 1024; i++)
		same &= buf[i] == 0x5a;
	file_read(12 * 512, buf, 1);
	ok(same && buf[0] == pattern(12 * 512),
	   "virtio-blk: the write reached the file, and no further");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0) ==
	   VIRTIO_BLK_S_OK, "virtio-blk: flush OK");

	u64 sum = file_sum();
	ok(blk_request(&d, blk, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, 1024,
		       VRING_DESC_F_WRITE) == VIRTIO_BLK_S_IOERR,
	   "virtio-blk: read across the end: IOERR");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, DISK_SECTORS, 512, 0) ==
	   VIRTIO_BLK_S_IOERR, "virtio-blk: write past the end: IOERR");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, ~0ull, 512, 0) ==
	   VIRTIO_BLK_S_IOERR, "virtio-blk: write at sector 2^64-1: IOERR");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 1, 100, 0) ==
	   VIRTIO_BLK_S_IOERR, "virtio-blk: write of 100 bytes: IOERR");
	struct stat st;
	stat(disk_path, &st);
	ok(file_sum() == sum && st.st_size == DISK_SECTORS * 512,
	   "virtio-blk: failed requests left the file as it was");

	memset(data, 0x77, 512);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_IN, 0, 512, 0) ==
	   VIRTIO_BLK_S_IOERR && data[0] == 0x77 && data[511] == 0x77,
	   "virtio-blk: read into a device-readable buffer refused, buffer "
	   "untouched");

	ok(blk_request(&d, blk, VIRTIO_BLK_T_GET_ID, 0, 20,
		       VRING_DESC_F_WRITE) == VIRTIO_BLK_S_OK &&
	   !memcmp(data, strrchr(disk_path, '/') + 1, 18),
	   "virtio-blk: GET_ID gives the file name");
	ok(blk_request(&d, blk, 99, 0, 0, 0) == VIRTIO_BLK_S_UNSUPP,
	   "virtio-blk: unknown request type: UNSUPP");

	struct virtio_blk_discard_write_zeroes *r = (void *)data;
	*r = (struct virtio_blk_discard_write_zeroes){ 20, 4, 0 };
	ok(blk_request(&d, blk, VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(*r), 0)
	   == VIRTIO_BLK_S_OK, "virtio-blk: write-zeroes OK");
	file_read(20 * 512, buf, 1024);
	same = true;
	for (int i = 0; i < 1024; i++)
		same &= buf[i] == 0;
	file_read(19 * 512 + 511, buf, 1);
	ok(same && buf[0] == pattern(19 * 512 + 511),
	   "virtio-blk: write-zeroes zeroed sectors 20-23 only");
	*r = (struct virtio_blk_discard_write_zeroes){ 40, 8, 0 };
	ok(blk_request(&d, blk, VIRTIO_BLK_T_DISCARD, 0, sizeof(*r), 0) ==
	   VIRTIO_BLK_S_OK, "virtio-blk: discard OK");

	/* The same read through an indirect table. */
	u16 idx = used_idx(&d);
	struct virtio_blk_outhdr hdr = { VIRTIO_BLK_T_IN, 0, 5 };
	memcpy(gp(&d, HDR_GPA, 16), &hdr, 16);
	set_desc(&d, INDIRECT_GPA, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&d, INDIRECT_GPA, 1, DATA_GPA, 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(&d, INDIRECT_GPA, 2, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	set_desc(&d, d.desc, 3, INDIRECT_GPA, 48, VRING_DESC_F_INDIRECT, 0);
	drv_kick(&d, 0, 3);
	virtio_blk_quiesce(blk);
	ok(used_idx(&d) == (u16)(idx + 1) && *(u8 *)gp(&d, STATUS_GPA, 1) == 0
	   && data[0] == pattern(5 * 512) && data[511] == pattern(5 * 512 +
								   511),
	   "virtio-blk: read through an indirect table");
	ok(!guest_killed(d.m), "virtio-blk: the guest is alive after all that");
	drv_free(&d);
	unlink(disk_path);
}

/*
 * DMA into code: the machine's CPU runs a few instructions at DATA_GPA
 * (the translator makes a block of them), then a disk read puts other
 * code over them, from an I/O thread.  Run again, the CPU must run what
 * the disk brought: the completion reported the buffer (vq_push()), and
 * the translator dropped the block it had made from the old bytes.
 */
static u32 run_code(struct cpu *c)
{
	struct cpu_regs r;
	enum cpu_event ev;

	cpu_reset_flat32(c, DATA_GPA);
	ev = cpu_run(c, 100);
	cpu_get_regs(c, &r);
	return ev == CPU_HALT ? r.gpr[R_EAX] : 0xdeadu;
}

static void test_blk_dma_into_code(void)
{
	static const u8 old_code[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,	/* mov eax, 1 */
		0x83, 0xc0, 0x10,		/* add eax, 0x10 */
		0xf4,				/* hlt */
	};
	static const u8 new_code[] = {
		0xb8, 0x02, 0x00, 0x00, 0x00,	/* mov eax, 2 */
		0x83, 0xc0, 0x20,		/* add eax, 0x20 */
		0xf4,				/* hlt */
	};
	struct cpu_jit_stats st;
	struct virtio_blk *blk;
	struct cpu *c;
	struct drv d;
	u32 first, second;
	int fd;

	make_disk(DISK_SECTORS * 512);
	fd = open(disk_path, O_WRONLY);
	if (fd < 0 || pwrite(fd, new_code, sizeof(new_code), 9 * 512) !=
	    (ssize_t)sizeof(new_code))
		abort();
	close(fd);
	blk = setup_blk(&d, false, F_VERSION_1, 16);
	c = machine_cpu(d.m);
	guest_write(&d.mem, DATA_GPA, old_code, sizeof(old_code));
	first = run_code(c);
	cpu_jit_stats(c, &st);
	ok(first == 0x11 && st.bytes,
	   "DMA into code: the CPU ran the code there (eax %#x), translated "
	   "(%llu bytes)", first, (unsigned long long)st.bytes);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_IN, 9, 512, VRING_DESC_F_WRITE)
	   == VIRTIO_BLK_S_OK, "DMA into code: a disk read over it");
	second = run_code(c);
	cpu_jit_stats(c, &st);
	ok(second == 0x22 && st.drops,
	   "DMA into code: the CPU runs what the disk brought (eax %#x, "
	   "%llu blocks dropped)", second, (unsigned long long)st.drops);
	drv_free(&d);
	unlink(disk_path);
}

/* Fault injection: fdatasync() fails with EIO while fail_fdatasync is
 * set (the test is linked with --wrap=fdatasync and --wrap=pwritev, so
 * blk.c's calls come here).  hold_fdatasync and hold_pwritev make the
 * I/O thread that calls them wait until they are cleared, so a test can
 * keep a request in flight as long as it likes; the counters say what
 * the I/O threads did meanwhile. */
static bool fail_fdatasync;
static int hold_fdatasync, hold_pwritev;
static int fdatasync_calls, pwritev_active;
static bool synced_while_writing;

/* Waits while *flag is set; 10 s at most, so a broken test cannot hang. */
static void hold(const int *flag)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000 && __atomic_load_n(flag, __ATOMIC_SEQ_CST);
	     i++)
		nanosleep(&ms, NULL);
}

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	__atomic_add_fetch(&fdatasync_calls, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pwritev_active, __ATOMIC_SEQ_CST))
		synced_while_writing = true;
	hold(&hold_fdatasync);
	if (fail_fdatasync) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

ssize_t __real_pwritev(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	ssize_t r;

	__atomic_add_fetch(&pwritev_active, 1, __ATOMIC_SEQ_CST);
	hold(&hold_pwritev);
	r = __real_pwritev(fd, iov, n, off);
	__atomic_sub_fetch(&pwritev_active, 1, __ATOMIC_SEQ_CST);
	return r;
}

/* After one failed fdatasync() the kernel may have dropped the pages it
 * could not write, and the next fdatasync() would succeed without them:
 * no later flush may tell the guest its data is safe. */
static void test_blk_flush_failure(void)
{
	struct drv d;
	struct virtio_blk *blk;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1, 16);
	memset(gp(&d, DATA_GPA, 512), 0x3c, 512);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 1, 512, 0) ==
	   VIRTIO_BLK_S_OK && blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0,
					  0) == VIRTIO_BLK_S_OK,
	   "virtio-blk flush failure: a write and a flush, OK");
	fail_fdatasync = true;
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 2, 512, 0) ==
	   VIRTIO_BLK_S_OK && blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0,
					  0) == VIRTIO_BLK_S_IOERR,
	   "virtio-blk flush failure: a flush whose fdatasync fails: IOERR");
	fail_fdatasync = false;
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 3, 512, 0) ==
	   VIRTIO_BLK_S_OK,
	   "virtio-blk flush failure: writes still go to the file");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0) ==
	   VIRTIO_BLK_S_IOERR && blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0,
					     0, 0) == VIRTIO_BLK_S_IOERR,
	   "virtio-blk flush failure: every later flush fails too, though "
	   "fdatasync would now succeed");
	ok(!guest_killed(d.m), "virtio-blk flush failure: the guest runs on");
	drv_free(&d);
	unlink(disk_path);
}

static void test_event_idx(void)
{
	struct drv d;
	struct virtio_blk *blk;
	u16 *used_event;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1 | F_EVENT_IDX, 16);
	used_event = gp(&d, d.avail + 4 + 2 * 16, 2);
	*used_event = 0;
	blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	ok(d.irq[PCI_IRQ_BASE] == 1,
	   "event idx: interrupt when used passes used_event");
	isr_read(&d);
	*used_event = 5;	/* "interrupt me after the 6th" */
	blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	ok(d.irq[PCI_IRQ_BASE] == 0 && used_idx(&d) == 2,
	   "event idx: no interrupt before used_event is reached");
	u16 avail_event;
	memcpy(&avail_event, gp(&d, d.used + 4 + 8 * 16, 2), 2);
	ok(avail_event == 2, "event idx: avail_event published (%u)",
	   avail_event);
	drv_free(&d);

	blk = setup_blk(&d, false, F_VERSION_1, 16);
	*(u16 *)gp(&d, d.avail, 2) = VRING_AVAIL_F_NO_INTERRUPT;
	blk_request(&d, blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	ok(d.irq[PCI_IRQ_BASE] == 0 && used_idx(&d) == 1,
	   "flags: NO_INTERRUPT suppresses the interrupt");
	drv_free(&d);
	unlink(disk_path);
}

/* Request i as descriptors 3i..3i+2: header i, len bytes of data at
 * DATA_GPA + 4096 i (none for a flush), status byte i (past the headers,
 * for i < 128). */
#define STATUSES_GPA	(BUF_GPA + 0x800)

static void post_req(struct drv *d, u16 i, u32 type, u64 sector, u32 len)
{
	struct virtio_blk_outhdr hdr = { type, 0, sector };
	u16 at = 3 * i;

	memcpy(gp(d, HDR_GPA + 16 * i, 16), &hdr, 16);
	*(u8 *)gp(d, STATUSES_GPA + i, 1) = 0xee;
	set_desc(d, d->desc, at, HDR_GPA + 16 * i, 16, VRING_DESC_F_NEXT,
		 at + 1);
	if (len) {
		set_desc(d, d->desc, at + 1, DATA_GPA + 4096 * i, len,
			 VRING_DESC_F_NEXT |
			 (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0),
			 at + 2);
		at++;
	}
	set_desc(d, d->desc, at + 1, STATUSES_GPA + i, 1, VRING_DESC_F_WRITE,
		 0);
	drv_kick(d, 0, 3 * i);
}

static u8 req_status(struct drv *d, u16 i)
{
	return *(u8 *)gp(d, STATUSES_GPA + i, 1);
}

/* Runs the run loop's part (the eventfd) until n requests are used, or
 * for ms milliseconds; the ISR is read after each look, as a driver's
 * interrupt handler would.  Returns the interrupts seen. */
static int poll_used(struct drv *d, u16 n, int ms)
{
	struct timespec tick = { 0, 1000000 };
	int irqs = 0;

	for (int t = 0; t < ms && used_idx(d) < n; t++) {
		nanosleep(&tick, NULL);
		machine_poll(d->m);
		if (d->irq[PCI_IRQ_BASE]) {
			irqs++;
			isr_read(d);
		}
	}
	return irqs;
}

/*
 * Several requests in flight.  Sixteen reads and writes of their own
 * sectors posted at once, answered in one go: each right, byte for byte
 * against the file, for one interrupt.  Then the proof that they are
 * carried out side by side, not one after another: a flush whose
 * fdatasync() is held does not keep three reads posted after it from
 * completing.  And the one order the device keeps (V:217): a flush posted
 * after a write whose pwritev() is held does not call fdatasync() until
 * that write is done.
 */
static void test_blk_parallel(void)
{
	struct drv d;
	struct virtio_blk *blk;
	u8 buf[2048];
	bool right = true;
	u32 id, len;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1 | F_EVENT_IDX, 128);
	for (u16 i = 0; i < 16; i++) {
		memset(gp(&d, DATA_GPA + 4096 * i, 2048), 0x80 + i, 2048);
		post_req(&d, i, i % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			 4 * i, 2048);
	}
	virtio_blk_quiesce(blk);
	for (u16 i = 0; i < 16; i++) {
		const u8 *data = gp(&d, DATA_GPA + 4096 * i, 2048);

		used_elem(&d, i, &id, &len);
		right &= req_status(&d, i) == VIRTIO_BLK_S_OK &&
			 id % 3 == 0 && id / 3 < 16 &&
			 len == (id / 3 % 2 ? 1 : 2049);
		file_read(4 * 512 * i, buf, 2048);
		for (int b = 0; b < 2048; b++)
			right &= i % 2 ? buf[b] == 0x80 + i :
				 data[b] == pattern(4 * 512 * i + b);
	}
	ok(right && used_idx(&d) == 16,
	   "parallel: 16 reads and writes at once, every byte as the file "
	   "has it (%u used)", used_idx(&d));
	ok(d.irq[PCI_IRQ_BASE] == 1 && isr_read(&d) == 1 &&
	   d.irq[PCI_IRQ_BASE] == 0,
	   "parallel: their completions merged, one interrupt");

	__atomic_store_n(&hold_fdatasync, 1, __ATOMIC_SEQ_CST);
	post_req(&d, 16, VIRTIO_BLK_T_FLUSH, 0, 0);
	for (u16 i = 17; i < 20; i++)
		post_req(&d, i, VIRTIO_BLK_T_IN, 40 + i, 512);
	poll_used(&d, 19, 5000);
	right = used_idx(&d) == 19;
	for (u16 i = 16; right && i < 19; i++) {
		used_elem(&d, i, &id, &len);
		right = id != 3 * 16 && len == 513;
	}
	ok(right && req_status(&d, 16) == 0xee &&
	   req_status(&d, 19) == VIRTIO_BLK_S_OK &&
	   *(u8 *)gp(&d, DATA_GPA + 4096 * 19, 1) == pattern(59 * 512),
	   "parallel: three reads complete while a flush before them waits "
	   "in fdatasync (%u used, statuses %#x %#x)", used_idx(&d),
	   req_status(&d, 16), req_status(&d, 19));
	__atomic_store_n(&hold_fdatasync, 0, __ATOMIC_SEQ_CST);
	poll_used(&d, 20, 5000);
	ok(used_idx(&d) == 20 && req_status(&d, 16) == VIRTIO_BLK_S_OK,
	   "parallel: ... and the flush completes when fdatasync returns");

	fdatasync_calls = 0;
	synced_while_writing = false;
	__atomic_store_n(&hold_pwritev, 1, __ATOMIC_SEQ_CST);
	memset(gp(&d, DATA_GPA + 4096 * 20, 512), 0x42, 512);
	post_req(&d, 20, VIRTIO_BLK_T_OUT, 100, 512);
	post_req(&d, 21, VIRTIO_BLK_T_FLUSH, 0, 0);
	poll_used(&d, 21, 200);
	ok(used_idx(&d) == 20 &&
	   !__atomic_load_n(&fdatasync_calls, __ATOMIC_SEQ_CST),
	   "parallel: a flush after a write still in pwritev waits, "
	   "fdatasync not called");
	__atomic_store_n(&hold_pwritev, 0, __ATOMIC_SEQ_CST);
	poll_used(&d, 22, 5000);
	file_read(100 * 512, buf, 512);
	ok(used_idx(&d) == 22 && req_status(&d, 20) == VIRTIO_BLK_S_OK &&
	   req_status(&d, 21) == VIRTIO_BLK_S_OK && fdatasync_calls == 1 &&
	   !synced_while_writing && buf[0] == 0x42 && buf[511] == 0x42,
	   "parallel: ... then the write, then fdatasync: both OK");
	ok(!guest_killed(d.m), "parallel: the guest is alive after all that");
	drv_free(&d);
	unlink(disk_path);
}

static void *release_pwritev(void *unused)
{
	struct timespec t = { 0, 100 * 1000000 };

	(void)unused;
	nanosleep(&t, NULL);
	__atomic_store_n(&hold_pwritev, 0, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Power-off with requests in flight: the machine ends (pci_free()) while
 * eight writes are posted, four held in pwritev() and four still queued
 * behind them.  Every one reaches the file: the guest made them, and was
 * not killed.
 */
static void test_blk_poweroff(void)
{
	struct drv d;
	pthread_t t;
	u8 buf[512];
	bool all = true;

	make_disk(DISK_SECTORS * 512);
	setup_blk(&d, false, F_VERSION_1, 32);
	__atomic_store_n(&hold_pwritev, 1, __ATOMIC_SEQ_CST);
	for (u16 i = 0; i < 8; i++) {
		memset(gp(&d, DATA_GPA + 4096 * i, 512), 0x60 + i, 512);
		post_req(&d, i, VIRTIO_BLK_T_OUT, 64 + i, 512);
	}
	if (pthread_create(&t, NULL, release_pwritev, NULL))
		abort();
	drv_free(&d);
	pthread_join(t, NULL);
	for (u16 i = 0; i < 8; i++) {
		file_read((64 + i) * 512, buf, 512);
		all &= buf[0] == 0x60 + i && buf[511] == 0x60 + i;
	}
	ok(all, "power-off: eight writes in flight (four still queued) all "
	   "reach the file");
	unlink(disk_path);
}

static void test_readonly(void)
{
	struct drv d;
	struct virtio_blk *blk;
	u64 sum;
	u8 *data;

	make_disk(DISK_SECTORS * 512);
	sum = file_sum();
	chmod(disk_path, 0444);
	blk = setup_blk(&d, true, F_VERSION_1, 16);
	data = gp(&d, DATA_GPA, 512);
	memset(data, 0xaa, 512);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 0, 512, 0) ==
	   VIRTIO_BLK_S_IOERR, "read-only: write refused with IOERR");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_IN, 0, 512, VRING_DESC_F_WRITE)
	   == VIRTIO_BLK_S_OK && data[1] == pattern(1),
	   "read-only: read works");
	common_wr(&d, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	ok(common_rd(&d, VIRTIO_PCI_COMMON_DF, 4) & 1u << VIRTIO_BLK_F_RO,
	   "read-only: VIRTIO_BLK_F_RO offered");
	ok(file_sum() == sum, "read-only: the file is unchanged");
	drv_free(&d);
	unlink(disk_path);
}

static void test_bad_files(void)
{
	struct drv d;

	drv_machine(&d);
	ok(virtio_blk_add(d.bus, "/nonexistent/disk.img", false) == -1,
	   "bad file: a missing file is refused");
	ok(virtio_blk_add(d.bus, "/tmp", false) == -1,
	   "bad file: a directory is refused");
	ok(virtio_blk_add(d.bus, "/dev/null", false) == -1,
	   "bad file: a character device is refused");
	make_disk(1000);
	ok(virtio_blk_add(d.bus, disk_path, false) == 0,
	   "odd size: a 1000-byte file is taken (warning printed)");
	ok(cfg_read(&d, 1, PCI_VENDOR_ID, 2) == 0x1af4 && drv_probe(&d, 1) &&
	   machine_mmio_read(d.m, d.device, 4) == 1,
	   "odd size: capacity rounds down to 1 sector");
	ok(virtio_blk_add(d.bus, disk_path, false) == -1,
	   "lock: the same file twice read-write is refused");
	drv_free(&d);
	unlink(disk_path);
}

/*
 * Hostile guests: each case sets up a fresh machine and disk, lets
 * build() write descriptors 0.. and returns the head to kick.
 */
struct hostile {
	const char *what;
	const char *reason;	/* expected in the kill reason */
	u16 qsize;
	u16 (*build)(struct drv *d);
};

static u16 h_outside(struct drv *d)
{
	set_desc(d, d->desc, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(d, d->desc, 1, RAM_SIZE - 256, 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(d, d->desc, 2, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	return 0;
}

static u16 h_far(struct drv *d)
{
	set_desc(d, d->desc, 0, 0x123456789000ull, 16, 0, 0);
	return 0;
}

static u16 h_wrap(struct drv *d)
{
	set_desc(d, d->desc, 0, ~0ull - 15, 0x100, VRING_DESC_F_WRITE, 0);
	return 0;
}

static u16 h_wrap32(struct drv *d)
{
	set_desc(d, d->desc, 0, 0xfffff000u, 0x2000, VRING_DESC_F_WRITE, 0);
	return 0;
}

static u16 h_loop(struct drv *d)
{
	set_desc(d, d->desc, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(d, d->desc, 1, DATA_GPA, 16, VRING_DESC_F_NEXT, 0);
	return 0;
}

static u16 h_self(struct drv *d)
{
	set_desc(d, d->desc, 5, HDR_GPA, 16, VRING_DESC_F_NEXT, 5);
	return 5;
}

static u16 h_long(struct drv *d)
{
	for (u16 i = 0; i < 16; i++)
		set_desc(d, d->desc, i, HDR_GPA, 16, VRING_DESC_F_NEXT,
			 (i + 1) % 16);
	return 0;
}

static u16 h_next_range(struct drv *d)
{
	set_desc(d, d->desc, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 16);
	return 0;
}

static u16 h_head_range(struct drv *d)
{
	(void)d;
	return 200;
}

static u16 h_ind_outside(struct drv *d)
{
	set_desc(d, d->desc, 0, RAM_SIZE - 32, 64, VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static u16 h_ind_nested(struct drv *d)
{
	set_desc(d, INDIRECT_GPA, 0, INDIRECT_GPA + 0x100, 32,
		 VRING_DESC_F_INDIRECT, 0);
	set_desc(d, d->desc, 0, INDIRECT_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static u16 h_ind_loop(struct drv *d)
{
	set_desc(d, INDIRECT_GPA, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(d, INDIRECT_GPA, 1, HDR_GPA, 16, VRING_DESC_F_NEXT, 0);
	set_desc(d, d->desc, 0, INDIRECT_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static u16 h_ind_len(struct drv *d)
{
	set_desc(d, d->desc, 0, INDIRECT_GPA, 40, VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static u16 h_ind_huge(struct drv *d)
{
	set_desc(d, d->desc, 0, INDIRECT_GPA, 16 * 4096,
		 VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static u16 h_order(struct drv *d)
{
	set_desc(d, d->desc, 0, STATUS_GPA, 1,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(d, d->desc, 1, DATA_GPA, 512, VRING_DESC_F_NEXT, 2);
	set_desc(d, d->desc, 2, HDR_GPA, 16, 0, 0);
	return 0;
}

static u16 h_no_status(struct drv *d)
{
	struct virtio_blk_outhdr hdr = { VIRTIO_BLK_T_OUT, 0, 0 };

	memcpy(gp(d, HDR_GPA, 16), &hdr, 16);
	set_desc(d, d->desc, 0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(d, d->desc, 1, DATA_GPA, 512, 0, 0);
	return 0;
}

static const struct hostile hostile[] = {
	{ "buffer reaching past the end of RAM", "outside guest memory",
	  16, h_outside },
	{ "buffer at a 64-bit address", "outside guest memory", 16, h_far },
	{ "buffer whose length wraps 2^64", "outside guest memory", 16,
	  h_wrap },
	{ "buffer whose length wraps 4 GiB", "outside guest memory", 16,
	  h_wrap32 },
	{ "descriptor chain loop", "loops", 16, h_loop },
	{ "descriptor pointing at itself", "loops", 16, h_self },
	{ "chain longer than the queue", "loops", 16, h_long },
	{ "next index out of range", "out of range", 16, h_next_range },
	{ "head index out of range", "out of range", 16, h_head_range },
	{ "indirect table outside RAM", "outside guest memory", 16,
	  h_ind_outside },
	{ "nested indirect table", "inside an indirect", 16, h_ind_nested },
	{ "loop in an indirect table", "loops", 16, h_ind_loop },
	{ "indirect table length not a multiple of 16", "indirect table",
	  16, h_ind_len },
	{ "indirect table longer than the queue maximum", "indirect table",
	  16, h_ind_huge },
	{ "readable buffer after a writable one", "device-readable", 16,
	  h_order },
	{ "request without a status byte", "status", 16, h_no_status },
};

static void test_hostile(const struct hostile *h)
{
	struct drv d;
	struct virtio_blk *blk;
	u64 sum;

	make_disk(DISK_SECTORS * 512);
	sum = file_sum();
	blk = setup_blk(&d, false, F_VERSION_1 | F_INDIRECT, h->qsize);
	drv_kick(&d, 0, h->build(&d));
	virtio_blk_quiesce(blk);
	ok(guest_killed(d.m) && strstr(kill_reason, h->reason) &&
	   used_idx(&d) == 0 && file_sum() == sum,
	   "hostile: %s: killed (\"%s\"), file unchanged", h->what,
	   kill_reason);
	/* A killed guest's queue stays dead, even if kicked again. */
	drv_kick(&d, 0, 0);
	virtio_blk_quiesce(blk);
	ok(used_idx(&d) == 0, "hostile: %s: no work after the kill",
	   h->what);
	drv_free(&d);
	unlink(disk_path);
}

static void test_bad_queues(void)
{
	struct drv d;
	u16 qmax;

	make_disk(DISK_SECTORS * 512);
	setup_blk(&d, false, F_VERSION_1, 12);
	ok(guest_killed(d.m) && strstr(kill_reason, "not a power of two"),
	   "hostile: queue size 12: killed (\"%s\")", kill_reason);
	drv_free(&d);

	/* Twice what the disk offers (queue_size, read before the driver
	 * writes it). */
	drv_machine(&d);
	virtio_blk_open(d.bus, disk_path, false);
	drv_probe(&d, 1);
	common_wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	qmax = common_rd(&d, VIRTIO_PCI_COMMON_Q_SIZE, 2);
	drv_free(&d);
	setup_blk(&d, false, F_VERSION_1, 2 * qmax);
	ok(qmax >= 256 && guest_killed(d.m) && strstr(kill_reason, "larger"),
	   "hostile: queue size %u, over the maximum %u: killed (\"%s\")",
	   2 * qmax, qmax, kill_reason);
	drv_free(&d);

	drv_machine(&d);
	virtio_blk_open(d.bus, disk_path, false);
	drv_probe(&d, 1);
	drv_negotiate(&d, F_VERSION_1);
	common_wr(&d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	common_wr(&d, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	common_wr(&d, VIRTIO_PCI_COMMON_Q_DESCLO, RAM_SIZE - 64, 4);
	common_wr(&d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	ok(guest_killed(d.m) && strstr(kill_reason, "outside guest memory"),
	   "hostile: descriptor table past the end of RAM: killed (\"%s\")",
	   kill_reason);
	drv_free(&d);

	struct virtio_blk *blk = setup_blk(&d, false, F_VERSION_1, 16);
	u16 jump = 40;
	memcpy(gp(&d, d.avail + 2, 2), &jump, 2);
	machine_mmio_write(d.m, d.notify, 0, 2);
	virtio_blk_quiesce(blk);
	ok(guest_killed(d.m) && strstr(kill_reason, "jumped"),
	   "hostile: available index jumps by 40: killed (\"%s\")",
	   kill_reason);
	drv_free(&d);

	blk = setup_blk(&d, false, F_VERSION_1, 16);
	set_desc(&d, d.desc, 0, INDIRECT_GPA, 48, VRING_DESC_F_INDIRECT, 0);
	drv_kick(&d, 0, 0);
	virtio_blk_quiesce(blk);
	ok(guest_killed(d.m) && strstr(kill_reason, "not negotiated"),
	   "hostile: indirect descriptor not negotiated: killed (\"%s\")",
	   kill_reason);
	drv_free(&d);
	unlink(disk_path);
}

/* A flush as descriptors 2*head and 2*head+1, made available on head. */
static void post_flush(struct drv *d, u16 head)
{
	struct virtio_blk_outhdr hdr = { VIRTIO_BLK_T_FLUSH, 0, 0 };

	memcpy(gp(d, HDR_GPA, sizeof(hdr)), &hdr, sizeof(hdr));
	set_desc(d, d->desc, 2 * head, HDR_GPA, sizeof(hdr),
		 VRING_DESC_F_NEXT, 2 * head + 1);
	set_desc(d, d->desc, 2 * head + 1, STATUS_GPA + head, 1,
		 VRING_DESC_F_WRITE, 0);
	drv_kick(d, 0, 2 * head);
}

/*
 * Requests in flight are bounded by the queue's size: a head the device
 * still holds may not be offered again.  Completions reach the used ring
 * only when the run loop hands them back (virtio_blk_quiesce() here), so
 * until then every request posted is in flight.
 */
static void test_inflight(void)
{
	struct drv d;
	struct virtio_blk *blk;
	bool alive = true;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1, 16);
	for (u16 i = 0; i < 8; i++)
		post_flush(&d, i);
	virtio_blk_quiesce(blk);
	for (int round = 0; round < 3; round++) {
		for (u16 i = 0; i < 8; i++)
			post_flush(&d, i);
		virtio_blk_quiesce(blk);
		alive &= !guest_killed(d.m);
	}
	ok(alive && used_idx(&d) == 32,
	   "in flight: a full queue, completed and posted again, is fine "
	   "(%u used)", used_idx(&d));

	post_flush(&d, 0);
	post_flush(&d, 0);
	ok(guest_killed(d.m) && strstr(kill_reason, "still holds"),
	   "hostile: a head posted again while in flight: killed (\"%s\")",
	   kill_reason);
	/* Whatever it posts now, the device takes nothing more. */
	for (int i = 0; i < 1000; i++)
		post_flush(&d, 0);
	virtio_blk_quiesce(blk);
	ok(used_idx(&d) == 32, "hostile: ... and nothing more is taken (%u "
	   "used)", used_idx(&d));
	drv_free(&d);

	/* A reset gives every head back to the driver. */
	blk = setup_blk(&d, false, F_VERSION_1, 16);
	for (u16 i = 0; i < 8; i++)
		post_flush(&d, i);
	common_wr(&d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	memset(gp(&d, d.avail, 6 + 2 * 16), 0, 6 + 2 * 16);
	drv_negotiate(&d, F_VERSION_1);
	drv_queue(&d, 0, 16);
	drv_driver_ok(&d);
	for (u16 i = 0; i < 8; i++)
		post_flush(&d, i);
	virtio_blk_quiesce(blk);
	ok(!guest_killed(d.m) && used_idx(&d) == 8,
	   "in flight: after a reset the same heads are taken again (%u "
	   "used%s%s)", used_idx(&d), *kill_reason ? ", " : "", kill_reason);
	drv_free(&d);
	unlink(disk_path);
}

/*
 * A reset with a backlog: 64 requests (32 writes of 256 KiB to their own
 * regions, each followed by a FLUSH) posted at once, then the driver
 * resets the device.  The I/O thread finishes the one it is carrying out;
 * the rest are dropped, not carried out first (the guest never heard of
 * them, and a reset abandons them), so the reset does not wait on a
 * backlog and most regions stay untouched.
 */
static void test_reset_backlog(void)
{
	const u64 hdrs = 0x300000, status = 0x301000, data = 0x400000;
	const u32 chunk = 256 * 1024;
	struct drv d;
	struct timespec t0, t1;
	u8 first;
	int fd, written = 0;
	double ms;

	strcpy(disk_path, "/tmp/lguest-virtio-XXXXXX");
	fd = mkstemp(disk_path);
	if (fd < 0 || ftruncate(fd, 32ull * chunk) < 0)
		abort();
	close(fd);
	setup_blk(&d, false, F_VERSION_1, 256);
	memset(gp(&d, data, chunk), 0xab, chunk);
	for (u16 i = 0; i < 64; i++) {
		struct virtio_blk_outhdr hdr = {
			i % 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT, 0,
			(u64)(i / 2) * chunk / 512
		};
		u16 at = 4 * i;

		memcpy(gp(&d, hdrs + 16 * i, 16), &hdr, 16);
		set_desc(&d, d.desc, at, hdrs + 16 * i, 16, VRING_DESC_F_NEXT,
			 at + 1);
		if (i % 2 == 0) {
			set_desc(&d, d.desc, at + 1, data, chunk,
				 VRING_DESC_F_NEXT, at + 2);
			at++;
		}
		set_desc(&d, d.desc, at + 1, status + i, 1,
			 VRING_DESC_F_WRITE, 0);
		drv_kick(&d, 0, 4 * i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	common_wr(&d, VIRTIO_PCI_COMMON_STATUS, 0, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	for (int r = 0; r < 32; r++) {
		file_read((u64)r * chunk, &first, 1);
		written += first == 0xab;
	}
	ok(!guest_killed(d.m) && written < 32,
	   "virtio-blk: a reset with 64 requests queued drops those not "
	   "started (%d of 32 writes done, reset took %.1f ms)", written, ms);
	drv_free(&d);
	unlink(disk_path);
}

/*
 * Under a file size limit (ulimit -f) smaller than the disk, a write past
 * the limit raises SIGXFSZ, whose default action would end lguest at the
 * guest's say.  It must fail with IOERR instead, and writes below the
 * limit still work.
 */
static void test_fsize_limit(void)
{
	struct rlimit old, lim;
	struct drv d;
	struct virtio_blk *blk;

	make_disk(DISK_SECTORS * 512);
	blk = setup_blk(&d, false, F_VERSION_1, 16);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = DISK_SECTORS * 512 / 2;
	setrlimit(RLIMIT_FSIZE, &lim);
	memset(gp(&d, DATA_GPA, 512), 0x11, 512);
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, 512, 0) ==
	   VIRTIO_BLK_S_IOERR && !guest_killed(d.m),
	   "virtio-blk: a write past ulimit -f: IOERR, lguest lives on");
	ok(blk_request(&d, blk, VIRTIO_BLK_T_OUT, 1, 512, 0) ==
	   VIRTIO_BLK_S_OK, "virtio-blk: ... and one below it works");
	setrlimit(RLIMIT_FSIZE, &old);
	drv_free(&d);
	unlink(disk_path);
}

/*
 * A read of more than 4 GiB: 300 overlapping buffers of all of RAM (the
 * direct chain goes on in an indirect table, since a 256-entry queue
 * alone cannot hold it).  Its used length cannot be told in 32 bits, and
 * no driver may build it (seg_max, size_max): IOERR, used length 1.
 */
static void test_blk_huge(void)
{
	struct drv d;
	struct virtio_blk *blk;
	struct virtio_blk_outhdr hdr = { VIRTIO_BLK_T_IN, 0, 0 };
	u64 disk = 6ull << 30;
	u32 id, len;
	int fd;

	strcpy(disk_path, "/tmp/lguest-virtio-XXXXXX");
	fd = mkstemp(disk_path);
	if (fd < 0 || ftruncate(fd, disk) < 0)
		abort();
	close(fd);
	blk = setup_blk(&d, false, F_VERSION_1 | F_INDIRECT, 256);
	memcpy(gp(&d, HDR_GPA, sizeof(hdr)), &hdr, sizeof(hdr));
	*(u8 *)gp(&d, STATUS_GPA, 1) = 0xee;
	set_desc(&d, d.desc, 0, HDR_GPA, sizeof(hdr), VRING_DESC_F_NEXT, 1);
	for (u16 i = 1; i <= 200; i++)
		set_desc(&d, d.desc, i, 0, RAM_SIZE,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	set_desc(&d, d.desc, 201, INDIRECT_GPA, 101 * 16,
		 VRING_DESC_F_INDIRECT, 0);
	for (u16 i = 0; i < 100; i++)
		set_desc(&d, INDIRECT_GPA, i, 0, RAM_SIZE,
			 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	set_desc(&d, INDIRECT_GPA, 100, STATUS_GPA, 1, VRING_DESC_F_WRITE, 0);
	drv_kick(&d, 0, 0);
	virtio_blk_quiesce(blk);
	used_elem(&d, 0, &id, &len);
	ok(!guest_killed(d.m) && used_idx(&d) == 1 && len == 1 &&
	   *(u8 *)gp(&d, STATUS_GPA, 1) == VIRTIO_BLK_S_IOERR,
	   "virtio-blk: a 4.7 GiB read: IOERR, used length 1 (len %u, status "
	   "%u)", len, *(u8 *)gp(&d, STATUS_GPA, 1));
	drv_free(&d);
	unlink(disk_path);
}

static void test_rng(void)
{
	struct drv d;
	u8 *buf;
	u32 id, len;
	int zeroes = 0;

	drv_machine(&d);
	virtio_rng_add(d.bus);
	drv_probe(&d, 1);
	drv_negotiate(&d, F_VERSION_1);
	drv_queue(&d, 0, 8);
	drv_driver_ok(&d);
	buf = gp(&d, DATA_GPA, 64);
	memset(buf, 0, 64);
	set_desc(&d, d.desc, 0, DATA_GPA, 64, VRING_DESC_F_WRITE, 0);
	drv_kick(&d, 0, 0);
	used_elem(&d, 0, &id, &len);
	for (int i = 0; i < 64; i++)
		zeroes += !buf[i];
	ok(used_idx(&d) == 1 && len == 64 && zeroes < 8,
	   "virtio-rng: a 64-byte buffer filled (%d zero bytes)", zeroes);
	ok(d.irq[PCI_IRQ_BASE] == 1, "virtio-rng: interrupt raised");
	set_desc(&d, d.desc, 0, DATA_GPA, 64, 0, 0);
	memset(buf, 0, 64);
	drv_kick(&d, 0, 0);
	zeroes = 0;
	for (int i = 0; i < 64; i++)
		zeroes += !buf[i];
	used_elem(&d, 1, &id, &len);
	ok(used_idx(&d) == 2 && len == 0 && zeroes == 64,
	   "virtio-rng: a device-readable buffer is not written");
	drv_free(&d);
}

/* The terminal outlives the console, as in lguest's main(): the bus
 * (and the console) first, then the terminal, then the machine. */
static void free_console(struct drv *d, struct term *t)
{
	pci_free(d->bus);
	term_close(t);
	machine_free(d->m);
	guest_mem_free(&d->mem);
}

static void test_console(void)
{
	struct drv d;
	struct term *t;
	int in[2], out[2];
	char buf[64] = "";
	ssize_t n;

	if (pipe(in) || pipe(out))
		abort();
	drv_machine(&d);
	t = term_open(d.m, in[0], out[1]);
	virtio_console_add(d.bus, t, true);
	ok(drv_probe(&d, 1) && cfg_read(&d, 1, PCI_DEVICE_ID, 2) == 0x1043,
	   "virtio-console: 1af4:1043 with its capabilities");
	drv_negotiate(&d, F_VERSION_1);
	drv_queue(&d, 0, 8);
	drv_queue(&d, 1, 8);	/* d's rings are now the transmit queue's */
	drv_driver_ok(&d);
	memcpy(gp(&d, DATA_GPA, 11), "hello hvc0\n", 11);
	set_desc(&d, d.desc, 0, DATA_GPA, 5, VRING_DESC_F_NEXT, 1);
	set_desc(&d, d.desc, 1, DATA_GPA + 5, 6, 0, 0);
	drv_kick(&d, 1, 0);
	machine_run_timers(d.m);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	n = read(out[0], buf, sizeof(buf) - 1);
	ok(n == 11 && !strcmp(buf, "hello hvc0\n") && used_idx(&d) == 1,
	   "virtio-console: what the guest sends reaches the terminal");
	ok(d.irq[PCI_IRQ_BASE] == 1,
	   "virtio-console: transmit completion interrupts");
	free_console(&d, t);
	close(in[1]);
	close(out[0]);
}

/*
 * Found by tests/fuzz (fuzz_virtio_console): the console, the terminal's
 * client, was freed with the bus while the terminal still held its
 * callbacks; the terminal's last flush at exit then called the freed
 * console (use after free) when the guest had filled the output.
 */
static void test_console_exit(void)
{
	struct drv d;
	struct term *t;
	int in[2], out[2];

	if (pipe(in) || pipe(out))
		abort();
	drv_machine(&d);
	t = term_open(d.m, in[0], out[1]);
	virtio_console_add(d.bus, t, true);
	drv_probe(&d, 1);
	drv_negotiate(&d, F_VERSION_1);
	drv_queue(&d, 0, 8);
	drv_queue(&d, 1, 8);
	drv_driver_ok(&d);
	/* 1 MiB of output: more than the terminal holds. */
	set_desc(&d, d.desc, 0, DATA_GPA, MiB, 0, 0);
	drv_kick(&d, 1, 0);
	ok(used_idx(&d) == 0, "virtio-console: 1 MiB of output waits for the "
	   "terminal");
	free_console(&d, t);	/* the last flush finds room again */
	ok(1, "virtio-console: the terminal outlives the console");
	close(in[1]);
	close(out[0]);
}

static u64 fake_now;

static u64 fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

/* A console on a machine with a clock the test moves, output to out_fd,
 * both queues of 64 set up (d's rings are the transmit queue's). */
static struct term *setup_console(struct drv *d, int out_fd)
{
	struct term *t;
	int nul = open("/dev/null", O_RDONLY);

	drv_machine(d);
	machine_set_clock(d->m, fake_clock, NULL);
	t = term_open(d->m, nul, out_fd);
	virtio_console_add(d->bus, t, true);
	if (!drv_probe(d, 1))
		abort();
	drv_negotiate(d, F_VERSION_1 | F_INDIRECT);
	drv_queue(d, 0, 64);
	drv_queue(d, 1, 64);
	drv_driver_ok(d);
	return t;
}

/* Moves the clock on by ms and runs what is due. */
static void console_tick(struct drv *d, int ms)
{
	fake_now += ms * 1000000ull;
	machine_run_timers(d->m);
}

/*
 * Output whose reader has gone (EPIPE): the terminal takes everything
 * from then on, and a guest sending 16 chains of 64 overlapping buffers
 * of all its RAM (16 GiB) must cost the host a few calls per buffer, not
 * a copy of every byte.
 */
static void test_console_broken(void)
{
	struct drv d;
	struct term *t;
	struct timespec t0, t1;
	int out[2];
	double secs;

	if (pipe(out))
		abort();
	close(out[0]);
	t = setup_console(&d, out[1]);
	memcpy(gp(&d, DATA_GPA, 1), "x", 1);
	set_desc(&d, d.desc, 0, DATA_GPA, 1, 0, 0);
	drv_kick(&d, 1, 0);
	console_tick(&d, 1);
	ok(used_idx(&d) == 1, "virtio-console: output to a pipe nobody "
	   "reads: the chain still completes");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (u16 h = 0; h < 16; h++) {
		u64 table = INDIRECT_GPA + h * 64 * 16;

		for (u16 i = 0; i < 64; i++)
			set_desc(&d, table, i, 0, RAM_SIZE,
				 i < 63 ? VRING_DESC_F_NEXT : 0, i + 1);
		set_desc(&d, d.desc, 1 + h, table, 64 * 16,
			 VRING_DESC_F_INDIRECT, 0);
		drv_kick(&d, 1, 1 + h);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(used_idx(&d) == 17 && !guest_killed(d.m) && secs < 1.0,
	   "hostile: 16 GiB of console output with no reader: done in "
	   "%.3f s", secs);
	free_console(&d, t);
	close(out[1]);
}

/* A chain larger than the terminal's buffer, in three pieces, reaches a
 * slow file whole and in order as room comes. */
static void test_console_pieces(void)
{
	char path[] = "/tmp/lguest-hvc-XXXXXX";
	int fd = mkstemp(path);
	struct drv d;
	struct term *t;
	u8 *data, *back;
	bool same;
	int rounds;

	if (fd < 0)
		abort();
	t = setup_console(&d, fd);
	data = gp(&d, DATA_GPA, 150000);
	for (u32 i = 0; i < 150000; i++)
		data[i] = (u8)(i * 13 + (i >> 10));
	set_desc(&d, d.desc, 0, DATA_GPA, 40000, VRING_DESC_F_NEXT, 1);
	set_desc(&d, d.desc, 1, DATA_GPA + 40000, 70000, VRING_DESC_F_NEXT,
		 2);
	set_desc(&d, d.desc, 2, DATA_GPA + 110000, 40000, 0, 0);
	drv_kick(&d, 1, 0);
	for (rounds = 0; rounds < 100 && used_idx(&d) != 1; rounds++)
		console_tick(&d, 3);
	console_tick(&d, 3);
	back = malloc(150001);
	same = pread(fd, back, 150001, 0) == 150000 &&
	       !memcmp(back, data, 150000);
	ok(used_idx(&d) == 1 && same,
	   "virtio-console: a 150000-byte chain in 3 pieces reaches the "
	   "terminal whole and in order (%d rounds)", rounds);
	free(back);
	free_console(&d, t);
	close(fd);
	unlink(path);
}

int main(void)
{
	test_pci();
	test_negotiation();
	test_blk_io();
	test_blk_flush_failure();
	test_blk_dma_into_code();
	test_event_idx();
	test_blk_parallel();
	test_blk_poweroff();
	test_readonly();
	test_bad_files();
	for (unsigned int i = 0; i < ARRAY_SIZE(hostile); i++)
		test_hostile(&hostile[i]);
	test_bad_queues();
	test_inflight();
	test_reset_backlog();
	test_fsize_limit();
	test_blk_huge();
	test_rng();
	test_console();
	test_console_broken();
	test_console_pieces();
	test_console_exit();
	return tap_failed;
}
