/*
 * Unit tests for the command line (src/options.c): memory sizes, and a
 * table of whole command lines with what each must become, or the error
 * it must give.
 */
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "options.h"
#include "tap.h"

static const struct {
	const char *s;
	int ok;
	u64 bytes;
} sizes[] = {
	{ "64", 1, 64 * MiB },		/* plain number: MiB, as the original */
	{ "64m", 1, 64 * MiB },
	{ "64M", 1, 64 * MiB },
	{ "512k", 1, 512 * KiB },
	{ "512K", 1, 512 * KiB },
	{ "1g", 1, GiB },
	{ "3G", 1, 3 * GiB },
	{ "0", 1, 0 },
	{ "007m", 1, 7 * MiB },
	{ "", 0, 0 },
	{ "m", 0, 0 },
	{ "12x", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ " 64", 0, 0 },
	{ "64 ", 0, 0 },
	{ "1.5g", 0, 0 },
	{ "64mb", 0, 0 },
	{ "64mm", 0, 0 },
	{ "0x40m", 0, 0 },
	{ "99999999999999999999", 0, 0 },
	{ "18446744073709551615k", 0, 0 },
	{ "17179869184g", 0, 0 },
};

static void test_sizes(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u64 v = 12345;
		int r = parse_size(sizes[i].s, &v);

		if (sizes[i].ok)
			ok(r == 0 && v == sizes[i].bytes,
			   "parse_size(\"%s\") = %llu", sizes[i].s,
			   (unsigned long long)sizes[i].bytes);
		else
			ok(r == -1 && v == 12345,
			   "parse_size(\"%s\") is refused", sizes[i].s);
	}
}

/* A command line, '|'-separated so that words may hold spaces or be empty,
 * and what it must parse to.  err: a piece of the expected message. */
struct cl_case {
	const char *argv;
	enum opt_action act;
	const char *err;
	u64 mem;
	const char *kernel;
	const char *cmdline;
	const char *initrd;	/* first initrd, or NULL */
	const char *devs;	/* "kind:arg kind:arg" in order, or "" */
	int verbose, unpack;
};

#define ERR(a, e) { .argv = (a), .act = OPT_ERROR, .err = (e) }

