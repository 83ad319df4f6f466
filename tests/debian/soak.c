/*
 * The soak's compiled workload (tests/debian/soak.sh): built by gcc inside
 * the guest and by the host's gcc, it must print the same line on both.
 * Four children sum squares over their share of a range and send the sums
 * back through pipes; the parent sorts a pseudo-random array and folds it.
 * Forks, pipes, page faults on fresh and copied-on-write memory, 64-bit
 * arithmetic on a 32-bit CPU, qsort's indirect calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 200000

static uint32_t v[N];

static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t squares(uint64_t from, uint64_t to)
{
	uint64_t s = 0, i;

	for (i = from; i < to; i++)
		s += i * i ^ (s >> 7);
	return s;
}

int main(void)
{
	uint64_t total = 0, part, fold = 0;
	uint32_t x = 12345;
	int fd[4][2], k;

	for (k = 0; k < N; k++) {
		x = x * 1103515245u + 12345u;
		v[k] = x;
	}
	for (k = 0; k < 4; k++) {
		if (pipe(fd[k]))
			return 1;
		if (fork() == 0) {
			part = squares(k * 500000ull, (k + 1) * 500000ull);
			if (write(fd[k][1], &part, sizeof(part)) != sizeof(part))
				_exit(1);
			_exit(0);
		}
	}
	qsort(v, N, sizeof(v[0]), cmp);
	for (k = 0; k < N; k++)
		fold = fold * 31 + v[k];
	for (k = 0; k < 4; k++) {
		if (read(fd[k][0], &part, sizeof(part)) != sizeof(part))
			return 1;
		total ^= part + k;
		wait(NULL);
	}
	printf("%016llx %016llx\n", (unsigned long long)total,
	       (unsigned long long)fold);
	return 0;
}
