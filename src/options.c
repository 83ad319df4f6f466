/*
 * The command line: one table of options, read by the parser, the
 * validators and --help alike, so the three cannot drift apart.
 *
 * The shape is the original lguest's: options, then <mem> and <kernel>,
 * then the guest kernel's own arguments.  Options may come before, between
 * or after the two positional arguments (getopt_long permuted them in the
 * original); after <kernel>, a word that does not start with "--" belongs to
 * the guest, and a lone "--" hands everything after it to the guest as is.
 * An unknown "--word" after <kernel> is an error, not a kernel argument: a
 * mistyped --inird= should say so, not vanish into the guest's cmdline.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "options.h"

struct opt_desc;
typedef enum opt_action (*opt_fn)(struct options *o,
				  const struct opt_desc *d, const char *val,
				  char *err, size_t errlen);

struct opt_desc {
	const char *name;	/* without the leading "--" */
	char short_name;	/* 0 if none */
	const char *metavar;	/* NULL for an option that takes no value */
	opt_fn apply;
	int dev;		/* enum dev_kind for device options, else -1 */
	const char *help;
};

static enum opt_action fail(char *err, size_t errlen, const char *fmt, ...)
	printf_like(3, 4);

static enum opt_action fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OPT_ERROR;
}

static enum opt_action set_verbose(struct options *o, const struct opt_desc *d,
				   const char *val, char *err, size_t errlen)
{
	(void)d, (void)val, (void)err, (void)errlen;
	o->verbose = true;
	return OPT_RUN;
}

static enum opt_action set_boot_time(struct options *o,
				     const struct opt_desc *d, const char *val,
				     char *err, size_t errlen)
{
	(void)d, (void)val, (void)err, (void)errlen;
	o->boot_time = true;
	return OPT_RUN;
}

static enum opt_action want_help(struct options *o, const struct opt_desc *d,
				 const char *val, char *err, size_t errlen)
{
	(void)o, (void)d, (void)val, (void)err, (void)errlen;
	return OPT_HELP;
}

static enum opt_action want_version(struct options *o,
				    const struct opt_desc *d, const char *val,
				    char *err, size_t errlen)
{
	(void)o, (void)d, (void)val, (void)err, (void)errlen;
	return OPT_VERSION;
}

static enum opt_action no_unpack(struct options *o, const struct opt_desc *d,
				 const char *val, char *err, size_t errlen)
{
	(void)d, (void)val, (void)err, (void)errlen;
	o->unpack = false;
	return OPT_RUN;
}

static enum opt_action no_sandbox(struct options *o,
				  const struct opt_desc *d, const char *val,
				  char *err, size_t errlen)
{
	(void)d, (void)val, (void)err, (void)errlen;
	o->no_sandbox = true;
	return OPT_RUN;
}

/* Whether DIR and NAME exist is sandbox.c's to find out, before the guest
 * starts; here only a second one is refused. */
static enum opt_action set_chroot(struct options *o, const struct opt_desc *d,
				  const char *val, char *err, size_t errlen)
{
	(void)d;
	if (o->chroot_dir)
		return fail(err, errlen, "--chroot given twice");
	o->chroot_dir = val;
	return OPT_RUN;
}

static enum opt_action set_user(struct options *o, const struct opt_desc *d,
				const char *val, char *err, size_t errlen)
{
	(void)d;
	if (o->user)
		return fail(err, errlen, "--user given twice");
	o->user = val;
	return OPT_RUN;
}

static enum opt_action add_initrd(struct options *o, const struct opt_desc *d,
				  const char *val, char *err, size_t errlen)
{
	(void)d;
	if (o->ninitrd == MAX_INITRDS)
		return fail(err, errlen, "--initrd: more than %d given",
			    MAX_INITRDS);
	o->initrd[o->ninitrd++] = val;
	return OPT_RUN;
}

/* Only what the table itself knows is checked here; the rest of a device's
 * value (a disk's ",ro", a NIC's ",mac=") is its constructor's to check,
 * which it does before the guest starts. */
