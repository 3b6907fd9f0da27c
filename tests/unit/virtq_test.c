/*
 * virtq: the device side of split rings, driven over a fake guest memory (a wrapped buffer, or a
 * sparse memfd for the 4 GiB cases) with rings this file writes as a guest driver would.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gmem.h"
#include "virtq.h"

/* RAM: [0, 1 MiB) and [2 MiB, 3 MiB), with a hole between them. */
#define LOW_END 0x100000ULL
#define HIGH 0x200000ULL
#define HIGH_END 0x300000ULL
#define QSZ 8
#define DESC 0x1000ULL
#define AVAIL 0x2000ULL
#define USED 0x3000ULL
#define IND 0x8000ULL  /* indirect tables */
#define BUF 0x10000ULL /* data buffers */

#define F_V1 (1ULL << VIRTIO_F_VERSION_1)
#define F_IND (1ULL << VIRTIO_F_INDIRECT_DESC)
#define F_EVT (1ULL << VIRTIO_F_EVENT_IDX)

static const struct gmem_region regions[] = {
    {.gpa = 0, .size = LOW_END, .offset = 0},
    {.gpa = HIGH, .size = HIGH_END - HIGH, .offset = LOW_END},
};

static uint8_t *ram;
static struct gmem g;
static struct virtq q;
static struct virtq_chain *c;

static void setup(void)
{
	ram = aligned_alloc(4096, 2 * LOW_END);
	cr_assert_not_null(ram);
	memset(ram, 0, 2 * LOW_END);
	cr_assert_eq(gmem_init_buffer(&g, ram, 2 * LOW_END, regions, 2), 0);
	c = malloc(sizeof(*c));
	cr_assert_not_null(c);
	cr_assert_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, USED, F_V1 | F_IND), 0);
}

static void teardown(void)
{
	gmem_unmap(&g);
	free(ram);
	free(c);
}

TestSuite(virtq, .init = setup, .fini = teardown);

/* ---- a guest driver in miniature ---- */

static uint8_t *host(uint64_t gpa)
{
	uint8_t *p = gmem_ptr(&g, gpa, 1);

	cr_assert_not_null(p, "gpa 0x%llx is not RAM", (unsigned long long)gpa);
	return p;
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(host(gpa), &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, host(gpa), 2);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, host(gpa), 4);
	return v;
}

static void desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	uint8_t *p = host(table + 16ULL * i);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc_at(DESC, i, addr, len, flags, next);
}

/* Offers head at the current avail idx, then moves the idx on. */
static void offer(uint16_t head)
{
	uint16_t idx = get16(AVAIL + 2);

	put16(AVAIL + 4 + 2 * (idx % QSZ), head);
	put16(AVAIL + 2, (uint16_t)(idx + 1));
}

static void reinit(uint64_t features)
{
	cr_assert_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, USED, features), 0);
}

/* Offers a one-descriptor chain at head whose descriptor the caller wrote, expects -EIO. */
static void expect_broken(uint16_t head)
{
	offer(head);
	cr_expect_eq(virtq_pop(&q, c), -EIO);
	cr_expect(q.broken);
}

/* ---- init ---- */

Test(virtq, init_rejects_bad_sizes)
{
	const uint16_t bad[] = {0, 3, 6, 100, 65535};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(virtq_init(&q, &g, bad[i], DESC, AVAIL, USED, F_V1), -EINVAL);
		cr_expect_not(q.ready);
	}
	cr_expect_eq(virtq_init(&q, &g, 1, DESC, AVAIL, USED, F_V1), 0);
	cr_expect_eq(virtq_init(&q, &g, 32768, 0, 0x80000, HIGH, F_V1), 0);
}

Test(virtq, init_rejects_misaligned_rings)
{
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC + 8, AVAIL, USED, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL + 1, USED, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, USED + 2, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL + 2, USED + 4, F_V1), 0);
}

