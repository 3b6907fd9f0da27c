/* ctrl tube I/O beyond the codecs (msg_device.h), kept apart so the codecs stay pure. */
#include "msg_device.h"

#include <errno.h>

#include "tube.h"
#include "util.h"

int msg_device_recv_listener(struct tube *t, int timeout_ms, int *fd)
{
	uint8_t in[MSG_MAX_SIZE];
	struct device_response r;
	unsigned int nfds = 0;
	size_t len;
	int ret = tube_recv(t, in, sizeof(in), &len, fd, 1, &nfds, timeout_ms);

	if (ret < 0)
		return ret;
	ret = msg_device_decode_response(in, len, nfds, &r);
	if (ret == 0 && r.hdr.type != MSG_DEVICE_SECCOMP_LISTENER)
		ret = -EPROTO;
	if (ret < 0 && nfds > 0)
		close_fd(fd);
	return ret;
}
