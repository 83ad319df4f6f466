/*
 * The launcher: where a guest begins.
 *
 * main() reads the command line (options.c), maps the guest's RAM
 * (memory.c), loads the kernel, its initrd and command line into it
 * (boot.c), builds the machine around that RAM with its PC devices and the
 * devices the user asked for, points the CPU at the kernel's entry, and
 * runs it until the guest powers off or is killed.  Every mistake of the
 * user's is found, and reported in one line, before the guest runs an
 * instruction.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "cpu/cpu.h"
#include "hw/bios.h"
#include "hw/exit_port.h"
#include "hw/fw_cfg.h"
#include "hw/pc_testdev.h"
#include "hw/pc.h"
#include "hw/pci.h"
#include "machine.h"
#include "memory.h"
#include "net/virtio_net.h"
#include "options.h"
#include "sandbox.h"
#include "virtio/virtio.h"

/*
 * Devices the user can ask for on the command line.  Each device option is
 * parsed (and its value checked) by options.c; here it meets the code that
 * builds the device.  A device whose code is not part of lguest yet has no
 * add function, and asking for it is refused by name before anything starts:
 * an option is never silently ignored.  Most devices sit on the PCI bus;
 * the few that are plain ports (the exit port) want the machine.
 */
typedef void (*dev_add_fn)(struct machine *m, struct pci_bus *bus,
			   const char *arg);

struct dev_hook {
	dev_add_fn add;		/* NULL: not built yet */
	const char *what;	/* for the refusal */
};

static void add_block(struct machine *m, struct pci_bus *bus,
		      const char *arg)
{
	(void)m;
	/* virtio-blk has already said why, in one line. */
	if (virtio_blk_add_spec(bus, arg) != 0)
		exit(end_status(END_REFUSED));
}

static void add_tunnet(struct machine *m, struct pci_bus *bus,
		       const char *arg)
{
	(void)m;
	virtio_net_add_tap(bus, arg);
}

static void add_sharenet(struct machine *m, struct pci_bus *bus,
			 const char *arg)
{
	(void)m;
	virtio_net_add_sharenet(bus, arg);
}

static void add_net_user(struct machine *m, struct pci_bus *bus,
			 const char *arg)
{
	(void)m;
	virtio_net_add_user(bus, arg);
}

static void add_rng(struct machine *m, struct pci_bus *bus, const char *arg)
{
	(void)m, (void)arg;
	virtio_rng_add(bus);
}

static void add_exit_port(struct machine *m, struct pci_bus *bus,
			  const char *arg)
{
	(void)bus, (void)arg;
	exit_port_init(m);
	pc_testdev_init(m);
	fw_cfg_init(m);
}

/*
 * lguest-asan: a sanitizer's report is lguest failing, and by default it
 * exits with status 1, which a QEMU harness reads as PASS (L:197).  Its
 * status is 10 instead, even and unlike any other of ours, with or without
 * --exit-port.  The sanitizers ask for these functions by name.
 */
#ifdef __SANITIZE_ADDRESS__
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
	return "exitcode=10";
}

const char *__ubsan_default_options(void)
{
	return "exitcode=10";
}
#endif

/*L:130
 * Here the device options meet their code.  options.c has already checked
 * each option's form and kept them in the order the user gave them;
 * add_devices() below walks that list, so the user's order is the PCI
 * slot order, and the guest's driver numbers what it finds in slot order:
 * the first --block is vda, the second vdb, the first network card eth0.
 * A kind whose add function is NULL (none is, today) is refused by name
 * before anything starts, by refuse_missing_devices(), so an option is
 * never silently ignored while a device is still being written.
 */
static const struct dev_hook dev_hooks[] = {
	[DEV_BLOCK]	= { add_block, "the virtio block device" },
	[DEV_TUNNET]	= { add_tunnet, "the TAP network device" },
	[DEV_SHARENET]	= { add_sharenet, "the shared-file network device" },
	[DEV_RNG]	= { add_rng, "the virtio entropy device" },
	[DEV_NET_USER]	= { add_net_user, "user-mode networking" },
	[DEV_EXIT_PORT]	= { add_exit_port, "the test-exit port" },
};
/* The exit port (and the test devices that come with it, D:196) is no
 * PCI device: it claims its ports from the machine directly, which is why
 * every add function is handed both. :*/

static bool exit_port_wanted(const struct options *o)
{
	int i;

	for (i = 0; i < o->ndev; i++)
		if (o->dev[i].kind == DEV_EXIT_PORT)
			return true;
	return false;
}

static void refuse_missing_devices(const struct options *o)
{
	int i;

	for (i = 0; i < o->ndev; i++)
		if (!dev_hooks[o->dev[i].kind].add)
			die("--%s: %s is not built yet", o->dev[i].opt,
			    dev_hooks[o->dev[i].kind].what);
}

/*L:140
 * As the original did, a --tunnet guest is told its address: when the
 * first --tunnet is an IPADDR, "ip=IPADDR+1::IPADDR:255.255.255.0::eth0:off"
 * goes on the kernel's arguments, unless the user gave an ip= of their
 * own.  The original's guest kernel acted on it; Debian's is built without
 * IP autoconfiguration and ignores it, so today it is a note for the
 * guest's init, and our test guest's (guest/init) configures eth0 from
 * it.  The forms tap:NAME and bridge:NAME leave addressing to the user
 * and add nothing. :*/
