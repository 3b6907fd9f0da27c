#include "pci.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "layout.h"
#include "log.h"
#include "util.h"

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

static uint32_t reg32(const struct pci_device *d, uint32_t off)
{
	return d->cfg[off] | (uint32_t)d->cfg[off + 1] << 8 | (uint32_t)d->cfg[off + 2] << 16 |
	       (uint32_t)d->cfg[off + 3] << 24;
}

/* The BAR register `off` falls in, or PCI_NUM_BARS. */
static uint32_t bar_reg(uint32_t off)
{
	if (off < PCI_BAR0 || off >= PCI_BAR0 + 4 * PCI_NUM_BARS)
		return PCI_NUM_BARS;
	return (off - PCI_BAR0) / 4;
}

static uint8_t cfg_byte(const struct pci_device *d, uint32_t off)
{
	uint32_t reg = bar_reg(off), v;

	if (reg == PCI_NUM_BARS || !(d->bar_sizing & (1u << reg)))
		return d->cfg[off];
	/* A sizing probe: ones in the size mask, the type bits (and zeros) below it. */
	v = d->bar_mask[reg] | (reg32(d, PCI_BAR0 + 4 * reg) & ~d->bar_mask[reg]);
	return (uint8_t)(v >> (8 * (off & 3)));
}

uint32_t pci_cfg_read(const struct pci_device *d, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)cfg_byte(d, off + i) << (8 * i);
	return v;
}

/*
 * BAR registers are read-only (wmask 0) but remember a sizing probe: a dword write with every
 * bit of the size mask set latches it, any other write releases it, which restores the
 * assigned address whatever was written (pci.h).
 */
static void bar_write(struct pci_device *d, uint32_t off, uint32_t len, uint32_t val)
{
	uint32_t first = off < PCI_BAR0 ? 0 : bar_reg(off);

	for (uint32_t reg = first; reg < PCI_NUM_BARS && PCI_BAR0 + 4 * reg < off + len; reg++) {
		uint32_t base = PCI_BAR0 + 4 * reg, mask = d->bar_mask[reg];

		if (!mask)
			continue;
		if (off == base && len == 4 && (val & mask) == mask) {
			d->bar_sizing |= (uint8_t)(1u << reg);
			continue;
		}
		d->bar_sizing &= (uint8_t)~(1u << reg);
		if (off == base && len == 4 && (val & mask) != (reg32(d, base) & mask))
			log_debug("%s: BAR register %u: ignored the move to 0x%08x (fixed)",
				  d->name ? d->name : "pci", reg, val);
	}
}

void pci_cfg_write(struct pci_device *d, uint32_t off, uint32_t len, uint32_t val)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++) {
		uint8_t m = d->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));
		uint8_t v = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
		d->cfg[off + i] = (uint8_t)(v & ~(b & d->w1cmask[off + i]));
	}
	if (len && (bar_reg(off) < PCI_NUM_BARS || bar_reg(off + len - 1) < PCI_NUM_BARS))
		bar_write(d, off, len, val);
}

int pci_bar_set(struct pci_device *d, unsigned int bar, uint64_t addr, uint64_t size,
		unsigned int flags)
{
	bool is64 = flags & PCI_BAR_MEM_64;
	uint32_t off = PCI_BAR0 + 4 * bar;

	if (flags & ~(unsigned int)(PCI_BAR_MEM_64 | PCI_BAR_PREFETCH))
		return -EINVAL;
	if (bar >= PCI_NUM_BARS || (is64 && bar + 1 >= PCI_NUM_BARS))
		return -EINVAL;
	if (size < 16 || (size & (size - 1)) || (addr & (size - 1)))
		return -EINVAL;
	if (!is64 && (size > MEM_HOLE_END || addr > MEM_HOLE_END - size))
		return -EINVAL;
	pci_cfg_set32(d, off, (uint32_t)addr | flags);
	d->bar_mask[bar] = (uint32_t)~(size - 1) & ~0xfu;
	d->bar_sizing &= (uint8_t)~(1u << bar);
	if (is64) {
		pci_cfg_set32(d, off + 4, (uint32_t)(addr >> 32));
		d->bar_mask[bar + 1] = (uint32_t)~((size - 1) >> 32);
		d->bar_sizing &= (uint8_t)~(1u << (bar + 1));
	}
	return 0;
}

