/*
 * virtio-blk requests (virtio 1.2, 5.2.6) for the device harness: a 16-byte header the device
 * reads, the data, and a status byte the device writes.
 */
#ifndef VMM_TESTS_HARNESS_BLK_H
#define VMM_TESTS_HARNESS_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR 512
/* The header at +0 of a request area, the status byte at +HARNESS_BLK_STATUS_OFF. */
#define HARNESS_BLK_STATUS_OFF 32

/* DISCARD and WRITE_ZEROES data: one segment each (virtio 1.2, 5.2.6). */
struct harness_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* bit 0: unmap (WRITE_ZEROES only) */
};
_Static_assert(sizeof(struct harness_blk_range) == 16, "discard/write zeroes segment");

/* A request area (header + status) in guest memory: 0 when guest memory is used up. */
uint64_t harness_blk_alloc_req(struct harness *h);
/* Writes the header of a request into the area req and sets its status byte to 0xff. */
void harness_blk_header(struct harness *h, uint64_t req, uint32_t type, uint64_t sector);
/*
 * Queues one request using the area req: header, then data[0..len) (device-writable for IN and
 * GET_ID, readable otherwise; left out when len is 0), then the status byte, set to 0xff first.
 * Returns the head or a negative errno (harness_add()).
 */
int harness_blk_add(struct harness *h, unsigned int qi, uint64_t req, uint32_t type,
		    uint64_t sector, uint64_t data, uint32_t len, bool indirect);
uint8_t harness_blk_status(struct harness *h, uint64_t req);
/*
 * One request on queue 0, submitted and waited for: returns its status byte, or a negative errno
 * when it did not complete. *used_len gets the used element's length when not NULL.
 */
int harness_blk_do(struct harness *h, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		   bool indirect, uint32_t *used_len);

/*
 * A sparse image file of size bytes in $TMPDIR (else /var/tmp), already unlinked so that nothing
 * is left behind whatever happens: returns an O_RDWR fd, or a negative errno. Reopen it (a second
 * open file description, or read-only) through /proc/self/fd with harness_blk_reopen().
 */
int harness_blk_image(uint64_t size);
int harness_blk_reopen(int fd, int flags);

#endif
