/*
 * blk_req: virtio-blk's pure half (devices/blk_req.h): options, config layout, the status each
 * malformed or unsupported request gets, discard/write-zeroes ranges and the iovec helpers.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "blk_req.h"

#define CAP 2048ULL /* sectors: a 1 MiB disk */

TestSuite(blk);

/* ---- options ---- */

static int parse(struct blk_opts *o, int argc, const char **argv)
{
	return blk_parse_options(argc, (char **)argv, o);
}

Test(blk, options_default)
{
	struct blk_opts o;
	static const uint8_t zero[BLK_ID_BYTES];

	memset(&o, 0xff, sizeof(o));
	cr_assert_eq(parse(&o, 0, NULL), 0);
	cr_assert_not(o.read_only);
	cr_assert_arr_eq(o.id, zero, BLK_ID_BYTES);
}

Test(blk, options_read_only_and_serial)
{
	const char *argv[] = {"--read-only", "--serial", "disk-1"};
	struct blk_opts o;

	cr_assert_eq(parse(&o, 3, argv), 0);
	cr_assert(o.read_only);
	cr_assert_arr_eq(o.id, "disk-1\0\0\0\0\0\0\0\0\0\0\0\0\0", BLK_ID_BYTES);
}

Test(blk, options_serial_of_20_has_no_nul)
{
	const char *argv[] = {"--serial=ABCDEFGHIJKLMNOPQRST"};
	struct blk_opts o;

	cr_assert_eq(parse(&o, 1, argv), 0);
	cr_assert_arr_eq(o.id, "ABCDEFGHIJKLMNOPQRST", BLK_ID_BYTES);
}

Test(blk, options_rejected)
{
	const char *too_long[] = {"--serial", "ABCDEFGHIJKLMNOPQRSTU"};
	const char *empty[] = {"--serial="};
	const char *control[] = {"--serial", "a\tb"};
	const char *high[] = {"--serial", "caf\xc3\xa9"};
	const char *missing[] = {"--serial"};
	const char *unknown[] = {"--read-write"};
	const char *positional[] = {"disk.img"};
	struct blk_opts o;

	cr_assert_eq(parse(&o, 2, too_long), -EINVAL);
	cr_assert_eq(parse(&o, 1, empty), -EINVAL);
	cr_assert_eq(parse(&o, 2, control), -EINVAL);
	cr_assert_eq(parse(&o, 2, high), -EINVAL);
	cr_assert_eq(parse(&o, 1, missing), -EINVAL);
	cr_assert_eq(parse(&o, 1, unknown), -EINVAL);
	cr_assert_eq(parse(&o, 1, positional), -EINVAL);
}

/* ---- capacity, features, config space ---- */

Test(blk, capacity)
{
	uint64_t s = 7;

	cr_assert_eq(blk_capacity(0, &s), -EINVAL);
	cr_assert_eq(blk_capacity(511, &s), -EINVAL);
	cr_assert_eq(blk_capacity(1000, &s), -EINVAL);
	cr_assert_eq(s, 7);
	cr_assert_eq(blk_capacity(512, &s), 0);
	cr_assert_eq(s, 1);
	cr_assert_eq(blk_capacity(1ULL << 40, &s), 0);
	cr_assert_eq(s, 1ULL << 31);
}

Test(blk, features)
{
	cr_assert_eq(blk_features(false), (1ULL << 2) | (1ULL << 6) | (1ULL << 9) | (1ULL << 13) |
						  (1ULL << 14));
	cr_assert_eq(blk_features(true), (1ULL << 2) | (1ULL << 5) | (1ULL << 6) | (1ULL << 9));
}

static uint32_t cfg32(const uint8_t *c, unsigned int off)
{
	uint32_t v;

	memcpy(&v, c + off, 4);
	return le32toh(v);
}

