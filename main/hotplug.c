/* Hot-plugged NICs. See hotplug.h. */
#include "hotplug.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "irq_router.h"
#include "log.h"
#include "nic.h"
#include "util.h"
#include "virtio_pci.h"

/* ---- the slots' windows on the MMIO bus ---- */

static void window_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct hotplug_slot *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (s->vp && off < VIRTIO_PCI_BAR_SIZE)
		virtio_pci_bar_ops.read(s->vp, off, data, len);
	else
		memset(data, 0xff, len);
	pthread_mutex_unlock(&s->lock);
}

static void window_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct hotplug_slot *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (s->vp && off < VIRTIO_PCI_BAR_SIZE)
		virtio_pci_bar_ops.write(s->vp, off, data, len);
	pthread_mutex_unlock(&s->lock);
}

static const struct bus_ops window_ops = {.read = window_read, .write = window_write};

/* ---- the ports' callbacks (PCI root lock held) ---- */

#define HOTPLUG_BAD_MSI_LOGS 10 /* the first refused messages are logged, not a guest's every one */

static void port_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct hotplug_slot *s = ctx;
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};
	static atomic_uint refused;

	if (!irq_router_msi_valid(addr, data)) {
		if (atomic_fetch_add(&refused, 1) < HOTPLUG_BAD_MSI_LOGS)
			log_warn("hot-plug slot %u: the guest's MSI address 0x%llx data 0x%x is "
				 "not an interrupt a device may send; not sent",
				 (unsigned int)(s - s->hp->slots), (unsigned long long)addr, data);
		return;
	}
	if (ioctl(s->hp->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_warn_errno("hot-plug slot %u: KVM_SIGNAL_MSI", (unsigned int)(s - s->hp->slots));
}

/* A Slot Control change the remove path waits for (wait_released()). */
static void slot_note(struct hotplug_slot *s, bool *field, bool value)
{
	pthread_mutex_lock(&s->hp->lock);
	*field = value;
	pthread_cond_broadcast(&s->hp->cond);
	pthread_mutex_unlock(&s->hp->lock);
}

static void port_power(void *ctx, bool on)
{
	struct hotplug_slot *s = ctx;

	slot_note(s, &s->powered, on);
}

static void port_indicator(void *ctx, bool off)
{
	struct hotplug_slot *s = ctx;

	slot_note(s, &s->dark, off);
}

static const struct pcie_port_ops port_ops = {
    .msi = port_msi, .power = port_power, .indicator = port_indicator};

int hotplug_init(struct hotplug *hp, unsigned int n, struct pci_root *root, struct bus *mmio,
		 int vm_fd, struct device_host *devices, const char *vm_name)
{
	pthread_condattr_t ca;
	int ret = 0;

	memset(hp, 0, sizeof(*hp));
	hp->vm_fd = vm_fd;
	hp->devices = devices;
	hp->vm_name = vm_name;
	pthread_mutex_init(&hp->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hp->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned int i = 0; i < n && ret == 0; i++) {
		struct hotplug_slot *s = &hp->slots[i];
		struct pcie_port_config c = {.secondary_bus = (uint8_t)(i + 1),
					     .slot_number = (uint16_t)(i + 1),
					     .mem_size = PCIE_PORT_WINDOW_ALIGN};
		unsigned int slot;

		s->hp = hp;
		s->dark = true; /* Slot Control starts with power and indicators off */
		pthread_mutex_init(&s->lock, NULL);
		hp->n = i + 1;
		ret = pci_mmio_alloc(root, PCIE_PORT_WINDOW_ALIGN, &c.mem_base);
		if (ret == 0)
			ret = pcie_port_init(&s->port, root, &c, &port_ops, s);
		for (slot = 1; ret == 0 && slot < PCI_SLOTS && root->slots[slot]; slot++)
			;
		if (ret == 0)
			ret = slot < PCI_SLOTS ? pci_root_add(root, slot, &s->port.pci) : -ENOSPC;
		s->window = c.mem_base;
		if (ret == 0)
			ret = bus_add(mmio, c.mem_base, c.mem_size, &window_ops, s, "hotplug-window");
	}
	if (ret < 0)
		log_err("[pci] hotplug_slots: cannot make root port %u: %s", hp->n - 1,
			strerror(-ret));
	/* hot-plugged NICs are jailed after the lockdown: their filter is compiled now */
	if (ret == 0 && n)
		ret = device_host_prepare_type(devices, "net");
	return ret;
}

void hotplug_destroy(struct hotplug *hp)
{
	for (unsigned int i = 0; i < hp->n; i++)
		pthread_mutex_destroy(&hp->slots[i].lock);
	pthread_mutex_destroy(&hp->lock);
	pthread_cond_destroy(&hp->cond);
	hp->n = 0;
}

/* ---- add and remove ---- */

static struct hotplug_slot *slot_of_tap(struct hotplug *hp, const char *tap)
{
	for (unsigned int i = 0; i < hp->n; i++)
		if (hp->slots[i].dev && strcmp(hp->slots[i].dev->backend, tap) == 0)
			return &hp->slots[i];
	return NULL;
}

/* The tap behind fd must be `tap`: the fd came from a client. */
static int check_tap_fd(int fd, const char *tap, char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		snprintf(err, errlen, "%s: the fd sent is not a tap", tap);
		return -EINVAL;
	}
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) ||
	    strncmp(ifr.ifr_name, tap, IFNAMSIZ) != 0) {
		snprintf(err, errlen, "%s: the fd sent is %.*s, not this tap with a vnet header", tap,
			 IFNAMSIZ, ifr.ifr_name);
		return -EINVAL;
	}
	return 0;
}

