/*
 * A guest NIC's host side, for [[net]] at boot and vmm-ctl hotplug-net: its tap (tap.h) and
 * its MAC address.
 */
#ifndef VMM_MAIN_NIC_H
#define VMM_MAIN_NIC_H

#include <stddef.h>

#include "config.h"

#define NIC_MAC_LEN 18 /* "52:54:00:12:34:56" and its NUL */

/*
 * The MAC a NIC gets when its config sets none: locally administered (0x52:0x54:0x00, as
 * QEMU's), then two bytes hashed from the VM's name and the NIC's index, so the same VM gets
 * the same addresses on every boot and two VMs on one host are unlikely to clash.
 */
void nic_default_mac(const char *vm_name, unsigned int index, char mac[NIC_MAC_LEN]);

/*
 * Opens nc's tap (creating it when nc->create), then sets its MTU and host address and
 * brings it up. Needs CAP_NET_ADMIN: main does it before its lockdown. 0 and *fd, or -errno
 * with err = one line naming the tap.
 */
int nic_open_tap(const struct net_config *nc, int *fd, char *err, size_t errlen);

#endif