static enum opt_action check_dev_arg(const struct opt_desc *d,
				     const char *val, char *err, size_t errlen)
{
	if (d->dev == DEV_NET_USER && strcmp(val, "user") != 0 &&
	    strncmp(val, "user,", 5) != 0)
		return fail(err, errlen,
			    "--net: '%s' is not a network type (only 'user')",
			    val);
	return OPT_RUN;
}

/* Device options are only recorded here; main() hands each to its device,
 * or refuses it by name if that device is not built. */
static enum opt_action add_dev(struct options *o, const struct opt_desc *d,
			       const char *val, char *err, size_t errlen)
{
	struct dev_request *r;

	int i;

	if (val && check_dev_arg(d, val, err, errlen) == OPT_ERROR)
		return OPT_ERROR;
	/* There is one port 0xf4: asking twice is asking once. */
	for (i = 0; d->dev == DEV_EXIT_PORT && i < o->ndev; i++)
		if (o->dev[i].kind == DEV_EXIT_PORT)
			return OPT_RUN;
	if (o->ndev == MAX_DEVICES)
		return fail(err, errlen, "--%s: more than %d devices",
			    d->name, MAX_DEVICES);
	r = &o->dev[o->ndev++];
	r->kind = d->dev;
	r->opt = d->name;
	r->arg = val;
	return OPT_RUN;
}

/*L:110
 * One table for the parser, the checks and --help, as kvmtool keeps its
 * options: a row names the option, its short form, its value's name (NULL
 * for an option that takes none) and what to do with it.  An option added
 * here is parsed, refused when malformed and listed by --help with no
 * other change; a device option also needs its DEV_* kind and an entry in
 * the launcher's dev_hooks (L:130).  The docs test then insists that the
 * man page list it too, so the three cannot drift apart.
 */
static const struct opt_desc opts[] = {
	{ "verbose", 'v', NULL, set_verbose, -1,
	  "print the memory layout and device events" },
	{ "initrd", 0, "FILE", add_initrd, -1,
	  "the initial RAM disk (Multiboot: a module each)" },
	{ "block", 0, "FILE", add_dev, DEV_BLOCK,
	  "a virtio disk backed by FILE (FILE,ro: read-only)" },
	{ "tunnet", 0, "IPADDR", add_dev, DEV_TUNNET,
	  "a virtio NIC on a host TAP device, host side IPADDR" },
	{ "sharenet", 0, "FILE", add_dev, DEV_SHARENET,
	  "a virtio NIC on the network shared through FILE" },
	{ "net", 0, "user", add_dev, DEV_NET_USER,
	  "a virtio NIC with user-mode networking" },
	{ "rng", 0, NULL, add_dev, DEV_RNG,
	  "a virtio entropy device fed from the host" },
	{ "exit-port", 0, NULL, add_dev, DEV_EXIT_PORT,
	  "on a write of V to port 0xf4, exit with (V << 1) | 1" },
	{ "boot-time", 0, NULL, set_boot_time, -1,
	  "print the time when the guest writes 123 to port 0x440" },
	{ "no-unpack", 0, NULL, no_unpack, -1,
	  "let an XZ bzImage unpack itself in the guest" },
	{ "chroot", 'c', "DIR", set_chroot, -1,
	  "chroot into DIR once the devices are open" },
	{ "user", 'u', "NAME", set_user, -1,
	  "then run as user NAME (uid, gid; no other groups)" },
	{ "no-sandbox", 0, NULL, no_sandbox, -1,
	  "no system call filter (for debugging lguest)" },
	{ "help", 'h', NULL, want_help, -1, "print this help and exit" },
	{ "version", 0, NULL, want_version, -1,
	  "print the version and exit" },
};
/* --help prints the rows in this order, so the order is the manual's. :*/

static const struct opt_desc *find_long(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opts); i++)
		if (strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt_desc *find_short(char c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opts); i++)
		if (opts[i].short_name && opts[i].short_name == c)
			return &opts[i];
	return NULL;
}