Test(virtq, init_rejects_rings_outside_ram)
{
	/* in the hole; straddling the end of low RAM; past the end of RAM; wrapping */
	cr_expect_eq(virtq_init(&q, &g, QSZ, LOW_END, AVAIL, USED, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, LOW_END - 16 * QSZ + 16, AVAIL, USED, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, LOW_END - 6 - 2 * QSZ + 2, USED, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, HIGH_END - 8 * QSZ, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, UINT64_MAX - 3, F_V1), -EINVAL);
	cr_expect_eq(virtq_init(&q, &g, QSZ, UINT64_MAX - 15, AVAIL, USED, F_V1), -EINVAL);
	cr_expect_not(q.ready);
	/* exactly fitting at the end of a region is fine */
	cr_expect_eq(virtq_init(&q, &g, QSZ, LOW_END - 16 * QSZ, LOW_END - 6 - 2 * QSZ - 2,
				HIGH_END - 8 * QSZ - 8, F_V1),
		     0);
}

Test(virtq, init_requires_version_1)
{
	cr_expect_eq(virtq_init(&q, &g, QSZ, DESC, AVAIL, USED, F_IND | F_EVT), -EINVAL);
}

Test(virtq, init_rejects_misaligned_host_mapping)
{
	/* gpa 0 backed by buffer offset 1: aligned gpa, misaligned host address. */
	const struct gmem_region r = {.gpa = 0, .size = 0x10000, .offset = 1};
	struct gmem odd;

	cr_assert_eq(gmem_init_buffer(&odd, ram, 2 * LOW_END, &r, 1), 0);
	cr_expect_eq(virtq_init(&q, &odd, QSZ, DESC, AVAIL, USED, F_V1), -EINVAL);
}

/* ---- good chains ---- */

Test(virtq, empty_ring_and_unready_queue_give_nothing)
{
	cr_expect_eq(virtq_pop(&q, c), 0);
	virtq_reset(&q);
	desc(0, BUF, 4, 0, 0);
	offer(0);
	cr_expect_eq(virtq_pop(&q, c), 0);
	virtq_push(&q, 0, 0);
	cr_expect_eq(get16(USED + 2), 0);
	cr_expect_not(virtq_should_notify(&q));
	cr_expect_not(virtq_enable_notify(&q));
}

Test(virtq, single_readable_descriptor)
{
	desc(3, BUF, 64, 0, 0);
	offer(3);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->head, 3);
	cr_expect_eq(c->nseg, 1);
	cr_expect_eq(c->nread, 1);
	cr_expect_eq(c->read_len, 64);
	cr_expect_eq(c->write_len, 0);
	cr_expect_eq(c->seg[0].ptr, host(BUF));
	cr_expect_eq(c->seg[0].len, 64);
	cr_expect_not(c->seg[0].write);
	cr_expect_eq(virtq_pop(&q, c), 0);
}

