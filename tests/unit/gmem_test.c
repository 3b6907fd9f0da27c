/* gmem: region validation, memfd mapping, and gpa -> pointer translation at every edge. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gmem.h"

#define MEMFD_SIZE (1ULL << 20)

TestSuite(gmem);

static int memfd_new(uint64_t size)
{
	int fd = memfd_create("gmem-test", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Two regions like main lays out: low RAM, then high RAM after a hole. */
static const struct gmem_region two[] = {
    {.gpa = 0, .size = 0x40000, .offset = 0},
    {.gpa = 0x100000, .size = 0x40000, .offset = 0x40000},
};

Test(gmem, maps_memfd_shared_and_translates)
{
	int fd = memfd_new(MEMFD_SIZE);
	struct gmem g;
	uint8_t *view, *p;

	cr_assert_eq(gmem_map(&g, fd, two, 2), 0);
	view = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(view, MAP_FAILED);
	close(fd); /* gmem keeps its mapping, not the fd */
	p = gmem_ptr(&g, 0x10, 4);
	cr_assert_not_null(p);
	memcpy(p, "abcd", 4);
	cr_assert_eq(memcmp(view + 0x10, "abcd", 4), 0);
	p = gmem_ptr(&g, 0x100008, 1);
	cr_assert_not_null(p);
	*p = 0x5a;
	cr_assert_eq(view[0x40008], 0x5a);
	munmap(view, MEMFD_SIZE);
	gmem_unmap(&g);
	cr_assert_null(gmem_ptr(&g, 0, 1));
	gmem_unmap(&g); /* a second unmap is harmless */
}

Test(gmem, maps_unaligned_offsets)
{
	const struct gmem_region r = {.gpa = 0x1000, .size = 0x100, .offset = 0x2001};
	int fd = memfd_new(MEMFD_SIZE);
	uint8_t byte = 0x77;
	struct gmem g;

	cr_assert_eq(pwrite(fd, &byte, 1, 0x2001 + 5), 1);
	cr_assert_eq(gmem_map(&g, fd, &r, 1), 0);
	cr_assert_eq(*(uint8_t *)gmem_ptr(&g, 0x1005, 1), 0x77);
	gmem_unmap(&g);
	close(fd);
}

static void expect_map_einval(const struct gmem_region *r, unsigned int n)
{
	int fd = memfd_new(MEMFD_SIZE);
	struct gmem g;

	cr_expect_eq(gmem_map(&g, fd, r, n), -EINVAL);
	cr_expect_eq(g.n, 0);
	cr_expect_null(gmem_ptr(&g, r[0].gpa, 1));
	close(fd);
}

Test(gmem, rejects_region_count)
{
	struct gmem_region five[5] = {
	    {0, 0x1000, 0},	 {0x1000, 0x1000, 0}, {0x2000, 0x1000, 0},
	    {0x3000, 0x1000, 0}, {0x4000, 0x1000, 0},
	};

	expect_map_einval(five, 0);
	expect_map_einval(five, 5);
}

Test(gmem, rejects_bad_regions)
{
	const struct gmem_region zero = {.gpa = 0, .size = 0, .offset = 0};
	const struct gmem_region gpa_wrap = {.gpa = UINT64_MAX - 0xfff, .size = 0x2000};
	const struct gmem_region off_wrap = {
	    .gpa = 0, .size = 0x2000, .offset = UINT64_MAX - 0xfff};
	const struct gmem_region past_end = {
	    .gpa = 0, .size = 0x1000, .offset = MEMFD_SIZE - 0xfff};
	const struct gmem_region too_big = {.gpa = 0, .size = MEMFD_SIZE + 1};

	expect_map_einval(&zero, 1);
	expect_map_einval(&gpa_wrap, 1);
	expect_map_einval(&off_wrap, 1);
	expect_map_einval(&past_end, 1);
	expect_map_einval(&too_big, 1);
}

Test(gmem, accepts_region_ending_at_end_of_memfd)
{
	const struct gmem_region r = {.gpa = 0x2000, .size = 0x1000, .offset = MEMFD_SIZE - 0x1000};
	int fd = memfd_new(MEMFD_SIZE);
	struct gmem g;

	cr_assert_eq(gmem_map(&g, fd, &r, 1), 0);
	cr_expect_not_null(gmem_ptr(&g, 0x2000, 0x1000));
	gmem_unmap(&g);
	close(fd);
}

Test(gmem, refuses_region_ending_at_top_of_gpa_space)
{
	/* gpa + size == 2^64 wraps to 0: refused like any overflow. */
	const struct gmem_region r = {.gpa = UINT64_MAX - 0xfff, .size = 0x1000};

	expect_map_einval(&r, 1);
}

Test(gmem, rejects_overlapping_regions)
{
	const struct gmem_region partial[] = {{0, 0x2000, 0}, {0x1000, 0x2000, 0x4000}};
	const struct gmem_region same[] = {{0x1000, 0x1000, 0}, {0x1000, 0x1000, 0x2000}};
	const struct gmem_region inside[] = {{0, 0x10000, 0}, {0x3000, 0x1000, 0x20000}};
	const struct gmem_region later[] = {
	    {0, 0x1000, 0},
	    {0x10000, 0x1000, 0x1000},
	    {0x20000, 0x1000, 0x2000},
	    {0x10fff, 0x1000, 0x3000},
	};

	expect_map_einval(partial, 2);
	expect_map_einval(same, 2);
	expect_map_einval(inside, 2);
	expect_map_einval(later, 4);
}