int parse_size(const char *s, u64 *bytes)
{
	u64 n = 0, mult = MiB;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (u64)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = KiB;
		p++;
		break;
	case 'm': case 'M':
		p++;
		break;
	case 'g': case 'G':
		mult = GiB;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0' || n > UINT64_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

static enum opt_action set_mem(struct options *o, const char *s,
			       char *err, size_t errlen)
{
	u64 v;

	o->mem_arg = s;
	if (parse_size(s, &v) != 0)
		return fail(err, errlen,
			    "bad memory size '%s': want a number of MiB or "
			    "a size such as 512k, 64m, 1g", s);
	if (v < GUEST_MEM_MIN)
		return fail(err, errlen,
			    "memory size '%s' is too small: at least %llu MiB",
			    s, GUEST_MEM_MIN / MiB);
	if (v > GUEST_MEM_MAX)
		return fail(err, errlen,
			    "memory size '%s' is too large: at most %llu MiB "
			    "(lguest has no RAM above 4 GiB)", s,
			    GUEST_MEM_MAX / MiB);
	if (v % (4 * KiB))
		return fail(err, errlen,
			    "memory size '%s' is not a multiple of 4 KiB", s);
	o->mem = v;
	return OPT_RUN;
}

/* argv[*i] is "--name", "--name=value", or "-c".  Takes the value from the
 * next word when the option needs one and no '=' was given. */
static enum opt_action one_option(struct options *o, int argc, char **argv,
				  int *i, char *err, size_t errlen)
{
	const char *a = argv[*i], *eq = NULL, *val = NULL;
	const struct opt_desc *d;

	if (a[1] == '-') {
		eq = strchr(a + 2, '=');
		d = find_long(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
	} else {
		d = a[2] ? NULL : find_short(a[1]);
	}
	if (!d)
		return fail(err, errlen, "unknown option %.*s (see lguest --help)",
			    eq ? (int)(eq - a) : (int)strlen(a), a);
	if (!d->metavar) {
		if (eq)
			return fail(err, errlen, "--%s takes no value",
				    d->name);
		return d->apply(o, d, NULL, err, errlen);
	}
	if (eq) {
		val = eq + 1;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		return fail(err, errlen, "--%s needs a value (--%s=%s)",
			    d->name, d->name, d->metavar);
	}
	if (!*val)
		return fail(err, errlen, "--%s: empty value", d->name);
	return d->apply(o, d, val, err, errlen);
}

static char *join_args(char **words, int n)
{
	size_t len = 1;
	char *s, *p;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	s = p = malloc(len);
	if (!s)
		abort();
	for (i = 0; i < n; i++) {
		if (!*words[i])
			continue;
		if (p != s)
			*p++ = ' ';
		p = stpcpy(p, words[i]);
	}
	*p = '\0';
	return s;
}

/*L:120
 * The shape is the original's: options anywhere, <mem>, <kernel>, then
 * the guest kernel's own words.  Two rules keep a typing mistake from
 * becoming a silent change to the guest.  After <kernel>, a word that
 * starts with "--" is still ours, and an unknown one is an error: a
 * mistyped --inird=F says so instead of vanishing into the guest's
 * command line.  A lone "--" hands everything after it to the guest as
 * it is, for the rare kernel argument that starts with dashes.  (A single
 * "-x" after <kernel> is the guest's: Linux's init takes such words.)
 * Nothing here opens a file: the loader and each device check their own
 * values, still before the guest starts.
 */
enum opt_action options_parse(struct options *o, int argc, char **argv,
			      char *err, size_t errlen)
{
	char **kargs = calloc((size_t)argc + 1, sizeof(*kargs));
	enum opt_action act = OPT_RUN;
	bool only_words = false;
	int i, npos = 0, nk = 0;

	if (!kargs)
		abort();
	memset(o, 0, sizeof(*o));
	o->unpack = true;
	for (i = 1; i < argc && act == OPT_RUN; i++) {
		const char *a = argv[i];

		if (!only_words && strcmp(a, "--") == 0) {
			only_words = true;
		} else if (!only_words && a[0] == '-' && a[1] == '-') {
			act = one_option(o, argc, argv, &i, err, errlen);
		} else if (!only_words && a[0] == '-' && a[1] && npos < 2) {
			act = one_option(o, argc, argv, &i, err, errlen);
		} else if (npos == 0) {
			npos++;
			act = set_mem(o, a, err, errlen);
		} else if (npos == 1) {
			npos++;
			o->kernel = a;
		} else {
			kargs[nk++] = argv[i];
		}
	}
	if (act == OPT_RUN && npos < 2)
		act = fail(err, errlen, "missing %s (usage: lguest [options] "
			   "<mem> <kernel> [kernel args...])",
			   npos ? "<kernel>" : "<mem> and <kernel>");
	o->cmdline = join_args(kargs, nk);
	free(kargs);
	return act;
}
/* A guest's words are joined with single spaces, as a shell would have
 * passed them to the original launcher. :*/

void options_free(struct options *o)
{
	free(o->cmdline);
	o->cmdline = NULL;
}

void options_usage(FILE *f)
{
	size_t i;

	fprintf(f,
"Usage: lguest [options] <mem> <kernel> [options] [kernel args...]\n"
"\n"
"Boots <kernel>, a Linux bzImage or ELF vmlinux for i386, on a software\n"
"i686 with <mem> of RAM, as the original lguest launcher did; or a\n"
"Multiboot kernel, as qemu -kernel does.\n"
"\n"
"<mem>     a size with an optional k, m or g suffix (either case); a plain\n"
"          number means MiB, as in the original: 64 is 64 MiB.  Between\n"
"          %llu MiB and %llu MiB, a multiple of 4 KiB.\n"
"<kernel>  a bzImage (boot protocol 2.02 or later, 32-bit), an ELF32\n"
"          i386 vmlinux, or a Multiboot (v1) image: ELF32, or flat with\n"
"          the header's address fields.\n"
"kernel args\n"
"          every word after <kernel> that does not start with \"--\", and\n"
"          everything after a lone \"--\", goes to the guest kernel's\n"
"          command line.  Linux also gets console=ttyS0 and panic=-1\n"
"          unless a console= or panic= is given; a Multiboot kernel gets\n"
"          its own path, then these words, as QEMU passes them.\n"
"\n"
"Options (--opt=VALUE or --opt VALUE):\n", GUEST_MEM_MIN / MiB,
		GUEST_MEM_MAX / MiB);
	for (i = 0; i < ARRAY_SIZE(opts); i++) {
		const struct opt_desc *d = &opts[i];
		char left[40];

		snprintf(left, sizeof(left), "%c%c%c --%s%s%s",
			 d->short_name ? '-' : ' ',
			 d->short_name ? d->short_name : ' ',
			 d->short_name ? ',' : ' ', d->name,
			 d->metavar ? "=" : "", d->metavar ? d->metavar : "");
		fprintf(f, "  %-22s %s\n", left, d->help);
	}
	fprintf(f,
"\n"
"A bzImage whose payload is XZ-compressed (Debian's are) is unpacked on the\n"
"host and its vmlinux loaded where it runs (16 MiB up for Debian), which\n"
"saves the guest seconds of decompression; --no-unpack turns that off.\n"
"\n"
"Exit status: 0 when the guest powers off, 1 when it is killed (a triple\n"
"fault, a broken device request) or lguest cannot start it, 2 when it\n"
"resets (a reboot, or a panic with panic=-1), 130 after three ^C.\n"
"With --exit-port: (V << 1) | 1 (low 8 bits) when the guest writes V to\n"
"port 0xf4, as QEMU's isa-debug-exit,iobase=0xf4,iosize=4 does, and only\n"
"then an odd status; lguest's own are even: 0 powered off, 2 reset,\n"
"4 Linux panic, 6 killed, 8 refused (or failed), 130 three ^C.\n");
}

/* --exit-port anywhere among our words (before a lone "--") makes every
 * status of ours even, and it must do so before the first word is parsed:
 * a mistake that comes before --exit-port on the line is refused with an
 * even status too.  A "--exit-port" that is really another option's
 * value only errs on the even side. */
static bool wants_exit_port(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--exit-port") == 0)
			return true;
	return false;
}

void options_parse_or_exit(struct options *o, int argc, char **argv)
{
	char err[256];

	if (wants_exit_port(argc, argv))
		exit_statuses_even();
	switch (options_parse(o, argc, argv, err, sizeof(err))) {
	case OPT_RUN:
		return;
	case OPT_HELP:
		options_usage(stdout);
		exit(0);
	case OPT_VERSION:
		printf("lguest %s\n", LGUEST_VERSION);
		exit(0);
	case OPT_ERROR:
		break;
	}
	die("%s", err);
}
