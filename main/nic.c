/* A guest NIC's host side. See nic.h. */
#include "nic.h"

#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "util.h"

void nic_default_mac(const char *vm_name, unsigned int index, char mac[NIC_MAC_LEN])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = vm_name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(mac, NIC_MAC_LEN, "52:54:00:%02x:%02x:%02x", (h >> 8) & 0xff, h & 0xff,
		 index & 0xff);
}

int nic_open_tap(const struct net_config *nc, int *fd, char *err, size_t errlen)
{
	int ret = tap_open(nc->tap, nc->create, fd, err, errlen);

	if (ret < 0)
		return ret;
	ret = tap_configure(nc->tap, nc->mtu, nc->host_ip, err, errlen);
	if (ret < 0)
		close_fd(fd);
	return ret;
}