static void add_tunnet_ip(struct options *o)
{
	char ip[128], *cmd;
	const char *p;
	int i;

	for (p = o->cmdline; *p; p += strcspn(p, " ")) {
		p += strspn(p, " ");
		if (strncmp(p, "ip=", 3) == 0)
			return;
	}
	for (i = 0; i < o->ndev; i++) {
		if (o->dev[i].kind != DEV_TUNNET)
			continue;
		if (!virtio_net_tunnet_ip_arg(o->dev[i].arg, ip, sizeof(ip)))
			return;
		if (asprintf(&cmd, "%s%s%s", o->cmdline, *o->cmdline ? " " : "",
			     ip) < 0)
			abort();
		free(o->cmdline);
		o->cmdline = cmd;
		return;
	}
}

static void add_devices(struct machine *m, struct pci_bus *bus,
			const struct options *o)
{
	int i;

	for (i = 0; i < o->ndev; i++)
		dev_hooks[o->dev[i].kind].add(m, bus, o->dev[i].arg);
}

/*L:200
 * The last thing the launcher does before the machine runs.  Both 32-bit
 * boot protocols, Linux's and Multiboot's, begin alike: flat 4 GiB code
 * and data segments, protected mode, paging and interrupts off, at the
 * entry the loader found.  They differ only in which registers carry a
 * value, and the loader filled in all three: ESI points at boot_params
 * for Linux, EAX holds the Multiboot magic and EBX the information block
 * for Multiboot.  The one that is not used is zero.  From here on the
 * story is the machine's (M:130): main() calls machine_run() and waits.
 * :*/
static void set_entry(struct cpu *c, const struct boot_entry *e)
{
	struct cpu_regs r;

	if (e->long64)
		cpu_reset_long64(c, e->eip, BOOT_PML4_ADDR, BOOT_GDT_ADDR,
				 4 * 8 - 1);
	else
		cpu_reset_flat32(c, e->eip);
	cpu_get_regs(c, &r);
	r.gpr[R_ESI] = e->esi;
	r.gpr[R_EAX] = e->eax;
	r.gpr[R_EBX] = e->ebx;
	cpu_set_regs(c, &r);
}

/*L:100
 * The launcher's whole story is this function, in the order a reader
 * meets the rest of the tour.  It reads the command line (L:110), refusing
 * any mistake of the user's in one line before anything is made; maps the
 * guest's RAM (M:100); loads the kernel, its initrd and command line
 * (L:150); builds the machine around that RAM, with the PC devices every
 * guest gets (D:100), the PCI bus (D:200) and the devices the user asked
 * for (L:130); points the CPU at the kernel's entry (L:200); gives up
 * what it no longer needs (L:210: --chroot, --user, the system call
 * filter); and runs it (M:240) until the guest powers off, resets, is
 * killed or the user stops it.  The status machine_run() returns is
 * lguest's exit status (M:150).
 *
 * The virtio console comes last, after the user's devices, so that it
 * never moves their PCI slots.  It shares the terminal with the serial
 * port: both print to it, and exactly one takes the keys.  hvc0 takes them
 * when the last console= on the kernel's command line is hvc0 (the
 * kernel's /dev/console is then hvc0); otherwise ttyS0 keeps them, as it
 * does by default, and hvc0 is output only.
 */
int main(int argc, char **argv)
{
	struct options o;
	struct guest_mem mem;
	struct boot_entry entry;
	struct boot_layout layout;
	struct boot_args ba;
	struct machine *m;
	struct pci_bus *bus;
	struct term *term = NULL;
	int status;

	/* A file size limit (RLIMIT_FSIZE) is an error to handle, EFBIG,
	 * not a death: a disk write past it fails that request (V:215, and
	 * virtio-blk ignores SIGXFSZ itself too), a translator arena past
	 * it leaves the interpreter to run alone. */
	signal(SIGXFSZ, SIG_IGN);
	options_parse_or_exit(&o, argc, argv);
	lguest_verbose = o.verbose;
	refuse_missing_devices(&o);
	sandbox_check(&o);
	add_tunnet_ip(&o);

	if (guest_mem_init(&mem, o.mem) != 0)
		die_errno("cannot map %s of guest memory", o.mem_arg);

	ba.kernel = o.kernel;
	ba.initrd = o.initrd;
	ba.ninitrd = o.ninitrd;
	ba.cmdline = o.cmdline;
	ba.unpack = o.unpack;
	ba.mark_panic = exit_port_wanted(&o);
	boot_kernel(&mem, &ba, &entry, &layout);
	boot_print_layout(&mem, &layout);
	verbose("entry 0x%08x, eax 0x%08x, ebx 0x%08x, esi 0x%08x", entry.eip,
		entry.eax, entry.ebx, entry.esi);

	m = machine_new(&mem);
	if (layout.panic_mark)
		machine_mark_panics(m);
	pc_init_with(m, &(struct pc_options){ .boot_time = o.boot_time,
					      .term = &term });
	if (layout.multiboot)
		bios_multiboot_state(m, layout.image_start, layout.image_end);
	bus = pci_init(m);
	add_devices(m, bus, &o);
	if (term)
		virtio_console_add(bus, term, linux_console_is_hvc0(o.cmdline));
	set_entry(machine_cpu(m), &entry);
	sandbox_enter(&o);
	status = machine_run(m);
	pci_free(bus);
	machine_free(m);
	guest_mem_free(&mem);
	options_free(&o);
	return status;
}
/* Everything is freed on the way out: the PCI devices (a disk's I/O
 * thread is stopped), then the machine, whose cleanups include giving the
 * terminal back (D:170), so that a run under a test harness or a leak
 * checker ends clean. :*/
