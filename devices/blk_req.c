#include "blk_req.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

static int set_serial(struct blk_opts *o, const char *id)
{
	size_t len = strlen(id);

	if (len == 0 || len > BLK_ID_BYTES) {
		log_err("block: --serial takes 1 to %u bytes, not %zu", BLK_ID_BYTES, len);
		return -EINVAL;
	}
	/* The guest shows it in /dev/disk/by-id: printable ASCII only (as main's config.c). */
	for (size_t i = 0; i < len; i++) {
		if (id[i] < 0x20 || id[i] > 0x7e) {
			log_err("block: --serial must be printable ASCII");
			return -EINVAL;
		}
	}
	memset(o->id, 0, sizeof(o->id));
	memcpy(o->id, id, len);
	return 0;
}

int blk_parse_options(int argc, char **argv, struct blk_opts *o)
{
	static const char serial_eq[] = "--serial=";
	int ret;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--read-only") == 0) {
			o->read_only = true;
			continue;
		}
		if (strcmp(argv[i], "--serial") == 0 && i + 1 == argc) {
			log_err("block: --serial needs an ID");
			return -EINVAL;
		}
		if (strcmp(argv[i], "--serial") == 0)
			ret = set_serial(o, argv[++i]);
		else if (strncmp(argv[i], serial_eq, sizeof(serial_eq) - 1) == 0)
			ret = set_serial(o, argv[i] + sizeof(serial_eq) - 1);
		else {
			log_err("block: unknown option '%s' (takes --read-only, --serial ID)",
				argv[i]);
			return -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int blk_capacity(uint64_t bytes, uint64_t *sectors)
{
	if (bytes == 0 || bytes % BLK_SECTOR_SIZE)
		return -EINVAL;
	*sectors = bytes / BLK_SECTOR_SIZE;
	return 0;
}

uint64_t blk_features(bool read_only)
{
	return read_only ? BLK_FEATURES_RO : BLK_FEATURES_RW;
}

static void put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
	v = htole16(v);
	memcpy(cfg + off, &v, sizeof(v));
}

static void put32(uint8_t *cfg, unsigned int off, uint32_t v)
{
	v = htole32(v);
	memcpy(cfg + off, &v, sizeof(v));
}

static void put64(uint8_t *cfg, unsigned int off, uint64_t v)
{
	v = htole64(v);
	memcpy(cfg + off, &v, sizeof(v));
}

void blk_config_fill(uint8_t *cfg, uint64_t capacity, bool read_only)
{
	/* Fields of features not offered, writeback and the padding stay 0 (5.2.5.1). */
	memset(cfg, 0, BLK_CONFIG_SIZE);
	put64(cfg, BLK_CFG_CAPACITY, capacity);
	put32(cfg, BLK_CFG_SEG_MAX, BLK_SEG_MAX);
	put32(cfg, BLK_CFG_BLK_SIZE, BLK_SECTOR_SIZE);
	put16(cfg, BLK_CFG_NUM_QUEUES, 1);
	if (read_only)
		return;
	put32(cfg, BLK_CFG_MAX_DISCARD_SECTORS, BLK_MAX_DWZ_SECTORS);
	put32(cfg, BLK_CFG_MAX_DISCARD_SEG, BLK_MAX_DWZ_SEG);
	put32(cfg, BLK_CFG_DISCARD_ALIGNMENT, BLK_DISCARD_ALIGNMENT);
	put32(cfg, BLK_CFG_MAX_WRITE_ZEROES_SECTORS, BLK_MAX_DWZ_SECTORS);
	put32(cfg, BLK_CFG_MAX_WRITE_ZEROES_SEG, BLK_MAX_DWZ_SEG);
	/* A write zeroes with UNMAP punches a hole. */
	cfg[BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
}

bool blk_range_ok(uint64_t capacity, uint64_t sector, uint64_t n)
{
	return sector <= capacity && n <= capacity - sector;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* Sector-sized data inside the disk (IN and OUT). */
static uint8_t check_rw(const struct blk_req *r, uint64_t capacity)
{
	if (r->data_len % BLK_SECTOR_SIZE ||
	    !blk_range_ok(capacity, r->sector, r->data_len / BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* One to BLK_MAX_DWZ_SEG whole ranges; each is checked by blk_dwz_parse(). */
static uint8_t check_dwz(const struct blk_req *r)
{
	if (r->data_len == 0 || r->data_len % BLK_DWZ_SIZE ||
	    r->data_len / BLK_DWZ_SIZE > BLK_MAX_DWZ_SEG)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

uint8_t blk_req_parse(struct blk_req *r, const uint8_t *hdr, uint32_t read_len, uint32_t write_len,
		      uint64_t capacity, bool read_only)
{
	uint32_t readable = read_len >= BLK_HDR_SIZE ? read_len - BLK_HDR_SIZE : 0;
	uint32_t writable = write_len ? write_len - 1 : 0;

	memset(r, 0, sizeof(*r));
	if (read_len < BLK_HDR_SIZE || write_len == 0)
		return VIRTIO_BLK_S_IOERR;
	r->type = get32(hdr);
	r->sector = get64(hdr + 8); /* hdr + 4 is reserved (ioprio once): ignored */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->data_len = writable;
		return check_rw(r, capacity);
	case VIRTIO_BLK_T_OUT:
		r->data_len = readable;
		/* A write to a read-only device fails and writes nothing (5.2.6.2). */
		return read_only ? VIRTIO_BLK_S_IOERR : check_rw(r, capacity);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK; /* sector and any data are ignored */
	case VIRTIO_BLK_T_GET_ID:
		r->data_len = writable;
		return writable < BLK_ID_BYTES ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->data_len = readable;
		return read_only ? VIRTIO_BLK_S_IOERR : check_dwz(r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint8_t blk_dwz_parse(struct blk_dwz *s, const uint8_t *raw, uint32_t type, uint64_t capacity)
{
	s->sector = get64(raw);
	s->num_sectors = get32(raw + 8);
	s->flags = get32(raw + 12);
	if (s->flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (type == VIRTIO_BLK_T_DISCARD && (s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	if (s->num_sectors > BLK_MAX_DWZ_SECTORS || !blk_range_ok(capacity, s->sector, s->num_sectors))
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

int blk_iov_from_segs(struct iovec *iov, unsigned int max, const struct virtq_seg *seg,
		      unsigned int n, size_t off, size_t len)
{
	unsigned int cnt = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		size_t chunk;

		if (off >= seg[i].len) {
			off -= seg[i].len;
			continue;
		}
		if (cnt == max)
			return -E2BIG;
		chunk = MIN(seg[i].len - off, len);
		iov[cnt].iov_base = (uint8_t *)seg[i].ptr + off;
		iov[cnt].iov_len = chunk;
		cnt++;
		len -= chunk;
		off = 0;
	}
	return len ? -ERANGE : (int)cnt;
}

void blk_iov_advance(struct iovec **iov, unsigned int *n, size_t done)
{
	while (*n > 0 && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n > 0) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}
