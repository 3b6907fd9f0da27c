#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "bus.h"

struct rec {
	uint64_t off;
	uint32_t len;
	uint8_t last;
};

static void rec_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rec *r = ctx;
	r->off = off;
	r->len = len;
	memset(data, 0x42, len);
}

static void rec_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct rec *r = ctx;
	r->off = off;
	r->len = len;
	r->last = data[0];
}

static const struct bus_ops rec_ops = {.read = rec_read, .write = rec_write};

Test(bus, dispatches_with_offsets)
{
	struct bus b;
	struct rec r = {0};
	uint8_t d[4];

	bus_init(&b, "pio");
	cr_assert_eq(bus_add(&b, 0x3f8, 8, &rec_ops, &r, "com1"), 0);
	cr_assert(bus_write(&b, 0x3fd, (const uint8_t *)"x", 1));
	cr_assert_eq(r.off, 5);
	cr_assert_eq(r.last, 'x');
	cr_assert(bus_read(&b, 0x3f8, d, 4));
	cr_assert_eq(d[3], 0x42);
}

Test(bus, unclaimed_reads_are_all_ones)
{
	struct bus b;
	uint8_t d[2] = {0, 0};

	bus_init(&b, "pio");
	cr_assert_not(bus_read(&b, 0x2f8, d, 2));
	cr_assert_eq(d[0], 0xff);
	cr_assert_eq(d[1], 0xff);
	cr_assert_not(bus_write(&b, 0x2f8, d, 1));
}

Test(bus, access_straddling_the_end_is_not_claimed)
{
	struct bus b;
	struct rec r = {0};
	uint8_t d[4];

	bus_init(&b, "pio");
	bus_add(&b, 0x60, 1, &rec_ops, &r, "i8042");
	cr_assert_not(bus_read(&b, 0x60, d, 2));
	cr_assert(bus_read(&b, 0x60, d, 1));
}

Test(bus, overlaps_and_overflow_rejected)
{
	struct bus b;
	struct rec r;

	bus_init(&b, "mmio");
	cr_assert_eq(bus_add(&b, 0x1000, 0x100, &rec_ops, &r, "a"), 0);
	cr_assert_eq(bus_add(&b, 0x10ff, 1, &rec_ops, &r, "b"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0xfff, 2, &rec_ops, &r, "c"), -EEXIST);
	cr_assert_eq(bus_add(&b, 0x1100, 1, &rec_ops, &r, "d"), 0);
	cr_assert_eq(bus_add(&b, UINT64_MAX, 2, &rec_ops, &r, "e"), -EINVAL);
	cr_assert_eq(bus_add(&b, 0, 0, &rec_ops, &r, "f"), -EINVAL);
}

Test(bus, full_bus_says_so)
{
	struct bus b;
	struct rec r;

	bus_init(&b, "pio");
	for (unsigned int i = 0; i < BUS_MAX_REGIONS; i++)
		cr_assert_eq(bus_add(&b, i * 2, 1, &rec_ops, &r, "x"), 0);
	cr_assert_eq(bus_add(&b, 0x1000, 1, &rec_ops, &r, "x"), -ENOSPC);
}
