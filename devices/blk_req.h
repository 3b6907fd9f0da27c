/*
 * virtio-blk (virtio 1.2, 5.2) without the I/O: wire constants, the config space, the device's
 * options and the checks that decide a request's status. Pure, so that the unit tests can link it
 * (it is part of vmm_devcore); devices/blk.c does the I/O.
 */
#ifndef VMM_DEVICES_BLK_REQ_H
#define VMM_DEVICES_BLK_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtq.h"

#define VIRTIO_BLK_TYPE 2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (5.2.6); any other is answered VIRTIO_BLK_S_UNSUPP. */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#define BLK_SECTOR_SIZE 512u
#define BLK_HDR_SIZE 16u /* struct virtio_blk_req up to data: type, reserved, sector */
#define BLK_DWZ_SIZE 16u /* struct virtio_blk_discard_write_zeroes */
#define BLK_ID_BYTES 20u /* GET_ID's answer: NUL-padded, no NUL when 20 bytes long */

/*
 * Queue size offered. A chain may not be longer than the queue the driver set up (virtq.c
 * enforces it, indirect tables included) and Linux adds a header and a status to seg_max data
 * segments, so seg_max is the queue size minus two (as in QEMU).
 */
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
/* Discard and write zeroes: one range per request, at most 1 GiB, in 4 KiB granules (a hint). */
#define BLK_MAX_DWZ_SECTORS (1u << 21)
#define BLK_MAX_DWZ_SEG 1u
#define BLK_DISCARD_ALIGNMENT 8u

/* struct virtio_blk_config up to write_zeroes_may_unmap and its padding (5.2.4). */
#define BLK_CFG_CAPACITY 0		   /* le64, in sectors */
#define BLK_CFG_SIZE_MAX 8		   /* le32, not offered: 0 */
#define BLK_CFG_SEG_MAX 12		   /* le32 */
#define BLK_CFG_GEOMETRY 16		   /* 4 bytes, not offered: 0 */
#define BLK_CFG_BLK_SIZE 20		   /* le32 */
#define BLK_CFG_TOPOLOGY 24		   /* 8 bytes, not offered: 0 */
#define BLK_CFG_WRITEBACK 32		   /* u8, CONFIG_WCE not offered: 0 */
#define BLK_CFG_NUM_QUEUES 34		   /* le16, MQ not offered: 1 */
#define BLK_CFG_MAX_DISCARD_SECTORS 36	   /* le32 */
#define BLK_CFG_MAX_DISCARD_SEG 40	   /* le32 */
#define BLK_CFG_DISCARD_ALIGNMENT 44	   /* le32 */
#define BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48 /* le32 */
#define BLK_CFG_MAX_WRITE_ZEROES_SEG 52	   /* le32 */
#define BLK_CFG_WRITE_ZEROES_MAY_UNMAP 56  /* u8, then 3 bytes unused1 */
#define BLK_CONFIG_SIZE 60

#define BLK_FEATURES_COMMON                                                                        \
	((1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |                        \
	 (1ULL << VIRTIO_BLK_F_FLUSH))
#define BLK_FEATURES_RW                                                                            \
	(BLK_FEATURES_COMMON | (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES))
#define BLK_FEATURES_RO (BLK_FEATURES_COMMON | (1ULL << VIRTIO_BLK_F_RO))

/* What `vmm-device --type block ... -- [--read-only] [--serial ID]` asks for. */
struct blk_opts {
	bool read_only;
	uint8_t id[BLK_ID_BYTES]; /* the serial, NUL-padded: exactly what GET_ID returns */
};

/*
 * Parses the device options: --read-only, --serial ID (or --serial=ID; 1 to 20 printable ASCII
 * bytes). 0, or -EINVAL (logged) for anything else.
 */
int blk_parse_options(int argc, char **argv, struct blk_opts *o);

/* Sectors of a backend of bytes bytes: 0, or -EINVAL when empty or not a multiple of 512. */
int blk_capacity(uint64_t bytes, uint64_t *sectors);

/* Device feature bits (VERSION_1 and the ring features are entry.c's). */
uint64_t blk_features(bool read_only);

/* Fills cfg[0..BLK_CONFIG_SIZE), little-endian. */
void blk_config_fill(uint8_t *cfg, uint64_t capacity, bool read_only);

/* A request as far as its chain's lengths and header tell. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	/*
	 * IN, GET_ID: device-writable bytes before the status byte. OUT, DISCARD, WRITE_ZEROES:
	 * device-readable bytes after the header. Others: 0.
	 */
	uint32_t data_len;
};

/*
 * Decodes hdr (the chain's first BLK_HDR_SIZE readable bytes; read_len says how many there are)
 * and checks the request against a disk of capacity sectors. write_len counts the status byte,
 * which the caller made sure exists. Returns VIRTIO_BLK_S_OK when the request can go on, else
 * the status to answer with: UNSUPP for an unknown type, IOERR for a short header, a write to a
 * read-only disk, a data length the type does not allow or a range beyond the capacity.
 */
uint8_t blk_req_parse(struct blk_req *r, const uint8_t *hdr, uint32_t read_len, uint32_t write_len,
		      uint64_t capacity, bool read_only);

/* One range of a DISCARD or WRITE_ZEROES request. */
struct blk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/*
 * Decodes raw (BLK_DWZ_SIZE bytes) into s and checks it for a request of type type: UNSUPP for
 * an unknown flag or UNMAP on a discard (5.2.6.2), IOERR for more than BLK_MAX_DWZ_SECTORS or a
 * range beyond capacity, else OK.
 */
uint8_t blk_dwz_parse(struct blk_dwz *s, const uint8_t *raw, uint32_t type, uint64_t capacity);

/* True when sectors [sector, sector + n) lie on a disk of capacity sectors (overflow-safe). */
bool blk_range_ok(uint64_t capacity, uint64_t sector, uint64_t n);

/*
 * Describes bytes [off, off + len) of seg[0..n) in iov[0..max). Returns the number of iovecs,
 * or -ERANGE when the segments hold fewer bytes, -E2BIG when more than max iovecs are needed.
 */
int blk_iov_from_segs(struct iovec *iov, unsigned int max, const struct virtq_seg *seg,
		      unsigned int n, size_t off, size_t len);

/*
 * Moves past done bytes of the n iovecs at *iov (no more than they hold): drops the iovecs
 * completed and trims the next one. For the loops around partial preadv/pwritev.
 */
void blk_iov_advance(struct iovec **iov, unsigned int *n, size_t done);

#endif