static int64_t ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The empty slot freed longest ago (never used counts as longest), or NULL. */
static struct hotplug_slot *free_slot(struct hotplug *hp)
{
	struct hotplug_slot *best = NULL;

	for (unsigned int i = 0; i < hp->n; i++) {
		struct hotplug_slot *s = &hp->slots[i];

		if (s->dev || pcie_port_occupied(&s->port))
			continue;
		if (!best || s->freed.tv_sec < best->freed.tv_sec ||
		    (s->freed.tv_sec == best->freed.tv_sec && s->freed.tv_nsec < best->freed.tv_nsec))
			best = s;
	}
	return best;
}

/* Waits until s has been free HOTPLUG_SLOT_SETTLE_MS (pciehp would drop a card plugged sooner). */
static void settle(const struct hotplug_slot *s)
{
	int64_t left;

	if (s->freed.tv_sec == 0 && s->freed.tv_nsec == 0)
		return;
	left = HOTPLUG_SLOT_SETTLE_MS - ms_since(&s->freed);
	if (left > 0) {
		struct timespec d = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};

		while (nanosleep(&d, &d) < 0 && errno == EINTR)
			;
	}
}

/* "netN", the first N no device has. */
static void free_name(struct hotplug *hp, char *name, size_t len, unsigned int *index)
{
	for (unsigned int i = 0;; i++) {
		snprintf(name, len, "net%u", i);
		if (!device_host_find(hp->devices, name)) {
			*index = i;
			return;
		}
	}
}

int hotplug_add_net(struct hotplug *hp, const char *tap, int *fd,
		    struct msg_vm_hotplug_net_done *done, char *err, size_t errlen)
{
	struct device_spec spec = {.type = "net", .backend = tap};
	char name[DEVICE_NAME_MAX], mac[NIC_MAC_LEN];
	struct hotplug_slot *s = NULL;
	struct hosted_device *d;
	unsigned int index;
	int ret;

	if (*fd < 0 || check_tap_fd(*fd, tap, err, errlen) < 0)
		return -EINVAL;
	d = device_host_find_backend(hp->devices, tap);
	if (d) {
		snprintf(err, errlen, "%s is already in use by this VM (%s)", tap, d->name);
		return -EBUSY;
	}
	s = free_slot(hp);
	if (!s) {
		snprintf(err, errlen, "no free hot-plug slot (the VM has %u; [pci] hotplug_slots)",
			 hp->n);
		return -ENOSPC;
	}
	settle(s);
	free_name(hp, name, sizeof(name), &index);
	nic_default_mac(hp->vm_name, index, mac);
	spec.name = name;
	spec.backend_fd = *fd;
	*fd = -1; /* the device host's now, on failure too */
	spec.args[0] = "--mac";
	spec.args[1] = mac;
	spec.port = &s->port;
	spec.bar = s->window;
	ret = device_host_spawn(hp->devices, &spec);
	d = ret == 0 ? device_host_find(hp->devices, name) : NULL;
	if (!d) {
		snprintf(err, errlen, "%s: cannot start its net device: %s", tap,
			 strerror(ret < 0 ? -ret : ENOENT));
		return ret < 0 ? ret : -ENOENT;
	}
	pthread_mutex_lock(&s->lock);
	s->vp = &d->vp;
	s->dev = d;
	pthread_mutex_unlock(&s->lock);
	ret = pcie_port_plug(&s->port, &d->vp.pci);
	if (ret < 0) {
		pthread_mutex_lock(&s->lock);
		s->vp = NULL;
		s->dev = NULL;
		pthread_mutex_unlock(&s->lock);
		device_host_remove(hp->devices, d);
		snprintf(err, errlen, "%s: slot %u: %s", tap, (unsigned int)(s - hp->slots),
			 strerror(-ret));
		return ret;
	}
	msg_set_str(done->device, sizeof(done->device), name);
	done->pci_addr =
	    MSG_VM_PCI_ADDR(pci_cfg_read(&s->port.pci, PCI_SECONDARY_BUS, 1), 0);
	log_info("hotplug-net: %s on %s (pid %d, mac %s) in slot %u", name, tap, (int)d->pid, mac,
		 (unsigned int)(s - hp->slots));
	device_host_event(hp->devices, MSG_VM_EVENT_NET_HOTPLUG, name, (uint32_t)d->pid, 0, 1, tap);
	return 0;
}

