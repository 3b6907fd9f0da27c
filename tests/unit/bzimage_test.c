/* bzImage: setup header validation and loading. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bzimage.h"
#include "kernel_fixtures.h"
#include "layout.h"
#include "memory.h"

#define MEM_SIZE (64ULL << 20)

static uint8_t *k;
static size_t klen;
static char err[256];

static void setup(void)
{
	k = fake_bzimage(&klen);
	err[0] = 0;
}

static void teardown(void)
{
	free(k);
}

TestSuite(bzimage, .init = setup, .fini = teardown);

Test(bzimage, good_header_passes)
{
	cr_assert(bzimage_probe(k, klen));
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), 0, "%s", err);
}

Test(bzimage, truncated_header)
{
	cr_assert_eq(bzimage_check(k, 0x240, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "truncated bzImage"), "%s", err);
	cr_assert_not(bzimage_probe(k, 0x204));
}

Test(bzimage, wrong_magic)
{
	memcpy(k + 0x202, "HdrT", 4);
	cr_assert_not(bzimage_probe(k, klen));
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "HdrS"), "%s", err);
}

Test(bzimage, wrong_boot_flag)
{
	put16(k, 0x1fe, 0x1234);
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "boot flag"), "%s", err);
}

Test(bzimage, protocol_too_old)
{
	put16(k, 0x206, 0x020b);
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "bzImage boot protocol 2.11 is too old: the 64-bit entry needs 2.12 "
			      "or later");
}

Test(bzimage, no_64bit_entry)
{
	put16(k, 0x236, 0x2);
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "XLF_KERNEL_64"), "%s", err);
}

Test(bzimage, not_loaded_high)
{
	put8(k, 0x211, 0);
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "LOADED_HIGH"), "%s", err);
}

Test(bzimage, truncated_payload)
{
	cr_assert_eq(bzimage_check(k, klen - 16, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "truncated bzImage"), "%s", err);
}

Test(bzimage, all_setup_no_kernel)
{
	put8(k, 0x1f1, 40); /* 41 sectors of setup: more than the file */
	cr_assert_eq(bzimage_check(k, klen, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "truncated bzImage"), "%s", err);
}

static uint8_t *mem_new(struct guest_mem *m, uint64_t size)
{
	uint8_t *buf = calloc(1, size);

	cr_assert_not_null(buf);
	guest_mem_wrap(m, buf, size);
	return buf;
}

static void assert_payload_at(const uint8_t *mem, uint64_t gpa)
{
	size_t i;

	for (i = 0; i < FAKE_BZ_PAYLOAD; i++)
		cr_assert_eq(mem[gpa + i], fake_payload_byte(i), "byte %zu", i);
}

Test(bzimage, loads_at_pref_address)
{
	struct bzimage_info info;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	cr_assert_eq(bzimage_load(&m, k, klen, &info, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(info.load_addr, FAKE_BZ_PREF);
	cr_assert_eq(info.entry, FAKE_BZ_PREF + 0x200);
	cr_assert_eq(info.end, FAKE_BZ_PREF + FAKE_BZ_INIT_SIZE);
	cr_assert_eq(info.hdr.code32_start, FAKE_BZ_PREF);
	cr_assert_eq(info.hdr_len, 0x26c - 0x1f1);
	cr_assert_eq(info.initrd_end, 0x80000000ULL);
	cr_assert_eq(info.cmdline_max, 2047);
	assert_payload_at(mem, FAKE_BZ_PREF);
	free(mem);
}

Test(bzimage, setup_sects_zero_means_four)
{
	struct bzimage_info info;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	put8(k, 0x1f1, 0);
	cr_assert_eq(bzimage_load(&m, k, klen, &info, err, sizeof(err)), 0, "%s", err);
	assert_payload_at(mem, info.load_addr);
	free(mem);
}

Test(bzimage, no_pref_address_loads_at_1mib)
{
	struct bzimage_info info;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	put64(k, 0x258, 0);
	cr_assert_eq(bzimage_load(&m, k, klen, &info, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(info.load_addr, HIMEM_START);
	cr_assert_eq(info.entry, HIMEM_START + 0x200);
	/* relocatable: it runs at 1 MiB aligned up to kernel_alignment */
	cr_assert_eq(info.end, 0x200000 + FAKE_BZ_INIT_SIZE);
	assert_payload_at(mem, HIMEM_START);
	free(mem);
}

Test(bzimage, init_size_beyond_ram)
{
	struct bzimage_info info;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	put32(k, 0x260, 60 << 20);
	cr_assert_eq(bzimage_load(&m, k, klen, &info, err, sizeof(err)), -E2BIG);
	cr_assert(strstr(err, "64 MiB"), "%s", err);
	free(mem);
}

Test(bzimage, load_reports_bad_header)
{
	struct bzimage_info info;
	struct guest_mem m;
	uint8_t *mem = mem_new(&m, MEM_SIZE);

	put16(k, 0x206, 0x0200);
	cr_assert_eq(bzimage_load(&m, k, klen, &info, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "too old"), "%s", err);
	free(mem);
}