uint64_t pci_bar_addr(const struct pci_device *d, unsigned int bar)
{
	uint32_t lo;

	if (bar >= PCI_NUM_BARS)
		return 0;
	lo = reg32(d, PCI_BAR0 + 4 * bar);
	if (lo & 1)
		return 0; /* an I/O BAR */
	if ((lo & 6) == PCI_BAR_MEM_64 && bar + 1 < PCI_NUM_BARS)
		return (lo & ~0xfull) | (uint64_t)reg32(d, PCI_BAR0 + 4 * (bar + 1)) << 32;
	return lo & ~0xfull;
}

int pci_cap_add(struct pci_device *d, uint8_t id, const void *body, uint32_t len)
{
	uint32_t off = ALIGN_UP(d->cap_end ? d->cap_end : (uint32_t)PCI_CAP_START, 4u);

	if (off + 2 + len > PCI_CFG_SIZE)
		return -ENOSPC;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	memcpy(&d->cfg[off + 2], body, len);
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = (uint8_t)off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = (uint8_t)off;
	d->cap_end = (uint16_t)(off + 2 + len);
	return (int)off;
}

int pci_mmio_alloc(struct pci_root *p, uint64_t size, uint64_t *addr)
{
	uint64_t a;

	if (size < 4096 || (size & (size - 1)))
		return -EINVAL;
	a = ALIGN_UP(p->mmio_next, size);
	if (a < p->mmio_next || a > PCI_MMIO_END || size - 1 > PCI_MMIO_END - a)
		return -ENOSPC;
	p->mmio_next = a + size;
	*addr = a;
	return 0;
}

void pci_root_init(struct pci_root *p, struct vm_stopper stopper)
{
	struct pci_device *hb = &p->host_bridge;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->stopper = stopper;
	p->mmio_next = PCI_MMIO_START;
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

/* The function at devfn on the bus behind bridge br; br NULL: bus 0 (functions 0 only). */
static struct pci_device *on_bus(const struct pci_root *p, struct pci_device *br, uint32_t devfn)
{
	if (!br)
		return (devfn & 7) ? NULL : p->slots[devfn >> 3];
	return br->ops->child(br->ctx, br, devfn);
}

static bool is_bridge(const struct pci_device *d)
{
	return d->ops && d->ops->child &&
	       (d->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
}

/*
 * From the bus numbered num behind br down to (bus, devfn), through the bridge (function 0
 * of a slot) whose secondary..subordinate range holds bus. A bridge's secondary number must
 * be above its own bus's, so however the guest programs the registers the walk ends.
 */
static struct pci_device *route(const struct pci_root *p, struct pci_device *br, uint32_t num,
				uint32_t bus, uint32_t devfn)
{
	if (bus == num)
		return on_bus(p, br, devfn);
	for (uint32_t slot = 0; slot < PCI_SLOTS; slot++) {
		struct pci_device *d = on_bus(p, br, slot << 3);
		uint32_t sec, sub;

		if (!d || !is_bridge(d))
			continue;
		sec = d->cfg[PCI_SECONDARY_BUS];
		sub = d->cfg[PCI_SUBORDINATE_BUS];
		if (sec > num && sec <= bus && bus <= sub)
			return route(p, d, sec, bus, devfn);
	}
	return NULL;
}

/* The device the address register selects, or NULL (nothing there, or not enabled). */
static struct pci_device *selected(const struct pci_root *p)
{
	uint32_t a = p->address;

	if (!(a & CONFIG_ENABLE))
		return NULL;
	return route(p, NULL, 0, (a >> 16) & 0xff, (a >> 8) & 0xff);
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
		uint32_t reg = (p->address & 0xfc) + (uint32_t)(off - 4);
		v = d->ops && d->ops->cfg_read ? d->ops->cfg_read(d->ctx, d, reg, len)
					       : pci_cfg_read(d, reg, len);
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
		uint32_t reg = (p->address & 0xfc) + (uint32_t)(off - 4);
		if (d->ops && d->ops->cfg_write)
			d->ops->cfg_write(d->ctx, d, reg, len, v);
		else
			pci_cfg_write(d, reg, len, v);
	}
	pthread_mutex_unlock(&p->lock);
	if (reset)
		p->stopper.stop(p->stopper.ctx, VM_STOP_RESET);
}

const struct bus_ops pci_root_ops = {
	.read = root_read,
	.write = root_write,
};
