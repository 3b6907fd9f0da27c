/*
 * The host side of a virtio-net device (issue 6): the tap. Main opens it (/dev/net/tun,
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte virtio_net_hdr_mrg_rxbuf header) and, through
 * libnl-3 (route), checks that the link is a tap, sets its MTU, adds the host's address and
 * brings it up. The net device process gets the tap fd and nothing else of the host network.
 */
#ifndef VMM_MAIN_TAP_H
#define VMM_MAIN_TAP_H

#include <stddef.h>

#define TAP_VNET_HDR_SIZE 12

/*
 * Opens the tap `name` (an existing one, or a new one when create) with a vnet header and
 * the offloads the guest may get (checksum, TSO4/6). 0 and *fd (CLOEXEC, non-blocking), or
 * -errno with err = one line ("tap0: no such tap", ...).
 */
int tap_open(const char *name, int create, int *fd, char *err, size_t errlen);
/*
 * Checks through netlink that `name` exists and is a tap, sets mtu (0: leave it), adds
 * host_cidr ("169.254.100.1/24", NULL: none) and brings the link up. 0 or -errno with err.
 */
int tap_configure(const char *name, unsigned int mtu, const char *host_cidr, char *err,
		  size_t errlen);

#endif