Test(blk, config_layout_read_write)
{
	uint8_t c[BLK_CONFIG_SIZE + 4];
	uint64_t cap;
	uint16_t nq;

	memset(c, 0xee, sizeof(c));
	blk_config_fill(c, 0x0102030405060708ULL, false);
	memcpy(&cap, c, 8);
	cr_assert_eq(le64toh(cap), 0x0102030405060708ULL);
	cr_assert_eq(c[0], 0x08, "capacity is little-endian");
	cr_assert_eq(cfg32(c, 8), 0, "size_max: not offered");
	cr_assert_eq(cfg32(c, 12), BLK_QUEUE_SIZE - 2, "seg_max");
	cr_assert_eq(cfg32(c, 16), 0, "geometry: not offered");
	cr_assert_eq(cfg32(c, 20), 512, "blk_size");
	cr_assert_eq(cfg32(c, 24) | cfg32(c, 28), 0, "topology: not offered");
	cr_assert_eq(c[32], 0, "writeback");
	cr_assert_eq(c[33], 0, "unused0");
	memcpy(&nq, c + 34, 2);
	cr_assert_eq(le16toh(nq), 1, "num_queues");
	cr_assert_eq(cfg32(c, 36), BLK_MAX_DWZ_SECTORS, "max_discard_sectors");
	cr_assert_eq(cfg32(c, 40), 1, "max_discard_seg");
	cr_assert_eq(cfg32(c, 44), 8, "discard_sector_alignment");
	cr_assert_eq(cfg32(c, 48), BLK_MAX_DWZ_SECTORS, "max_write_zeroes_sectors");
	cr_assert_eq(cfg32(c, 52), 1, "max_write_zeroes_seg");
	cr_assert_eq(c[56], 1, "write_zeroes_may_unmap");
	cr_assert_eq(c[57] | c[58] | c[59], 0, "unused1");
	cr_assert_eq(c[60], 0xee, "nothing written past the config size");
}

Test(blk, config_layout_read_only)
{
	uint8_t c[BLK_CONFIG_SIZE];

	blk_config_fill(c, CAP, true);
	cr_assert_eq(cfg32(c, 12), BLK_QUEUE_SIZE - 2);
	cr_assert_eq(cfg32(c, 20), 512);
	for (unsigned int off = 36; off < BLK_CONFIG_SIZE; off++)
		cr_assert_eq(c[off], 0, "discard/write zeroes fields at %u", off);
}

Test(blk, seg_max_fits_the_queue)
{
	/* seg_max data segments plus a header and a status: a chain the queue allows. */
	cr_assert_leq(BLK_SEG_MAX + 2, BLK_QUEUE_SIZE);
	cr_assert_leq(BLK_QUEUE_SIZE, VIRTQ_CHAIN_MAX);
}

/* ---- requests ---- */

static void hdr(uint8_t *h, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), reserved = htole32(0xdeadbeef);
	uint64_t s = htole64(sector);

	memcpy(h, &t, 4);
	memcpy(h + 4, &reserved, 4);
	memcpy(h + 8, &s, 8);
}

/* The status of a request whose chain has read_len readable and write_len writable bytes. */
static uint8_t check(uint32_t type, uint64_t sector, uint32_t read_len, uint32_t write_len, bool ro,
		     struct blk_req *r)
{
	uint8_t h[BLK_HDR_SIZE];

	hdr(h, type, sector);
	return blk_req_parse(r, h, read_len, write_len, CAP, ro);
}