Test(virtq, readable_then_writable_chain)
{
	desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
	desc(5, HIGH + 0x100, 8, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
	desc(7, HIGH_END - 1, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->nseg, 4);
	cr_expect_eq(c->nread, 2);
	cr_expect_eq(c->read_len, 24);
	cr_expect_eq(c->write_len, 513);
	cr_expect_eq(c->seg[1].ptr, host(HIGH + 0x100));
	cr_expect(c->seg[2].write && c->seg[3].write);
	cr_expect_eq(c->seg[3].ptr, host(HIGH_END - 1));
}

Test(virtq, chain_copies_cross_segments_and_stop_at_their_ends)
{
	uint8_t out[32], status = 0xee;

	memcpy(host(BUF), "hello", 5);
	memcpy(host(BUF + 0x40), "world!", 6);
	memset(host(BUF + 0x80), 0xaa, 0x40);
	desc(0, BUF, 5, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x40, 6, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF + 0x81, 3, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
	desc(3, BUF + 0x91, 2, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(virtq_chain_read(c, 0, out, sizeof(out)), 11);
	cr_expect_eq(memcmp(out, "helloworld!", 11), 0);
	cr_expect_eq(virtq_chain_read(c, 3, out, 4), 4);
	cr_expect_eq(memcmp(out, "lowo", 4), 0);
	cr_expect_eq(virtq_chain_read(c, 11, out, 1), 0);
	cr_expect_eq(virtq_chain_read(c, 1000, out, 1), 0);
	cr_expect_eq(virtq_chain_write(c, 0, "ABCDEFGH", 8), 5);
	cr_expect_eq(memcmp(host(BUF + 0x81), "ABC", 3), 0);
	cr_expect_eq(memcmp(host(BUF + 0x91), "DE", 2), 0);
	/* the status byte of a blk request: the last writable byte */
	cr_expect_eq(virtq_chain_write(c, c->write_len - 1, &status, 1), 1);
	cr_expect_eq(*host(BUF + 0x92), 0xee);
	/* nothing outside the segments moved */
	cr_expect_eq(*host(BUF + 0x80), 0xaa);
	cr_expect_eq(*host(BUF + 0x84), 0xaa);
	cr_expect_eq(*host(BUF + 0x90), 0xaa);
	cr_expect_eq(*host(BUF + 0x93), 0xaa);
}

Test(virtq, chains_in_order_across_avail_idx_wrap)
{
	uint16_t i;

	q.last_avail = 65534;
	put16(AVAIL + 2, 65534);
	for (i = 0; i < 4; i++) {
		desc(i, BUF + 0x100 * i, 10 + i, 0, 0);
		offer(i);
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(virtq_pop(&q, c), 1);
		cr_expect_eq(c->head, i);
		cr_expect_eq(c->read_len, 10 + i);
	}
	cr_expect_eq(q.last_avail, 2);
	cr_expect_eq(virtq_pop(&q, c), 0);
}

Test(virtq, full_ring_is_fine)
{
	uint16_t i;

	for (i = 0; i < QSZ; i++) {
		desc(i, BUF, 1, 0, 0);
		offer(i);
	}
	for (i = 0; i < QSZ; i++)
		cr_expect_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(virtq_pop(&q, c), 0);
}

Test(virtq, zero_length_descriptors_are_skipped)
{
	/* Not even the address of an empty buffer is used. */
	desc(0, 0xdead00000000ULL, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 4, VIRTQ_DESC_F_NEXT, 2);
	desc(2, UINT64_MAX, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->nseg, 1);
	cr_expect_eq(c->nread, 1);
	cr_expect_eq(c->read_len, 4);
	cr_expect_eq(c->write_len, 0);
	desc(4, BUF, 0, 0, 0);
	offer(4);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->nseg, 0);
	cr_expect_eq(virtq_chain_read(c, 0, NULL, 0), 0);
}

Test(virtq, zero_length_writable_still_orders)
{
	desc(0, BUF, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 4, 0, 0);
	expect_broken(0);
}

/* ---- indirect ---- */

Test(virtq, indirect_chain)
{
	/* WRITE on the pointer to the table means nothing and is ignored. */
	desc(6, IND, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	desc_at(IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc_at(IND, 2, BUF + 0x100, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc_at(IND, 1, HIGH, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(6);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->head, 6);
	cr_expect_eq(c->nseg, 3);
	cr_expect_eq(c->nread, 1);
	cr_expect_eq(c->read_len, 16);
	cr_expect_eq(c->write_len, 101);
	cr_expect_eq(c->seg[2].ptr, host(HIGH));
}

Test(virtq, direct_descriptors_then_indirect_table)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, IND, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, BUF + 8, 8, VIRTQ_DESC_F_NEXT, 1);
	desc_at(IND, 1, BUF + 0x100, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->nseg, 3);
	cr_expect_eq(c->read_len, 16);
	cr_expect_eq(c->write_len, 4);
}

Test(virtq, indirect_table_at_odd_address)
{
	desc(0, IND + 3, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND + 3, 0, BUF, 7, 0, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->read_len, 7);
}

Test(virtq, indirect_without_feature)
{
	reinit(F_V1);
	desc(0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, BUF, 8, 0, 0);
	expect_broken(0);
}

Test(virtq, indirect_with_next)
{
	desc(0, IND, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, 0, 0);
	desc_at(IND, 0, BUF, 8, 0, 0);
	expect_broken(0);
}

Test(virtq, nested_indirect)
{
	desc(0, IND, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, IND + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND + 0x100, 0, BUF, 8, 0, 0);
	expect_broken(0);
}

Test(virtq, indirect_bad_table_lengths)
{
	const uint32_t bad[] = {0, 8, 15, 17, 33, (QSZ + 1) * 16, 0xfffffff0};
	unsigned int i;

	for (i = 0; i < QSZ; i++)
		desc_at(IND, (uint16_t)i, BUF, 1, 0, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reinit(F_V1 | F_IND);
		put16(AVAIL + 2, 0);
		desc(0, IND, bad[i], VIRTQ_DESC_F_INDIRECT, 0);
		expect_broken(0);
	}
	/* a table of exactly the queue size is fine */
	reinit(F_V1 | F_IND);
	put16(AVAIL + 2, 0);
	desc(0, IND, QSZ * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	cr_expect_eq(virtq_pop(&q, c), 1);
}

Test(virtq, indirect_table_outside_ram)
{
	desc(0, LOW_END - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0);
	reinit(F_V1 | F_IND);
	put16(AVAIL + 2, 0);
	desc(0, HIGH_END, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(0);
}

Test(virtq, indirect_next_out_of_table)
{
	/* next 2 is inside the queue size but not inside this 2-entry table */
	desc(0, IND, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	desc_at(IND, 2, BUF, 8, 0, 0);
	expect_broken(0);
}

Test(virtq, indirect_loop)
{
	desc(0, IND, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc_at(IND, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0);
}

Test(virtq, indirect_writable_before_readable)
{
	desc(0, IND, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(IND, 0, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc_at(IND, 1, BUF, 8, 0, 0);
	expect_broken(0);
}

/* ---- malformed rings ---- */

Test(virtq, loop_to_itself)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0);
}

Test(virtq, loop_back_to_head)
{
	desc(1, BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF, 8, VIRTQ_DESC_F_NEXT, 3);
	desc(3, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	expect_broken(1);
}

Test(virtq, chain_longer_than_queue)
{
	uint16_t i;

	/* 5 direct + 4 in a table = 9 descriptors on a queue of 8 */
	for (i = 0; i < 5; i++)
		desc(i, BUF, 1, VIRTQ_DESC_F_NEXT, i + 1);
	desc(5, IND, 4 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	for (i = 0; i < 4; i++)
		desc_at(IND, i, BUF, 1, i < 3 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	expect_broken(0);
	/* 4 + 4 = 8 is allowed */
	reinit(F_V1 | F_IND);
	put16(AVAIL + 2, 0);
	offer(1);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->nseg, 8);
	cr_expect_eq(c->read_len, 8);
}

Test(virtq, next_out_of_range)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, QSZ);
	expect_broken(0);
}

Test(virtq, head_out_of_range)
{
	expect_broken(QSZ);
	reinit(F_V1);
	put16(AVAIL + 2, 0);
	expect_broken(0xffff);
}

Test(virtq, avail_idx_too_far_ahead)
{
	put16(AVAIL + 2, QSZ + 1);
	cr_expect_eq(virtq_pop(&q, c), -EIO);
}

Test(virtq, avail_idx_going_back)
{
	desc(0, BUF, 8, 0, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	put16(AVAIL + 2, 0);
	cr_expect_eq(virtq_pop(&q, c), -EIO);
}

Test(virtq, buffers_outside_ram)
{
	const uint64_t addr[] = {LOW_END,  LOW_END - 4,	   HIGH - 2,	  HIGH_END - 7,
				 HIGH_END, UINT64_MAX - 3, 0x100000000ULL};
	unsigned int i;

	for (i = 0; i < sizeof(addr) / sizeof(addr[0]); i++) {
		reinit(F_V1);
		put16(AVAIL + 2, 0);
		desc(0, addr[i], 8, 0, 0);
		expect_broken(0);
	}
}

Test(virtq, buffer_outside_ram_later_in_chain)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, LOW_END + 0x1000, 8, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0);
}

Test(virtq, huge_length)
{
	desc(0, BUF, 0xffffffff, 0, 0);
	expect_broken(0);
}

Test(virtq, writable_before_readable)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 8, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, BUF + 16, 8, 0, 0);
	expect_broken(0);
}

Test(virtq, broken_queue_refuses_work_until_init)
{
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(0);
	desc(0, BUF, 8, 0, 0); /* the guest "fixes" it: too late */
	cr_expect_eq(virtq_pop(&q, c), -EIO);
	virtq_push(&q, 0, 0);
	cr_expect_eq(get16(USED + 2), 0);
	cr_expect_not(virtq_should_notify(&q));
	virtq_disable_notify(&q);
	cr_expect_eq(get16(USED), 0);
	cr_expect_not(virtq_enable_notify(&q));
	reinit(F_V1);
	put16(AVAIL + 2, 0);
	offer(0);
	cr_expect_eq(virtq_pop(&q, c), 1);
}

/* ---- used ring and notifications ---- */

Test(virtq, push_fills_used_ring)
{
	virtq_push(&q, 5, 100);
	virtq_push(&q, 2, 0);
	cr_expect_eq(get16(USED + 2), 2);
	cr_expect_eq(get32(USED + 4), 5);
	cr_expect_eq(get32(USED + 8), 100);
	cr_expect_eq(get32(USED + 12), 2);
	cr_expect_eq(get32(USED + 16), 0);
}

Test(virtq, push_wraps_used_idx)
{
	q.used_idx = 65535;
	virtq_push(&q, 1, 7);
	cr_expect_eq(get16(USED + 2), 0);
	cr_expect_eq(get32(USED + 4 + 8 * (QSZ - 1)), 1);
	cr_expect_eq(get32(USED + 4 + 8 * (QSZ - 1) + 4), 7);
	virtq_push(&q, 3, 9);
	cr_expect_eq(get16(USED + 2), 1);
	cr_expect_eq(get32(USED + 4), 3);
}

Test(virtq, push_of_bad_head_is_ignored)
{
	virtq_push(&q, QSZ, 1);
	cr_expect_eq(get16(USED + 2), 0);
	cr_expect_eq(q.used_idx, 0);
}

/* ---- fill then flush (one completion over several chains) ---- */

Test(virtq, fill_publishes_nothing_until_flush)
{
	cr_assert_eq(virtq_fill(&q, 4, 64), 0);
	cr_assert_eq(virtq_fill(&q, 1, 64), 0);
	cr_assert_eq(virtq_fill(&q, 6, 20), 0);
	cr_expect_eq(get16(USED + 2), 0, "used idx moved before the flush");
	cr_expect_eq(q.used_idx, 0);
	cr_expect_not(virtq_should_notify(&q), "nothing published yet");
	/* the elements are in place already, in order */
	cr_expect_eq(get32(USED + 4), 4);
	cr_expect_eq(get32(USED + 8), 64);
	cr_expect_eq(get32(USED + 12), 1);
	cr_expect_eq(get32(USED + 20), 6);
	cr_expect_eq(get32(USED + 24), 20);
	virtq_flush(&q);
	cr_expect_eq(get16(USED + 2), 3);
	cr_expect_eq(q.used_idx, 3);
	cr_expect_eq(q.filled, 0);
	cr_expect(virtq_should_notify(&q));
	virtq_flush(&q); /* nothing filled: nothing moves */
	cr_expect_eq(get16(USED + 2), 3);
}

Test(virtq, fill_after_flush_and_across_wrap)
{
	q.used_idx = 65534;
	put16(USED + 2, 65534);
	for (uint16_t h = 0; h < 3; h++)
		cr_assert_eq(virtq_fill(&q, h, 10u + h), 0);
	cr_expect_eq(get16(USED + 2), 65534);
	virtq_flush(&q);
	cr_expect_eq(get16(USED + 2), 1);
	/* ring slots 6, 7, then 0 */
	cr_expect_eq(get32(USED + 4 + 8 * 6), 0);
	cr_expect_eq(get32(USED + 4 + 8 * 7), 1);
	cr_expect_eq(get32(USED + 4), 2);
	cr_expect_eq(get32(USED + 8), 12);
	cr_assert_eq(virtq_fill(&q, 5, 1), 0);
	virtq_flush(&q);
	cr_expect_eq(get16(USED + 2), 2);
	cr_expect_eq(get32(USED + 4 + 8), 5);
}

Test(virtq, push_publishes_earlier_fills_with_it)
{
	cr_assert_eq(virtq_fill(&q, 3, 1), 0);
	virtq_push(&q, 2, 2);
	cr_expect_eq(get16(USED + 2), 2);
	cr_expect_eq(get32(USED + 4), 3);
	cr_expect_eq(get32(USED + 12), 2);
}

Test(virtq, fill_refuses_more_than_the_ring)
{
	for (uint16_t h = 0; h < QSZ; h++)
		cr_assert_eq(virtq_fill(&q, h, 0), 0);
	cr_expect_eq(virtq_fill(&q, 0, 0), -ENOSPC);
	cr_expect_eq(q.filled, QSZ);
	virtq_flush(&q);
	cr_expect_eq(get16(USED + 2), QSZ);
	cr_expect_eq(virtq_fill(&q, 0, 0), 0);
}

Test(virtq, fill_of_bad_head_or_on_a_dead_queue_is_refused)
{
	cr_expect_eq(virtq_fill(&q, QSZ, 1), -EINVAL);
	cr_expect_eq(q.filled, 0);
	cr_assert_eq(virtq_fill(&q, 1, 1), 0);
	expect_broken(QSZ);
	cr_expect_eq(virtq_fill(&q, 2, 1), -EINVAL);
	virtq_flush(&q); /* a broken queue publishes nothing more */
	cr_expect_eq(get16(USED + 2), 0);
	virtq_reset(&q);
	cr_expect_eq(virtq_fill(&q, 2, 1), -EINVAL);
	reinit(F_V1);
	cr_expect_eq(q.filled, 0, "virtq_init() forgets unflushed fills");
}

Test(virtq, notify_by_flags_without_event_idx)
{
	put16(AVAIL + 4 + 2 * QSZ, 100);	/* used_event: ignored without EVENT_IDX */
	cr_expect_not(virtq_should_notify(&q)); /* nothing pushed yet */
	virtq_push(&q, 0, 0);
	cr_expect(virtq_should_notify(&q));
	cr_expect_not(virtq_should_notify(&q)); /* nothing new */
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&q, 1, 0);
	cr_expect_not(virtq_should_notify(&q));
	put16(AVAIL, 0);
	virtq_push(&q, 2, 0);
	cr_expect(virtq_should_notify(&q));
}

Test(virtq, notify_by_used_event)
{
	reinit(F_V1 | F_EVT);
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX */
	put16(AVAIL + 4 + 2 * QSZ, 0);
	virtq_push(&q, 0, 0); /* used 0 -> 1 crosses event 0 */
	cr_expect(virtq_should_notify(&q));
	put16(AVAIL + 4 + 2 * QSZ, 5);
	virtq_push(&q, 1, 0); /* 1 -> 2: not yet */
	cr_expect_not(virtq_should_notify(&q));
	virtq_push(&q, 2, 0);
	virtq_push(&q, 3, 0);
	virtq_push(&q, 4, 0);
	virtq_push(&q, 5, 0); /* 2 -> 6 writes entry 5 */
	cr_expect(virtq_should_notify(&q));
	put16(AVAIL + 4 + 2 * QSZ, 1); /* an event already behind us */
	virtq_push(&q, 6, 0);
	cr_expect_not(virtq_should_notify(&q));
}

Test(virtq, notify_by_used_event_across_wrap)
{
	reinit(F_V1 | F_EVT);
	q.used_idx = q.signalled_used = 65534;
	put16(AVAIL + 4 + 2 * QSZ, 65535);
	virtq_push(&q, 0, 0);
	virtq_push(&q, 1, 0); /* 65534 -> 0 writes entry 65535 */
	cr_expect(virtq_should_notify(&q));
	put16(AVAIL + 4 + 2 * QSZ, 1);
	virtq_push(&q, 2, 0); /* 0 -> 1: entry 0, not 1 */
	cr_expect_not(virtq_should_notify(&q));
	virtq_push(&q, 3, 0); /* 1 -> 2 writes entry 1 */
	cr_expect(virtq_should_notify(&q));
	q.used_idx = q.signalled_used = 65534;
	put16(AVAIL + 4 + 2 * QSZ, 65533); /* behind, across the wrap */
	virtq_push(&q, 4, 0);
	virtq_push(&q, 5, 0);
	cr_expect_not(virtq_should_notify(&q));
}

Test(virtq, kick_suppression_by_flags)
{
	virtq_disable_notify(&q);
	cr_expect_eq(get16(USED), VIRTQ_USED_F_NO_NOTIFY);
	cr_expect_not(virtq_enable_notify(&q));
	cr_expect_eq(get16(USED), 0);
	desc(0, BUF, 1, 0, 0);
	offer(0);
	virtq_disable_notify(&q);
	cr_expect(virtq_enable_notify(&q)); /* work arrived: pop again */
	cr_expect_eq(virtq_pop(&q, c), 1);
	cr_expect_not(virtq_enable_notify(&q));
}

Test(virtq, kick_suppression_by_avail_event)
{
	reinit(F_V1 | F_EVT);
	desc(0, BUF, 1, 0, 0);
	offer(0);
	offer(0);
	virtq_disable_notify(&q);
	cr_expect_eq(get16(USED), 0); /* flags stay 0 with EVENT_IDX */
	cr_expect_eq(virtq_pop(&q, c), 1);
	cr_expect(virtq_enable_notify(&q));
	cr_expect_eq(get16(USED + 4 + 8 * QSZ), 1);
	cr_expect_eq(virtq_pop(&q, c), 1);
	cr_expect_not(virtq_enable_notify(&q));
	cr_expect_eq(get16(USED + 4 + 8 * QSZ), 2);
}

/* ---- a guest changing descriptors while the device reads them ---- */

static int stop, flips;

static void *flipper(void *arg)
{
	uint32_t *len = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i;

		/* each value holds for a while, so that pops see both, and some see the change */
		__atomic_store_n(len, (flips & 1) ? 0xffffffff : 16, __ATOMIC_RELAXED);
		for (i = 0; i < 500; i++)
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_add_fetch(&flips, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

Test(virtq, descriptor_read_once_under_concurrent_change)
{
	int i, ret, good = 0, bad = 0;
	pthread_t t;

	desc(0, BUF, 16, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, flipper, host(DESC + 8)), 0);
	while (!__atomic_load_n(&flips, __ATOMIC_RELAXED))
		sched_yield();
	for (i = 0; i < 200000 && (good < 200 || bad < 200); i++) {
		offer(0);
		ret = virtq_pop(&q, c);
		if (ret == 1) {
			/* whatever value was seen is the one checked and used */
			cr_assert_eq(c->seg[0].len, 16);
			cr_assert_eq(c->read_len, 16);
			good++;
		} else {
			cr_assert_eq(ret, -EIO);
			reinit(F_V1);
			put16(AVAIL + 2, 0);
			bad++;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	cr_log_info("%d chains taken, %d refused", good, bad);
}

/* ---- more than 4 GiB of RAM: length sums past u32 ---- */

Test(virtq, chain_totals_past_4gib)
{
	const uint64_t size = 9ULL << 30;
	const struct gmem_region r = {.gpa = 0, .size = size, .offset = 0};
	int fd = memfd_create("virtq-test", MFD_CLOEXEC);
	struct gmem big;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	cr_assert_eq(gmem_map(&big, fd, &r, 1), 0);
	close(fd);
	gmem_unmap(&g);
	g = big; /* the helpers above now write into the memfd */
	reinit(F_V1);
	/* one 4 GiB - 1 buffer is fine */
	desc(0, 0x100000000ULL, 0xffffffff, 0, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, c), 1);
	cr_expect_eq(c->read_len, 0xffffffff);
	/* two readable ones add up past u32 */
	desc(0, 0x100000000ULL, 0xffffffff, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x10000, 1, 0, 0);
	expect_broken(0);
	/* and two writable ones */
	reinit(F_V1);
	put16(AVAIL + 2, 0);
	desc(0, 0x10000, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x100000000ULL, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(0);
}
