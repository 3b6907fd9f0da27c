#include "pci.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define CONFIG_ENABLE 0x80000000u

/* A host bridge with Red Hat's id for a generic PCIe host bridge: no quirks apply to it. */
#define HOST_BRIDGE_VENDOR 0x1b36
#define HOST_BRIDGE_DEVICE 0x0008
#define CLASS_BRIDGE_HOST 0x0600

void pci_cfg_set16(struct pci_device *d, uint32_t off, uint16_t v)
{
	d->cfg[off] = (uint8_t)v;
	d->cfg[off + 1] = (uint8_t)(v >> 8);
}

void pci_cfg_set32(struct pci_device *d, uint32_t off, uint32_t v)
{
	pci_cfg_set16(d, off, (uint16_t)v);
	pci_cfg_set16(d, off + 2, (uint16_t)(v >> 16));
}

uint32_t pci_cfg_read(const struct pci_device *d, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_write(struct pci_device *d, uint32_t off, uint32_t len, uint32_t val)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
		uint8_t m = d->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));
		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
	}
}

void pci_root_init(struct pci_root *p, struct vm_stopper stopper)
{
	struct pci_device *hb = &p->host_bridge;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->stopper = stopper;
	hb->name = "host-bridge";
	pci_cfg_set16(hb, PCI_VENDOR_ID, HOST_BRIDGE_VENDOR);
	pci_cfg_set16(hb, PCI_DEVICE_ID, HOST_BRIDGE_DEVICE);
	pci_cfg_set16(hb, PCI_CLASS_DEVICE, CLASS_BRIDGE_HOST);
	pci_cfg_set16(hb, PCI_SUBSYSTEM_VENDOR_ID, HOST_BRIDGE_VENDOR);
	pci_cfg_set16(hb, PCI_SUBSYSTEM_ID, 0x1100);
	hb->wmask[PCI_COMMAND] = 0x06; /* memory and bus-master enable: accepted, no effect */
	p->slots[0] = hb;
}

void pci_root_destroy(struct pci_root *p)
{
	pthread_mutex_destroy(&p->lock);
}

int pci_root_add(struct pci_root *p, unsigned int slot, struct pci_device *dev)
{
	if (slot >= PCI_SLOTS)
		return -EINVAL;
	if (p->slots[slot])
		return -EBUSY;
	p->slots[slot] = dev;
	return 0;
}

/* The device the address register selects, or NULL (bus != 0, function != 0, empty slot). */
static struct pci_device *selected(const struct pci_root *p)
{
	uint32_t a = p->address;

	if (!(a & CONFIG_ENABLE) || ((a >> 16) & 0xff) != 0 || ((a >> 8) & 7) != 0)
		return NULL;
	return p->slots[(a >> 11) & 0x1f];
}

static void root_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct pci_root *p = ctx;
	struct pci_device *d;
	uint32_t v = 0xffffffffu;

	pthread_mutex_lock(&p->lock);
	if (off < 4) {
		v = off == 0 && len == 4 ? p->address : 0xffffffffu;
	} else if ((d = selected(p)) != NULL) {
		v = pci_cfg_read(d, (p->address & 0xfc) + (uint32_t)(off - 4), len);
	}
	pthread_mutex_unlock(&p->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void root_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pci_root *p = ctx;
	struct pci_device *d;
	bool reset = false;
	uint32_t v = 0;

	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	pthread_mutex_lock(&p->lock);
	if (off < 4) {
		/* Only whole-dword writes reach CONFIG_ADDRESS (a byte to 0xcfb is not ours). */
		if (off == 0 && len == 4)
			p->address = v & 0x80fffffcu;
		/* 0xcf9, the reset control register: bit 2 starts the reset (`reboot=pci`). */
		else if (off == 1 && len == 1 && (v & 0x04))
			reset = true;
	} else if ((d = selected(p)) != NULL) {
		pci_cfg_write(d, (p->address & 0xfc) + (uint32_t)(off - 4), len, v);
	}
	pthread_mutex_unlock(&p->lock);
	if (reset)
		p->stopper.stop(p->stopper.ctx, VM_STOP_RESET);
}

const struct bus_ops pci_root_ops = {
	.read = root_read,
	.write = root_write,
};
