/*
 * The loader targets' shared part: see fuzz_load.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sanitizer/lsan_interface.h>

#include "fuzz_load.h"
#include "memory.h"
#include "multiboot.h"

void fuzz_file_init(struct fuzz_file *f, const char *name)
{
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0)
		abort();
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

void fuzz_file_set(struct fuzz_file *f, const void *p, size_t len)
{
	if (ftruncate(f->fd, 0) || ftruncate(f->fd, (off_t)len) ||
	    (len && pwrite(f->fd, p, len, 0) != (ssize_t)len))
		abort();
}

#define FD_SCAN 16

/* Which of the FD_SCAN fds from the lowest free one are open: a refused
 * load may leave its own open, as exit() would have closed them. */
static int open_fds(int *lowest, bool open[FD_SCAN])
{
	int fd = dup(0);

	if (fd < 0)
		abort();
	close(fd);
	if (*lowest < 0)
		*lowest = fd;
	for (int i = 0; i < FD_SCAN; i++)
		open[i] = fcntl(*lowest + i, F_GETFD) >= 0;
	return *lowest;
}

/* What a load that returned promises: the CPU starts in RAM, and what it
 * is told about lies in RAM. */
static void check(const struct guest_mem *mem, const struct boot_entry *e,
		  const struct boot_layout *l)
{
	if (e->eip >= mem->size)
		fuzz_fail("entry %#x outside RAM", e->eip);
	if (!guest_range_ok(mem, l->cmdline, l->cmdline_len + 1ull))
		fuzz_fail("command line at %#x+%u", l->cmdline,
			  l->cmdline_len);
	if (l->image_start > l->image_end ||
	    !guest_range_ok(mem, l->image_start,
			    l->image_end - l->image_start))
		fuzz_fail("image at %#x-%#x", l->image_start, l->image_end);
	if (l->initrd_end && (l->initrd_start > l->initrd_end ||
			      l->initrd_end > mem->size))
		fuzz_fail("initrd at %#x-%#x", l->initrd_start,
			  l->initrd_end);
	if (l->multiboot && (e->eax != MULTIBOOT_BOOT_MAGIC ||
			     e->ebx != l->boot_params ||
			     l->boot_params + 0x80ull > 0xa0000))
		fuzz_fail("Multiboot information at %#x", l->boot_params);
	if (!l->multiboot && e->esi != BOOT_PARAMS_ADDR)
		fuzz_fail("boot_params at %#x", e->esi);
}

bool fuzz_load(u64 size, const struct boot_args *a, bool linux_only)
{
	struct linux_args la = {
		.kernel = a->kernel,
		.initrd = a->ninitrd ? a->initrd[0] : NULL,
		.cmdline = a->cmdline,
		.unpack = a->unpack,
	};
	struct guest_mem mem;
	struct boot_entry e;
	struct boot_layout l;
	bool before[FD_SCAN], after[FD_SCAN], loaded;
	int fd = -1;

	if (guest_mem_init(&mem, size))
		abort();
	open_fds(&fd, before);
	__lsan_disable();
	if (linux_only)
		loaded = fuzz_catch_die(boot_linux(&mem, &la, &e, &l));
	else
		loaded = fuzz_catch_die(boot_kernel(&mem, a, &e, &l));
	__lsan_enable();
	if (loaded) {
		fuzz_note("loaded: %s, entry %#x", l.format, e.eip);
		check(&mem, &e, &l);
	} else {
		fuzz_note("refused: %s", fuzz_die_msg);
	}
	open_fds(&fd, after);
	for (int i = 0; i < FD_SCAN; i++)
		if (after[i] && !before[i]) {
			if (loaded)
				fuzz_fail("a load left fd %d open", fd + i);
			close(fd + i);
		}
	guest_mem_free(&mem);
	return loaded;
}
