/*
 * Files for the C tests: a scratch directory of test files, made by
 * files_init() and removed by files_done() (kept with KEEP_TMP set in the
 * environment), put_file() to write one there, slurp() to read a whole
 * file back.
 */
#ifndef TESTS_FILES_H
#define TESTS_FILES_H

#include <stdio.h>
#include <stdlib.h>

#include "types.h"

static char files_dir[64];

static inline void files_init(const char *name)
{
	snprintf(files_dir, sizeof(files_dir), "/tmp/lguest-%s-XXXXXX", name);
	if (!mkdtemp(files_dir))
		abort();
}

static inline void files_done(void)
{
	char cmd[128];

	if (getenv("KEEP_TMP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", files_dir);
	if (system(cmd))
		printf("# could not remove %s\n", files_dir);
}

/* The whole of path, or NULL if it cannot be read. */
static inline u8 *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	u8 *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Write data to files_dir/name; the path stays valid for 64 more calls. */
static inline const char *put_file(const char *name, const void *data,
				   size_t len)
{
	static char paths[64][128];
	static int next;
	char *p = paths[next++ % 64];
	FILE *f;

	snprintf(p, sizeof(paths[0]), "%s/%s", files_dir, name);
	f = fopen(p, "wb");
	if (!f || fwrite(data, 1, len, f) != len)
		abort();
	fclose(f);
	return p;
}

#endif