Test(gmem, same_memfd_bytes_twice_is_allowed)
{
	/* Aliasing in the memfd is main's business; only gpa overlap is an error. */
	const struct gmem_region r[] = {{0, 0x1000, 0}, {0x10000, 0x1000, 0}};
	int fd = memfd_new(MEMFD_SIZE);
	struct gmem g;

	cr_assert_eq(gmem_map(&g, fd, r, 2), 0);
	cr_assert_eq(gmem_ptr(&g, 0x10, 1), (uint8_t *)gmem_ptr(&g, 0x10010, 1));
	gmem_unmap(&g);
	close(fd);
}

Test(gmem, rejects_bad_fds)
{
	struct gmem g;
	int p[2];

	cr_assert_eq(gmem_map(&g, -1, two, 2), -EBADF);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(gmem_map(&g, p[0], two, 2), -EINVAL);
	close(p[0]);
	close(p[1]);
}

Test(gmem, ptr_edges)
{
	static uint8_t buf[0x80000];
	struct gmem g;

	cr_assert_eq(gmem_init_buffer(&g, buf, sizeof(buf), two, 2), 0);
	cr_expect_eq(gmem_ptr(&g, 0, 0x40000), buf);
	cr_expect_eq(gmem_ptr(&g, 0x3ffff, 1), buf + 0x3ffff);
	cr_expect_eq(gmem_ptr(&g, 0x100000, 0x40000), buf + 0x40000);
	cr_expect_eq(gmem_ptr(&g, 0x13ffff, 1), buf + 0x7ffff);
	/* straddling the end of a region, in the gap, past the end of RAM */
	cr_expect_null(gmem_ptr(&g, 0x3ffff, 2));
	cr_expect_null(gmem_ptr(&g, 0x40000, 1));
	cr_expect_null(gmem_ptr(&g, 0x80000, 0x10));
	cr_expect_null(gmem_ptr(&g, 0xfffff, 2));
	cr_expect_null(gmem_ptr(&g, 0x13ffff, 2));
	cr_expect_null(gmem_ptr(&g, 0x140000, 1));
	/* from one region through the gap into the next */
	cr_expect_null(gmem_ptr(&g, 0x3f000, 0xc2000));
	/* lengths that wrap gpa + len */
	cr_expect_null(gmem_ptr(&g, 0x10, UINT64_MAX));
	cr_expect_null(gmem_ptr(&g, 0x100010, UINT64_MAX - 0xf));
	cr_expect_null(gmem_ptr(&g, UINT64_MAX, 2));
	cr_expect_null(gmem_ptr(&g, UINT64_MAX, 0));
	/* len 0: just whether gpa is RAM */
	cr_expect_eq(gmem_ptr(&g, 0x3ffff, 0), buf + 0x3ffff);
	cr_expect_null(gmem_ptr(&g, 0x40000, 0));
}

Test(gmem, access_spanning_adjacent_regions_is_refused)
{
	/* Adjacent in gpa and even contiguous in the backing: still two regions. */
	const struct gmem_region r[] = {{0, 0x1000, 0}, {0x1000, 0x1000, 0x1000}};
	static uint8_t buf[0x2000];
	struct gmem g;

	cr_assert_eq(gmem_init_buffer(&g, buf, sizeof(buf), r, 2), 0);
	cr_expect_not_null(gmem_ptr(&g, 0xff0, 0x10));
	cr_expect_not_null(gmem_ptr(&g, 0x1000, 0x10));
	cr_expect_null(gmem_ptr(&g, 0xff0, 0x20));
}

Test(gmem, init_buffer_checks_like_map)
{
	static uint8_t buf[0x1000];
	const struct gmem_region big = {.gpa = 0, .size = 0x1001};
	const struct gmem_region off = {.gpa = 0, .size = 0x800, .offset = 0x801};
	struct gmem g;

	cr_expect_eq(gmem_init_buffer(&g, buf, sizeof(buf), &big, 1), -EINVAL);
	cr_expect_eq(gmem_init_buffer(&g, buf, sizeof(buf), &off, 1), -EINVAL);
	cr_expect_eq(gmem_init_buffer(&g, buf, sizeof(buf), two, 2), -EINVAL);
	cr_expect_eq(gmem_init_buffer(&g, buf, sizeof(buf), NULL, 0), -EINVAL);
	gmem_unmap(&g); /* wrapping never unmaps the caller's buffer */
	buf[0] = 1;
}

Test(gmem, empty_gmem_has_no_ram)
{
	struct gmem g;

	memset(&g, 0, sizeof(g));
	cr_expect_null(gmem_ptr(&g, 0, 0));
	cr_expect_null(gmem_ptr(&g, 0, 1));
}

Test(gmem, reports_mmap_failure)
{
	int fd = memfd_create("gmem-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct gmem g;

	/* A write-sealed memfd refuses a shared writable mapping. */
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, MEMFD_SIZE), 0);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
	cr_expect_eq(gmem_map(&g, fd, two, 2), -EPERM);
	cr_expect_eq(g.n, 0);
	close(fd);
}