static const struct cl_case cases[] = {
	{ "64m|vmlinuz", OPT_RUN, NULL, 64 * MiB, "vmlinuz", "", NULL, "",
	  0, 1 },
	{ "--verbose|64|bz|root=/dev/vda|ro", OPT_RUN, NULL, 64 * MiB, "bz",
	  "root=/dev/vda ro", NULL, "", 1, 1 },
	{ "-v|1G|bz", OPT_RUN, NULL, GiB, "bz", "", NULL, "", 1, 1 },
	{ "64m|bz|--initrd=i.img|quiet", OPT_RUN, NULL, 64 * MiB, "bz",
	  "quiet", "i.img", "", 0, 1 },
	{ "64m|bz|--initrd|i.img|quiet", OPT_RUN, NULL, 64 * MiB, "bz",
	  "quiet", "i.img", "", 0, 1 },
	{ "--initrd=i|256M|bz|a|--verbose|b", OPT_RUN, NULL, 256 * MiB, "bz",
	  "a b", "i", "", 1, 1 },
	{ "64m|bz|a|-v|b", OPT_RUN, NULL, 64 * MiB, "bz", "a -v b", NULL, "",
	  0, 1 },
	{ "64m|bz|--|--initrd=x|-v|--", OPT_RUN, NULL, 64 * MiB, "bz",
	  "--initrd=x -v --", NULL, "", 0, 1 },
	{ "--|64m|bz|--verbose", OPT_RUN, NULL, 64 * MiB, "bz", "--verbose",
	  NULL, "", 0, 1 },
	{ "64m|bz|init=/bin/sh x|", OPT_RUN, NULL, 64 * MiB, "bz",
	  "init=/bin/sh x", NULL, "", 0, 1 },
	{ "64m|bz|--block=a.img|--block|b.img,ro|--tunnet=10.0.0.1|"
	  "--sharenet=/tmp/s|--rng|--net=user|--exit-port", OPT_RUN, NULL,
	  64 * MiB, "bz", "", NULL,
	  "0:a.img 0:b.img,ro 1:10.0.0.1 2:/tmp/s 3:- 4:user 5:-", 0, 1 },
	{ "64m|bz|--tunnet=tap:tap0,mac=52:54:00:12:34:56|"
	  "--net=user,hostfwd=tcp::2222-:22", OPT_RUN, NULL, 64 * MiB, "bz",
	  "", NULL, "1:tap:tap0,mac=52:54:00:12:34:56 "
	  "4:user,hostfwd=tcp::2222-:22", 0, 1 },
	{ "--no-unpack|2m|bz", OPT_RUN, NULL, 2 * MiB, "bz", "", NULL, "",
	  0, 0 },
	{ "3g|bz", OPT_RUN, NULL, 3 * GiB, "bz", "", NULL, "", 0, 1 },
	{ "2048k|bz", OPT_RUN, NULL, 2 * MiB, "bz", "", NULL, "", 0, 1 },
	{ "--help", OPT_HELP, NULL, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "-h", OPT_HELP, NULL, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "64m|bz|--help", OPT_HELP, NULL, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "--version", OPT_VERSION, NULL, 0, NULL, NULL, NULL, NULL, 0, 0 },
	ERR("", "missing <mem> and <kernel>"),
	ERR("64m", "missing <kernel>"),
	ERR("--verbose|64m", "missing <kernel>"),
	ERR("abc|bz", "bad memory size 'abc'"),
	ERR("64q|bz", "bad memory size '64q'"),
	ERR("1m|bz", "'1m' is too small: at least 2 MiB"),
	ERR("2047k|bz", "too small"),
	ERR("0|bz", "too small"),
	ERR("4g|bz", "'4g' is too large: at most 3072 MiB"),
	ERR("3073m|bz", "too large"),
	ERR("99999999999999999999|bz", "bad memory size"),
	ERR("4097k|bz", "not a multiple of 4 KiB"),
	ERR("--bogus|64m|bz", "unknown option --bogus"),
	ERR("64m|bz|--inird=x", "unknown option --inird"),
	ERR("-x|64m|bz", "unknown option -x"),
	ERR("-vv|64m|bz", "unknown option -vv"),
	ERR("64m|bz|--initrd", "--initrd needs a value"),
	ERR("64m|bz|--block", "--block needs a value"),
	ERR("64m|bz|--initrd=", "--initrd: empty value"),
	ERR("--verbose=1|64m|bz", "--verbose takes no value"),
	ERR("64m|bz|--rng=yes", "--rng takes no value"),
	ERR("64m|bz|--net=tap", "'tap' is not a network type"),
	ERR("64m|bz|--net=users", "'users' is not a network type"),
	ERR("64m|bz|--exit-port=1", "--exit-port takes no value"),
};

static int split(const char *s, char **argv, char *buf, size_t len)
{
	int n = 0;
	char *p;

	snprintf(buf, len, "%s", s);
	argv[n++] = "lguest";
	if (!*buf)
		return n;
	for (p = buf;; ) {
		char *bar = strchr(p, '|');

		argv[n++] = p;
		if (!bar)
			break;
		*bar = '\0';
		p = bar + 1;
	}
	argv[n] = NULL;
	return n;
}

static void devs_string(const struct options *o, char *out, size_t len)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < o->ndev; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%d:%s",
					 i ? " " : "", o->dev[i].kind,
					 o->dev[i].arg ? o->dev[i].arg : "-");
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_case(const struct cl_case *c)
{
	char buf[512], err[256] = "", devs[256];
	char *argv[32];
	int argc = split(c->argv, argv, buf, sizeof(buf));
	struct options o;
	enum opt_action act = options_parse(&o, argc, argv, err, sizeof(err));

	if (c->act == OPT_ERROR) {
		ok(act == OPT_ERROR && strstr(err, c->err) &&
		   !strchr(err, '\n'),
		   "'%s' is refused: %s", c->argv, err);
	} else if (c->act != OPT_RUN) {
		ok(act == c->act, "'%s' gives action %d", c->argv, c->act);
	} else {
		devs_string(&o, devs, sizeof(devs));
		ok(act == OPT_RUN && o.mem == c->mem &&
		   same(o.kernel, c->kernel) && same(o.cmdline, c->cmdline) &&
		   same(o.ninitrd ? o.initrd[0] : NULL, c->initrd) &&
		   same(devs, c->devs) && o.verbose == c->verbose &&
		   o.unpack == c->unpack,
		   "'%s' -> mem %llu kernel %s cmdline \"%s\" devs \"%s\"",
		   c->argv, (unsigned long long)o.mem, o.kernel, o.cmdline,
		   devs);
	}
	options_free(&o);
}

