/*
 * A hostile peer on a --sharenet file, for the tests: it opens the file as
 * another guest would and does what DESIGN.md says a peer may do ("Peers
 * are hostile too"), for a given time, then exits 0:
 *
 *	sharenet_hostile MODE FILE SECONDS
 *
 *	garbage		random bytes into every byte of the file, over and over
 *	owners		fake lock owners and fake indices: in each slot's
 *			control page, our own (live) thread id with the
 *			"waiters" bit where a pthread mutex keeps its owner,
 *			random words after it, and impossible lengths and
 *			sequence numbers in every cell's first words
 *	truncate	cut the file to 0 bytes, then grow it back to its size
 *			(zeros), over and over
 *	initlock	hold the lock an opener takes to set the file up
 *			(byte 0), and never let go
 *	waiters		sleep on every word of the first 128 bytes of each
 *			taken slot's control page, 4 threads a word, going
 *			back to sleep at once after a wake-up: a wake-up for
 *			one sleeper goes to us as often as to its owner
 *
 * It knows the file's layout only as far as a peer may assume it: a 4 KiB
 * header, 16 slots of equal size, each opening with a 4 KiB control page,
 * cells of 2 KiB, a slot taken with a lock on byte 1 + slot.  It prints
 * one line saying what it did, for the test's log; SIGTERM ends it early.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096
#define SLOTS		16
#define CELL		2048
#define WORDS_WATCHED	32
#define PER_WORD	4

static uint8_t *map;
static size_t size, slot_size;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	if (stop)
		return 1e18;	/* SIGTERM: every loop ends */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(void)
{
	static __thread uint64_t x = 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static uint32_t *word(int slot, size_t off)
{
	return (uint32_t *)(map + PAGE + slot * slot_size + off);
}

static long garbage(double end)
{
	long passes = 0;

	while (now() < end) {
		uint64_t *p = (uint64_t *)map;

		for (size_t i = 0; i < size / 8; i++)
			__atomic_store_n(&p[i], rnd(), __ATOMIC_RELAXED);
		passes++;
	}
	return passes;
}

static long owners(double end)
{
	uint32_t tid = syscall(SYS_gettid);
	long passes = 0;

	while (now() < end) {
		for (int s = 0; s < SLOTS; s++) {
			/* glibc's mutex: lock word, count, owner, ... */
			__atomic_store_n(word(s, 0), tid | FUTEX_WAITERS,
					 __ATOMIC_RELAXED);
			__atomic_store_n(word(s, 8), tid, __ATOMIC_RELAXED);
			for (size_t o = 12; o < 4 * WORDS_WATCHED + 64; o += 4)
				__atomic_store_n(word(s, o), rnd(),
						 __ATOMIC_RELAXED);
			for (size_t c = PAGE; c < slot_size; c += CELL) {
				uint32_t *w = word(s, c);

				__atomic_store_n(&w[0], rnd() % 3 ? rnd() :
						 0xffffffff, __ATOMIC_RELAXED);
				__atomic_store_n(&w[1], rnd() & 1 ? 100000 :
						 0xfffffff0, __ATOMIC_RELAXED);
			}
		}
		passes++;
		usleep(1000);
	}
	return passes;
}

static long truncate_loop(int fd, double end)
{
	long cuts = 0;

	while (now() < end) {
		if (ftruncate(fd, 0) < 0)
			break;
		cuts++;
		usleep(50000);
		if (ftruncate(fd, size) < 0)
			break;
		usleep(150000);
	}
	return cuts;
}

static long hold_init_lock(int fd, double end)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_SETLKW, &fl) < 0)
		return 0;
	while (now() < end)
		usleep(50000);
	return 1;
}

static long steals;

static void *sleeper(void *arg)
{
	uint32_t *w = arg;
	struct timespec ts = { 0, 200000000 };

	while (!stop) {
		uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);

		if (syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0) == 0)
			__atomic_add_fetch(&steals, 1, __ATOMIC_RELAXED);
		else if (errno == EAGAIN)
			usleep(200);	/* a busy word: do not spin */
	}
	return NULL;
}

static bool slot_taken(int fd, int slot)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1 + slot,
		.l_len = 1,
	};

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static long waiters(int fd, double end, int *nthreads)
{
	static pthread_t t[SLOTS * WORDS_WATCHED * PER_WORD];
	pthread_attr_t a;
	int n = 0;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (int s = 0; s < SLOTS; s++) {
		if (!slot_taken(fd, s))
			continue;
		for (int w = 0; w < WORDS_WATCHED; w++)
			for (int k = 0; k < PER_WORD; k++)
				if (!pthread_create(&t[n], &a, sleeper,
						    word(s, 4 * w)))
					n++;
	}
	while (now() < end)
		usleep(50000);
	stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	*nthreads = n;
	return steals;
}

int main(int argc, char **argv)
{
	struct stat st;
	double end;
	int fd, n = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: sharenet_hostile garbage|owners|"
			"truncate|initlock|waiters FILE SECONDS\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < PAGE + SLOTS * PAGE) {
		fprintf(stderr, "sharenet_hostile: %s: not a sharenet file\n",
			argv[2]);
		return 1;
	}
	size = st.st_size;
	slot_size = (size - PAGE) / SLOTS;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 1;
	signal(SIGTERM, on_term);
	end = now() + atof(argv[3]);
	if (!strcmp(argv[1], "garbage"))
		printf("hostile: garbage: %ld passes over %zu bytes\n",
		       garbage(end), size);
	else if (!strcmp(argv[1], "owners"))
		printf("hostile: owners: %ld passes\n", owners(end));
	else if (!strcmp(argv[1], "truncate"))
		printf("hostile: truncate: cut to 0 and back %ld times\n",
		       truncate_loop(fd, end));
	else if (!strcmp(argv[1], "initlock"))
		printf("hostile: initlock: held %ld\n", hold_init_lock(fd, end));
	else if (!strcmp(argv[1], "waiters")) {
		long s = waiters(fd, end, &n);

		printf("hostile: waiters: %d sleepers took %ld wake-ups\n",
		       n, s);
	} else {
		return 2;
	}
	return 0;
}