Test(blk, read_ok)
{
	struct blk_req r;

	cr_assert_eq(check(VIRTIO_BLK_T_IN, 2, 16, 4097, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.type, VIRTIO_BLK_T_IN);
	cr_assert_eq(r.sector, 2);
	cr_assert_eq(r.data_len, 4096);
	/* The last sector, and nothing at all at the end. */
	cr_assert_eq(check(VIRTIO_BLK_T_IN, CAP - 1, 16, 513, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(check(VIRTIO_BLK_T_IN, CAP, 16, 1, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.data_len, 0);
	/* Readable bytes past the header are ignored; a read-only disk reads. */
	cr_assert_eq(check(VIRTIO_BLK_T_IN, 0, 64, 513, true, &r), VIRTIO_BLK_S_OK);
}

Test(blk, write_ok)
{
	struct blk_req r;

	cr_assert_eq(check(VIRTIO_BLK_T_OUT, 8, 16 + 1024, 1, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.data_len, 1024);
	cr_assert_eq(check(VIRTIO_BLK_T_OUT, CAP - 2, 16 + 1024, 1, false, &r), VIRTIO_BLK_S_OK);
}

Test(blk, read_write_ioerr)
{
	struct blk_req r;

	/* beyond the capacity, also by overflow */
	cr_assert_eq(check(VIRTIO_BLK_T_IN, CAP - 1, 16, 1025, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_IN, CAP + 1, 16, 1, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_OUT, UINT64_MAX, 16 + 512, 1, false, &r),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, 16, 513, false, &r),
		     VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	cr_assert_eq(check(VIRTIO_BLK_T_IN, 0, 16, 101, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_OUT, 0, 16 + 511, 1, false, &r), VIRTIO_BLK_S_IOERR);
	/* a short header, no status byte */
	cr_assert_eq(check(VIRTIO_BLK_T_IN, 0, 15, 513, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_IN, 0, 0, 513, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_FLUSH, 0, 16, 0, false, &r), VIRTIO_BLK_S_IOERR);
}

Test(blk, read_only_refuses_writes)
{
	struct blk_req r;

	cr_assert_eq(check(VIRTIO_BLK_T_OUT, 0, 16 + 512, 1, true, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_DISCARD, 0, 32, 1, true, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, 1, true, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_FLUSH, 0, 16, 1, true, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(check(VIRTIO_BLK_T_GET_ID, 0, 16, 21, true, &r), VIRTIO_BLK_S_OK);
}

Test(blk, flush_and_get_id)
{
	struct blk_req r;

	/* FLUSH ignores sector and data. */
	cr_assert_eq(check(VIRTIO_BLK_T_FLUSH, 12345, 16 + 512, 1, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.data_len, 0);
	cr_assert_eq(check(VIRTIO_BLK_T_GET_ID, 0, 16, 21, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.data_len, 20);
	cr_assert_eq(check(VIRTIO_BLK_T_GET_ID, 0, 16, 20, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_GET_ID, 0, 16, 1, false, &r), VIRTIO_BLK_S_IOERR);
}

Test(blk, unsupported_types)
{
	static const uint32_t types[] = {2, 3, 5, 10, 14, 15, 16, 0x80000000u, 0x80000001u,
					 UINT32_MAX};
	struct blk_req r;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		cr_assert_eq(check(types[i], 0, 16 + 512, 513, false, &r), VIRTIO_BLK_S_UNSUPP,
			     "type 0x%x", types[i]);
}

Test(blk, discard_write_zeroes_framing)
{
	struct blk_req r;

	cr_assert_eq(check(VIRTIO_BLK_T_DISCARD, 0, 32, 1, false, &r), VIRTIO_BLK_S_OK);
	cr_assert_eq(r.data_len, 16);
	cr_assert_eq(check(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, 1, false, &r), VIRTIO_BLK_S_OK);
	/* no range, a partial one, more than max_*_seg */
	cr_assert_eq(check(VIRTIO_BLK_T_DISCARD, 0, 16, 1, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_DISCARD, 0, 31, 1, false, &r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(check(VIRTIO_BLK_T_WRITE_ZEROES, 0, 48, 1, false, &r), VIRTIO_BLK_S_IOERR);
}

static void range(uint8_t *raw, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t nn = htole32(n), f = htole32(flags);

	memcpy(raw, &s, 8);
	memcpy(raw + 8, &nn, 4);
	memcpy(raw + 12, &f, 4);
}

static uint8_t dwz(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint8_t raw[BLK_DWZ_SIZE];
	struct blk_dwz s;
	uint8_t st;

	range(raw, sector, n, flags);
	st = blk_dwz_parse(&s, raw, type, CAP);
	cr_assert_eq(s.sector, sector);
	cr_assert_eq(s.num_sectors, n);
	cr_assert_eq(s.flags, flags);
	return st;
}

Test(blk, discard_write_zeroes_ranges)
{
	const uint32_t D = VIRTIO_BLK_T_DISCARD, W = VIRTIO_BLK_T_WRITE_ZEROES;

	cr_assert_eq(dwz(D, 0, 8, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(dwz(D, CAP - 8, 8, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(dwz(D, CAP, 0, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(dwz(W, 0, 8, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(dwz(W, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), VIRTIO_BLK_S_OK);
	/* 5.2.6.2: unmap on a discard, and any unknown flag, are UNSUPP */
	cr_assert_eq(dwz(D, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(dwz(D, 0, 8, 2), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(dwz(W, 0, 8, 0x80000001u), VIRTIO_BLK_S_UNSUPP);
	/* beyond the capacity or the advertised maximum */
	cr_assert_eq(dwz(D, CAP - 7, 8, 0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(dwz(W, UINT64_MAX, 1, 0), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(dwz(D, 0, BLK_MAX_DWZ_SECTORS + 1, 0), VIRTIO_BLK_S_IOERR);
}

Test(blk, range_ok)
{
	cr_assert(blk_range_ok(CAP, 0, CAP));
	cr_assert(blk_range_ok(CAP, CAP, 0));
	cr_assert_not(blk_range_ok(CAP, CAP + 1, 0));
	cr_assert_not(blk_range_ok(CAP, 1, CAP));
	cr_assert_not(blk_range_ok(CAP, 1, UINT64_MAX));
	cr_assert_not(blk_range_ok(CAP, UINT64_MAX, 2));
}

/* ---- iovecs ---- */

static uint8_t mem[4096];

Test(blk, iov_from_segs)
{
	struct virtq_seg seg[3] = {
	    {.ptr = mem, .len = 10}, {.ptr = mem + 100, .len = 20}, {.ptr = mem + 200, .len = 30}};
	struct iovec iov[3];

	/* bytes 5..40: the tail of seg 0, all of seg 1, the head of seg 2 */
	cr_assert_eq(blk_iov_from_segs(iov, 3, seg, 3, 5, 35), 3);
	cr_assert_eq(iov[0].iov_base, mem + 5);
	cr_assert_eq(iov[0].iov_len, 5);
	cr_assert_eq(iov[1].iov_base, mem + 100);
	cr_assert_eq(iov[1].iov_len, 20);
	cr_assert_eq(iov[2].iov_base, mem + 200);
	cr_assert_eq(iov[2].iov_len, 10);
	/* an offset past a whole segment, nothing at all */
	cr_assert_eq(blk_iov_from_segs(iov, 3, seg, 3, 10, 20), 1);
	cr_assert_eq(iov[0].iov_base, mem + 100);
	cr_assert_eq(blk_iov_from_segs(iov, 3, seg, 3, 60, 0), 0);
	/* more than the segments hold, more iovecs than allowed */
	cr_assert_eq(blk_iov_from_segs(iov, 3, seg, 3, 0, 61), -ERANGE);
	cr_assert_eq(blk_iov_from_segs(iov, 2, seg, 3, 0, 60), -E2BIG);
	cr_assert_eq(blk_iov_from_segs(iov, 3, seg, 0, 0, 1), -ERANGE);
}

Test(blk, iov_advance)
{
	struct iovec v[3] = {{mem, 10}, {mem + 100, 20}, {mem + 200, 30}};
	struct iovec *p = v;
	unsigned int n = 3;

	blk_iov_advance(&p, &n, 0);
	cr_assert_eq(p, v);
	cr_assert_eq(n, 3);
	blk_iov_advance(&p, &n, 4);
	cr_assert_eq(n, 3);
	cr_assert_eq(p->iov_base, mem + 4);
	cr_assert_eq(p->iov_len, 6);
	blk_iov_advance(&p, &n, 6); /* exactly the rest of the first */
	cr_assert_eq(p, v + 1);
	cr_assert_eq(n, 2);
	cr_assert_eq(p->iov_len, 20);
	blk_iov_advance(&p, &n, 25); /* across a boundary */
	cr_assert_eq(p, v + 2);
	cr_assert_eq(n, 1);
	cr_assert_eq(p->iov_base, mem + 205);
	cr_assert_eq(p->iov_len, 25);
	blk_iov_advance(&p, &n, 25);
	cr_assert_eq(n, 0);
}
