/*
 * main/tap.c against the real kernel, inside a network namespace of the test's own (criterion
 * runs each test in its own process; unshare(CLONE_NEWNET) leaves the host's network alone).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"

static void own_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("NOT RUN: tap tests need root (a network namespace and /dev/net/tun)");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
}

/* Makes a persistent tap `name` in the test's namespace, as an operator would. */
static void make_tap(const char *name)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	cr_assert_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
}

static unsigned int link_flags(const char *name, int *mtu)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	unsigned int flags = (unsigned short)ifr.ifr_flags;
	cr_assert_eq(ioctl(s, SIOCGIFMTU, &ifr), 0);
	*mtu = ifr.ifr_mtu;
	close(s);
	return flags;
}

Test(tap, opens_an_existing_tap_with_a_vnet_header)
{
	char err[256] = "";
	int fd = -1, hdr = 0;

	own_netns();
	make_tap("tap0");
	cr_assert_eq(tap_open("tap0", 0, &fd, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ioctl(fd, TUNGETVNETHDRSZ, &hdr), 0);
	cr_assert_eq(hdr, TAP_VNET_HDR_SIZE);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

Test(tap, refuses_a_missing_tap_unless_asked_to_create)
{
	char err[256] = "";
	int fd = -1, mtu;

	own_netns();
	cr_assert_eq(tap_open("tap9", 0, &fd, err, sizeof(err)), -ENODEV);
	cr_assert_str_eq(err, "tap9: no such network interface");
	cr_assert_eq(fd, -1);
	cr_assert_eq(tap_open("tap9", 1, &fd, err, sizeof(err)), 0, "%s", err);
	link_flags("tap9", &mtu);
	close(fd);
}

Test(tap, refuses_what_is_not_a_tap)
{
	char err[256] = "";
	int fd = -1;

	own_netns();
	cr_assert_eq(tap_open("lo", 0, &fd, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "lo: not a tap (it is a plain link)");
	cr_assert_eq(tap_configure("lo", 1500, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(tap_open("", 0, &fd, err, sizeof(err)), -EINVAL);
	cr_assert_eq(tap_open("a-name-far-too-long", 0, &fd, err, sizeof(err)), -EINVAL);
}

Test(tap, configures_mtu_address_and_brings_it_up)
{
	char err[256] = "", cmd[128];
	int mtu = 0;

	own_netns();
	make_tap("tap1");
	cr_assert_eq(tap_configure("tap1", 1400, "169.254.100.1/24", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(link_flags("tap1", &mtu) & IFF_UP);
	cr_assert_eq(mtu, 1400);
	/* the address, as ip(8) shows it, in this namespace */
	snprintf(cmd, sizeof(cmd), "ip -4 -o addr show dev tap1 | grep -q '169.254.100.1/24'");
	cr_assert_eq(system(cmd), 0, "tap1 has no 169.254.100.1/24");
	/* a second time is harmless (the address exists) */
	cr_assert_eq(tap_configure("tap1", 1400, "169.254.100.1/24", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(tap_configure("tap1", 0, "not-an-ip", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "tap1: host_ip 'not-an-ip' is not an IPv4 address/prefix");
}