static struct timespec deadline(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/*
 * Waits (bounded) for the guest to power the slot off, then (bounded again) for it to finish
 * with the slot: power indicator off. held (if any) is let go of meanwhile. 1 when the slot was
 * powered off, 0 when the guest did not in time, -ECANCELED when the VM is stopping.
 */
static int wait_released(struct hotplug *hp, struct hotplug_slot *s, int ms, pthread_mutex_t *held)
{
	struct timespec until = deadline(ms);
	int ret;

	if (held)
		pthread_mutex_unlock(held);
	pthread_mutex_lock(&hp->lock);
	while (s->powered && !hp->stopping &&
	       pthread_cond_timedwait(&hp->cond, &hp->lock, &until) == 0)
		;
	ret = hp->stopping ? -ECANCELED : !s->powered;
	if (ret == 1) {
		until = deadline(HOTPLUG_INDICATOR_MS);
		while (!s->dark && !s->powered && !hp->stopping &&
		       pthread_cond_timedwait(&hp->cond, &hp->lock, &until) == 0)
			;
		if (!s->dark)
			log_info("hot-plug slot %u: the guest left the power indicator on",
				 (unsigned int)(s - hp->slots));
	}
	pthread_mutex_unlock(&hp->lock);
	if (held)
		pthread_mutex_lock(held);
	return ret;
}

void hotplug_cancel(struct hotplug *hp)
{
	pthread_mutex_lock(&hp->lock);
	hp->stopping = true;
	pthread_cond_broadcast(&hp->cond);
	pthread_mutex_unlock(&hp->lock);
}

int hotplug_remove_net(struct hotplug *hp, const char *tap, bool force, pthread_mutex_t *held,
		       char *err, size_t errlen)
{
	struct hotplug_slot *s = slot_of_tap(hp, tap);
	struct hosted_device *d;
	char name[DEVICE_NAME_MAX];
	bool released;
	int ret;

	if (!s) {
		d = device_host_find_backend(hp->devices, tap);
		if (d)
			snprintf(err, errlen, "%s is %s's tap from the VM's config, not hot-plugged",
				 tap, d->name);
		else
			snprintf(err, errlen, "no hot-plugged NIC on %s", tap);
		return -ENOENT;
	}
	d = s->dev;
	snprintf(name, sizeof(name), "%s", d->name);
	/* s->powered follows every Slot Control power write (port_power); ports start off */
	ret = pcie_port_request_unplug(&s->port);
	ret = ret != 0 ? 1 : wait_released(hp, s, HOTPLUG_RELEASE_MS, held);
	if (ret == -ECANCELED) {
		snprintf(err, errlen, "the VM is stopping; %s (%s) was not removed", name, tap);
		return ret;
	}
	released = ret == 1;
	if (!released && !force) {
		snprintf(err, errlen,
			 "the guest did not release %s (%s) within %d s; it stays (--force removes "
			 "it anyway)", name, tap, HOTPLUG_RELEASE_MS / 1000);
		return -ETIMEDOUT;
	}
	pcie_port_remove(&s->port);
	pthread_mutex_lock(&s->lock);
	s->vp = NULL;
	s->dev = NULL;
	pthread_mutex_unlock(&s->lock);
	device_host_remove(hp->devices, d);
	clock_gettime(CLOCK_MONOTONIC, &s->freed);
	log_info("hotplug-net: %s on %s removed%s", name, tap,
		 released ? "" : " (forced: the guest had not released it)");
	device_host_event(hp->devices, MSG_VM_EVENT_NET_HOTPLUG, name, 0, 0, 0, tap);
	return 0;
}