/* Flags that the case table does not carry. */
static void test_flags(void)
{
	char *plain[] = { "lguest", "64m", "bz", NULL };
	char *bt[] = { "lguest", "64m", "bz", "--boot-time", "quiet", NULL };
	char *twice[] = { "lguest", "--exit-port", "64m", "mb",
			  "--exit-port", "--rng", NULL };
	char err[256];
	struct options o;

	ok(options_parse(&o, 3, plain, err, sizeof(err)) == OPT_RUN &&
	   !o.boot_time, "without --boot-time the mark stays quiet");
	options_free(&o);
	ok(options_parse(&o, 5, bt, err, sizeof(err)) == OPT_RUN &&
	   o.boot_time && strcmp(o.cmdline, "quiet") == 0,
	   "--boot-time after <kernel> is ours, not the kernel's");
	options_free(&o);
	ok(options_parse(&o, 6, twice, err, sizeof(err)) == OPT_RUN &&
	   o.ndev == 2 && o.dev[0].kind == DEV_EXIT_PORT &&
	   o.dev[1].kind == DEV_RNG,
	   "--exit-port twice asks for one exit port");
	options_free(&o);
}

static void test_help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool narrow = true;
	char *line;

	options_usage(f);
	fclose(f);
	ok(strstr(text, "--initrd=FILE") && strstr(text, "--block=FILE") &&
	   strstr(text, "--tunnet=IPADDR") && strstr(text, "--sharenet=FILE") &&
	   strstr(text, "--no-unpack") && strstr(text, "--version") &&
	   strstr(text, "--boot-time") && strstr(text, "--exit-port") &&
	   strstr(text, "--rng") && strstr(text, "--net=user"),
	   "--help lists every option from the table");
	ok(strstr(text, "plain") && strstr(text, "MiB") != NULL,
	   "--help says what a plain number means");
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strlen(line) > 79)
			narrow = false;
	ok(narrow, "--help fits in 80 columns");
	free(text);
}

/* The exit-status table (util.c): without --exit-port the statuses users
 * have always had; with it, every end of lguest's own even and distinct,
 * so that none reads as a QEMU harness's (V << 1) | 1.  Last, because
 * the switch to even statuses is one-way. */
static void test_statuses(void)
{
	static const int plain[] = { 0, 2, 2, 1, 1, 130 };
	bool even = true, distinct = true, same = true;
	int e, f;

	for (e = END_POWEROFF; e <= END_CTRL_C; e++)
		same &= end_status((enum lguest_end)e) == plain[e];
	ok(same, "without --exit-port: 0 off, 2 reset or panic, 1 killed or "
	   "refused, 130 ^C");
	exit_statuses_even();
	for (e = END_POWEROFF; e <= END_CTRL_C; e++) {
		even &= end_status((enum lguest_end)e) % 2 == 0;
		for (f = END_POWEROFF; f < e; f++)
			distinct &= end_status((enum lguest_end)e) !=
				    end_status((enum lguest_end)f);
	}
	ok(even && distinct, "with --exit-port every end of ours has an even "
	   "status of its own");
	ok(end_status(END_POWEROFF) == 0 && end_status(END_RESET) == 2 &&
	   end_status(END_PANIC) == 4 && end_status(END_KILLED) == 6 &&
	   end_status(END_REFUSED) == 8 && end_status(END_CTRL_C) == 130,
	   "with --exit-port: 0 off, 2 reset, 4 panic, 6 killed, 8 refused, "
	   "130 ^C, as lguest(1) says");
}

int main(void)
{
	size_t i;

	test_sizes();
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(&cases[i]);
	test_flags();
	test_help();
	test_statuses();
	return tap_done();
}
