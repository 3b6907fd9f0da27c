/* virtio-blk requests for the device harness (harness_blk.h). */
#include "harness_blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t harness_blk_alloc_req(struct harness *h)
{
	return harness_alloc(h, 64);
}

void harness_blk_header(struct harness *h, uint64_t req, uint32_t type, uint64_t sector)
{
	uint8_t *p = harness_ptr(h, req, 64);
	uint32_t t = htole32(type), reserved = 0;
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memcpy(p + 4, &reserved, 4);
	memcpy(p + 8, &s, 8);
	p[HARNESS_BLK_STATUS_OFF] = 0xff;
}

int harness_blk_add(struct harness *h, unsigned int qi, uint64_t req, uint32_t type,
		    uint64_t sector, uint64_t data, uint32_t len, bool indirect)
{
	bool data_in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct harness_buf b[3];
	unsigned int n = 0;

	harness_blk_header(h, req, type, sector);
	b[n++] = (struct harness_buf){.gpa = req, .len = 16, .write = false};
	if (len)
		b[n++] = (struct harness_buf){.gpa = data, .len = len, .write = data_in};
	b[n++] = (struct harness_buf){.gpa = req + HARNESS_BLK_STATUS_OFF, .len = 1, .write = true};
	return harness_add(h, qi, b, n, indirect);
}

uint8_t harness_blk_status(struct harness *h, uint64_t req)
{
	return *(volatile uint8_t *)harness_ptr(h, req + HARNESS_BLK_STATUS_OFF, 1);
}

int harness_blk_do(struct harness *h, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		   bool indirect, uint32_t *used_len)
{
	uint64_t req = harness_blk_alloc_req(h);
	struct harness_used u;
	int head, ret;

	if (!req)
		return -ENOMEM;
	head = harness_blk_add(h, 0, req, type, sector, data, len, indirect);
	if (head < 0)
		return head;
	harness_kick(h, 0);
	ret = harness_wait_used(h, 0, &u, HARNESS_TIMEOUT_MS);
	if (ret < 0)
		return ret;
	if (u.id != (uint32_t)head)
		return -EPROTO;
	if (used_len)
		*used_len = u.len;
	return harness_blk_status(h, req);
}

int harness_blk_image(uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/harness-blk-XXXXXX", dir && *dir ? dir : "/var/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (ftruncate(fd, (off_t)size) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int harness_blk_reopen(int fd, int flags)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_CLOEXEC);
	return nfd < 0 ? -errno : nfd;
}
