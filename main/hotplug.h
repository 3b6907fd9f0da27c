/*
 * Hot-plugged NICs (vmm-ctl hotplug-net): [pci] hotplug_slots PCIe root ports (pcie_port.h),
 * each with one empty slot and a 1 MiB memory window, made at setup; a NIC added at run time
 * gets a jailed net device (spawned through the jail warden, device_host.h) whose virtio-pci
 * function goes into a free slot, its BAR at the start of the slot's window.
 *
 * The windows are on the MMIO bus from the start (the bus is fixed once the vCPUs run); each
 * dispatches to the function in its slot, or reads all ones when the slot is empty.
 *
 * Called from the control socket's worker thread, one request at a time, under vm.c's ctl_lock,
 * which remove lets go of while it waits for the guest (the control socket keeps answering).
 */
#ifndef VMM_MAIN_HOTPLUG_H
#define VMM_MAIN_HOTPLUG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "device_host.h"
#include "msg_vm.h"
#include "pcie_port.h"

/*
 * Linux's pciehp ignores presence and link changes for 1 s after it powers a slot off: a slot
 * is used again only this long after its NIC was removed (add waits for the rest, at most this).
 */
#define HOTPLUG_SLOT_SETTLE_MS 2000
/* How long remove waits for the guest to let go of a NIC: msg_vm.h, HOTPLUG_RELEASE_WAIT_MS. */
#define HOTPLUG_RELEASE_MS HOTPLUG_RELEASE_WAIT_MS
/*
 * After the power-off, how long remove waits for the guest to turn the power indicator off,
 * the end of its work on the slot (Linux: 1 s later). A guest that never does is not waited
 * for longer: the power-off already released the function.
 */
#define HOTPLUG_INDICATOR_MS 3000

struct hotplug;

struct hotplug_slot {
	struct pcie_port port;
	struct hotplug *hp;
	uint64_t window;		/* its memory window's base (the BAR goes here) */
	pthread_mutex_t lock;		/* the window's dispatch */
	struct virtio_pci *vp;		/* what the window decodes to, or NULL */
	struct hosted_device *dev;	/* the NIC in the slot, or NULL */
	bool powered;			/* the guest's last Slot Control power */
	bool dark;			/* its power indicator is off */
	struct timespec freed;		/* CLOCK_MONOTONIC when its last NIC was removed */
};

struct hotplug {
	struct hotplug_slot slots[CONFIG_HOTPLUG_SLOTS_MAX];
	unsigned int n;
	int vm_fd;
	struct device_host *devices;
	const char *vm_name;
	pthread_mutex_t lock; /* powered, dark and stopping, with cond */
	pthread_cond_t cond;
	bool stopping; /* hotplug_cancel(): the VM stops, nothing waits for the guest any more */
};

/*
 * Makes n root ports on bus 0 (after the boot devices), with windows on mmio. Before the
 * vCPUs start. 0 or -errno (logged).
 */
int hotplug_init(struct hotplug *hp, unsigned int n, struct pci_root *root, struct bus *mmio,
		 int vm_fd, struct device_host *devices, const char *vm_name);
void hotplug_destroy(struct hotplug *hp);

/*
 * Adds a NIC on `tap` (fd: its open tap, taken: *fd becomes -1): a net device in a free slot.
 * done: its name and PCI address. 0, or -errno with err.
 */
int hotplug_add_net(struct hotplug *hp, const char *tap, int *fd,
		    struct msg_vm_hotplug_net_done *done, char *err, size_t errlen);
/*
 * Removes the hot-plugged NIC on `tap`: asks the guest to let go (attention button), waits for
 * it (bounded), then stops its device and frees the slot. force: remove even when the guest
 * does not let go in time (a surprise removal). held: a mutex the caller holds, let go of while
 * remove waits for the guest (or NULL). 0, or -errno with err (-ECANCELED: the VM is stopping).
 */
int hotplug_remove_net(struct hotplug *hp, const char *tap, bool force, pthread_mutex_t *held,
		       char *err, size_t errlen);
/* The VM stops: a remove waiting for the guest gives up at once, and later ones do not wait. */
void hotplug_cancel(struct hotplug *hp);

#endif
