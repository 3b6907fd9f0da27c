/* The tap behind a virtio-net device. See tap.h. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int with_link(const char *name, bool bring_up, unsigned int mtu, const char *host_cidr,
		     char *err, size_t errlen);

int tap_open(const char *name, int create, int *fd, char *err, size_t errlen)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_SIZE, ret;
	unsigned int offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "%s: not a network interface name", name);
		return -EINVAL;
	}
	*fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	/* TUNSETIFF attaches to an existing tap, or makes one: ask netlink first. */
	if (!create) {
		ret = with_link(name, false, 0, NULL, err, errlen);
		if (ret < 0)
			goto fail;
	}
	if (ioctl(*fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s%s", name, strerror(errno),
			 errno == EBUSY ? " (in use by another process)" : "");
		goto fail;
	}
	if (ioctl(*fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(*fd, TUNSETOFFLOAD, offloads) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: vnet header or offloads: %s", name, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return ret;
}

/* libnl's error as an errno, for the caller. */
static int nl_fail(char *err, size_t errlen, const char *name, const char *what, int nlerr)
{
	snprintf(err, errlen, "%s: %s: %s", name, what, nl_geterror(nlerr));
	return nlerr == -NLE_OBJ_NOTFOUND || nlerr == -NLE_NODEV ? -ENODEV : -EIO;
}

static int add_address(struct nl_sock *sk, int ifindex, const char *name, const char *cidr,
		       char *err, size_t errlen)
{
	struct nl_addr *local = NULL;
	struct rtnl_addr *addr;
	int ret = nl_addr_parse(cidr, AF_INET, &local);

	if (ret < 0) {
		snprintf(err, errlen, "%s: host_ip '%s' is not an IPv4 address/prefix", name, cidr);
		return -EINVAL;
	}
	addr = rtnl_addr_alloc();
	if (!addr) {
		nl_addr_put(local);
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_local(addr, local);
	ret = rtnl_addr_add(sk, addr, 0);
	rtnl_addr_put(addr);
	nl_addr_put(local);
	if (ret < 0 && ret != -NLE_EXIST)
		return nl_fail(err, errlen, name, "adding its address", ret);
	return 0;
}

/* Looks the link up and checks it is a tap; with bring_up, also mtu, address and IFF_UP. */
static int with_link(const char *name, bool bring_up, unsigned int mtu, const char *host_cidr,
		     char *err, size_t errlen)
{
	struct rtnl_link *link = NULL, *change = NULL;
	struct nl_sock *sk = nl_socket_alloc();
	const char *kind;
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		ret = nl_fail(err, errlen, name, "netlink", ret);
		goto out;
	}
	ret = rtnl_link_get_kernel(sk, 0, name, &link);
	if (ret < 0) {
		snprintf(err, errlen, "%s: no such network interface", name);
		ret = -ENODEV;
		goto out;
	}
	kind = rtnl_link_get_type(link);
	if (!kind || strcmp(kind, "tun") != 0) {
		snprintf(err, errlen, "%s: not a tap (it is %s)", name, kind ? kind : "a plain link");
		ret = -EINVAL;
		goto out;
	}
	if (!bring_up)
		goto out; /* only the check */
	change = rtnl_link_alloc();
	if (!change) {
		ret = -ENOMEM;
		goto out;
	}
	if (mtu)
		rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);
	ret = rtnl_link_change(sk, link, change, 0);
	if (ret < 0) {
		ret = nl_fail(err, errlen, name, "bringing it up", ret);
		goto out;
	}
	if (host_cidr)
		ret = add_address(sk, rtnl_link_get_ifindex(link), name, host_cidr, err, errlen);
out:
	if (change)
		rtnl_link_put(change);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return ret;
}

int tap_configure(const char *name, unsigned int mtu, const char *host_cidr, char *err,
		  size_t errlen)
{
	return with_link(name, true, mtu, host_cidr, err, errlen);
}
