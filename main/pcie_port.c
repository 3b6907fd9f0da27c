#include "pcie_port.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

/* Red Hat's id for a generic PCIe root port: no guest quirks key on it. */
#define PORT_VENDOR 0x1b36
#define PORT_DEVICE 0x000c
#define CLASS_BRIDGE_PCI 0x0604

/* Type 1 header registers beyond pci.h's */
#define MEMORY_BASE 0x20
#define MEMORY_LIMIT 0x22
#define INTERRUPT_LINE 0x3c
#define BRIDGE_CONTROL 0x3e
#define CACHE_LINE_SIZE 0x0c
#define COMMAND_WMASK 0x0547	    /* I/O, memory, master, parity, SERR, INTx disable */
#define BRIDGE_CONTROL_WMASK 0x005f /* parity, SERR, ISA, VGA, VGA16, secondary reset */

/* PCI Express capability (PCIe 7.5.3), offsets from the capability */
#define EXP_CAP_ID 0x10
#define EXP_LEN 0x3c /* version 2, with the slot and root registers */
#define EXP_FLAGS 0x02
#define EXP_DEVCAP 0x04
#define EXP_DEVCTL 0x08
#define EXP_LNKCAP 0x0c
#define EXP_LNKCTL 0x10
#define EXP_LNKSTA 0x12
#define EXP_SLTCAP 0x14
#define EXP_SLTCTL 0x18
#define EXP_SLTSTA 0x1a
#define EXP_RTCTL 0x1c
#define EXP_LNKCAP2 0x2c
#define EXP_LNKCTL2 0x30

#define EXP_FLAGS_V2_ROOT_PORT 0x0142 /* version 2, type 4 (Root Port), Slot Implemented */
#define EXP_DEVCAP_RBER 0x8000	      /* role-based error reporting; max payload 128 */
#define EXP_DEVCTL_DEFAULT 0x2810     /* relaxed ordering, no snoop, read request 512 */
#define EXP_DEVCTL_WMASK 0x7fff
#define EXP_LNKCAP_BITS 0x00500011 /* 2.5 GT/s x1, DLL active reporting, ASPM optionality */
#define EXP_LNKCTL_WMASK 0x00d3	   /* ASPM, link disable, common clock, extended synch */
#define EXP_LNKSTA_UP 0x0011	   /* 2.5 GT/s x1 */
#define EXP_LNKSTA_DLLLA 0x2000
#define EXP_LNKCAP2_2_5GT 0x0002
#define EXP_LNKCTL2_2_5GT 0x0001
#define EXP_RTCTL_WMASK 0x000f /* system error on correctable/non-fatal/fatal, PME interrupt */

#define SLTCAP_ABP 0x0001   /* attention button */
#define SLTCAP_PCP 0x0002   /* power controller */
#define SLTCAP_AIP 0x0008   /* attention indicator */
#define SLTCAP_PIP 0x0010   /* power indicator */
#define SLTCAP_HPC 0x0040   /* hot-plug capable */
#define SLTCAP_NCCS 0x40000 /* no command completed support */
#define SLTCAP_PSN_SHIFT 19

#define SLTCTL_EVENTS 0x001f /* ABPE, PFDE, MRLSCE, PDCE, CCIE: same bits as their events */
#define SLTCTL_HPIE 0x0020
#define SLTCTL_PCC_OFF 0x0400 /* power controller control: 1 is off */
#define SLTCTL_PIC 0x0300     /* power indicator control */
#define SLTCTL_PIC_OFF 0x0300
#define SLTCTL_DLLSCE 0x1000
#define SLTCTL_DEFAULT 0x07c0 /* indicators off, power off */
#define SLTCTL_WMASK 0x17fb   /* all but MRLSCE (no MRL), EIC (no interlock) */

#define SLTSTA_ABP 0x0001
#define SLTSTA_PDC 0x0008
#define SLTSTA_PDS 0x0040
#define SLTSTA_DLLSC 0x0100
#define SLTSTA_W1C 0x011f /* ABP, PFD, MRLSC, PDC, CC, DLLSC */

/* MSI capability (PCI 3.0, 6.8.1), 64-bit address with per-vector masking */
#define MSI_CAP_ID 0x05
#define MSI_LEN 0x18
#define MSI_CTRL 0x02
#define MSI_ADDR_LO 0x04
#define MSI_ADDR_HI 0x08
#define MSI_DATA 0x0c
#define MSI_MASK 0x10
#define MSI_PENDING 0x14
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_CAPS 0x0180 /* 64-bit, per-vector masking; one vector */

static uint32_t reg(const struct pcie_port *port, uint32_t off, uint32_t len)
{
	return pci_cfg_read(&port->pci, off, len);
}

static void set_wmask(struct pci_device *d, uint32_t off, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len; i++)
		d->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static void set_w1cmask(struct pci_device *d, uint32_t off, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len; i++)
		d->w1cmask[off + i] = (uint8_t)(mask >> (8 * i));
}

static bool powered(const struct pcie_port *port)
{
	return !(reg(port, port->exp + EXP_SLTCTL, 2) & SLTCTL_PCC_OFF);
}

/* Hot-Plug Interrupt Enable and at least one event bit set whose enable is set. */
static bool hotplug_asserted(const struct pcie_port *port)
{
	uint32_t ctl = reg(port, port->exp + EXP_SLTCTL, 2);
	uint32_t sta = reg(port, port->exp + EXP_SLTSTA, 2);

	if (!(ctl & SLTCTL_HPIE))
		return false;
	if (sta & ctl & SLTCTL_EVENTS)
		return true;
	return (sta & SLTSTA_DLLSC) && (ctl & SLTCTL_DLLSCE);
}

/*
 * Re-evaluates the interrupt after any change (PCIe 6.7.3.4): a message goes out when the
 * condition turns true; while only the vector mask holds it back, the pending bit is set.
 */
static void update_irq(struct pcie_port *port)
{
	uint32_t m = port->msi;
	bool want = hotplug_asserted(port) && (reg(port, m + MSI_CTRL, 2) & MSI_CTRL_ENABLE) &&
		    (reg(port, PCI_COMMAND, 2) & PCI_COMMAND_MASTER);
	bool masked = reg(port, m + MSI_MASK, 4) & 1;
	bool live = want && !masked;

	pci_cfg_set32(&port->pci, m + MSI_PENDING, want && masked);
	if (live && !port->msi_live) {
		uint64_t addr =
		    (uint64_t)reg(port, m + MSI_ADDR_HI, 4) << 32 | reg(port, m + MSI_ADDR_LO, 4);
		port->ops->msi(port->ctx, addr, reg(port, m + MSI_DATA, 2));
	}
	port->msi_live = live;
}

/* A card came or went: presence, link state and the two change events. */
static void set_presence(struct pcie_port *port, bool present)
{
	uint32_t sta = reg(port, port->exp + EXP_SLTSTA, 2) | SLTSTA_PDC | SLTSTA_DLLSC;
	uint32_t lnk = reg(port, port->exp + EXP_LNKSTA, 2);

	sta = present ? sta | SLTSTA_PDS : sta & ~(uint32_t)SLTSTA_PDS;
	lnk = present ? lnk | EXP_LNKSTA_DLLLA : lnk & ~(uint32_t)EXP_LNKSTA_DLLLA;
	pci_cfg_set16(&port->pci, port->exp + EXP_SLTSTA, (uint16_t)sta);
	pci_cfg_set16(&port->pci, port->exp + EXP_LNKSTA, (uint16_t)lnk);
	update_irq(port);
}

static bool power_indicator_off(const struct pcie_port *port)
{
	return (reg(port, port->exp + EXP_SLTCTL, 2) & SLTCTL_PIC) == SLTCTL_PIC_OFF;
}

static void cfg_write(void *ctx, struct pci_device *d, uint32_t off, uint32_t len, uint32_t val)
{
	struct pcie_port *port = ctx;
	bool was_on = powered(port), was_dark = power_indicator_off(port);

	pci_cfg_write(d, off, len, val);
	if (powered(port) != was_on && port->ops->power)
		port->ops->power(port->ctx, !was_on);
	if (power_indicator_off(port) != was_dark && port->ops->indicator)
		port->ops->indicator(port->ctx, !was_dark);
	update_irq(port);
}

/* Only device 0 on a root port's link, and only while the slot has power. */
static struct pci_device *child(void *ctx, struct pci_device *d, uint32_t devfn)
{
	struct pcie_port *port = ctx;

	(void)d;
	return devfn == 0 && powered(port) ? port->dev : NULL;
}

static const struct pci_device_ops port_ops = {
	.cfg_write = cfg_write,
	.child = child,
};

static void init_header(struct pcie_port *port, const struct pcie_port_config *c)
{
	struct pci_device *d = &port->pci;
	uint64_t limit = c->mem_base + c->mem_size - 1;

	d->name = "pcie-root-port";
	d->ops = &port_ops;
	d->ctx = port;
	pci_cfg_set16(d, PCI_VENDOR_ID, PORT_VENDOR);
	pci_cfg_set16(d, PCI_DEVICE_ID, PORT_DEVICE);
	pci_cfg_set16(d, PCI_CLASS_DEVICE, CLASS_BRIDGE_PCI);
	d->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_BRIDGE;
	d->cfg[PCI_SECONDARY_BUS] = c->secondary_bus;
	d->cfg[PCI_SUBORDINATE_BUS] = c->secondary_bus;
	/* The window's address bits 31:20 in bits 15:4; the limit's low 20 bits read as ones. */
	pci_cfg_set16(d, MEMORY_BASE, (uint16_t)((c->mem_base >> 16) & 0xfff0));
	pci_cfg_set16(d, MEMORY_LIMIT, (uint16_t)((limit >> 16) & 0xfff0));
	set_wmask(d, PCI_COMMAND, 2, COMMAND_WMASK);
	set_wmask(d, CACHE_LINE_SIZE, 1, 0xff);
	set_wmask(d, PCI_PRIMARY_BUS, 3, 0xffffff);
	set_wmask(d, INTERRUPT_LINE, 1, 0xff);
	set_wmask(d, BRIDGE_CONTROL, 2, BRIDGE_CONTROL_WMASK);
}

static int init_exp(struct pcie_port *port, const struct pcie_port_config *c)
{
	uint8_t body[EXP_LEN - 2] = {0};
	struct pci_device *d = &port->pci;
	uint32_t e, sltcap = SLTCAP_ABP | SLTCAP_PCP | SLTCAP_AIP | SLTCAP_PIP | SLTCAP_HPC |
			     SLTCAP_NCCS | (uint32_t)c->slot_number << SLTCAP_PSN_SHIFT;
	int off = pci_cap_add(d, EXP_CAP_ID, body, sizeof(body));

	if (off < 0)
		return off;
	e = port->exp = (uint32_t)off;
	pci_cfg_set16(d, e + EXP_FLAGS, EXP_FLAGS_V2_ROOT_PORT);
	pci_cfg_set32(d, e + EXP_DEVCAP, EXP_DEVCAP_RBER);
	pci_cfg_set16(d, e + EXP_DEVCTL, EXP_DEVCTL_DEFAULT);
	/* Port number: the slot's, so that the two tell the same story in lspci. */
	pci_cfg_set32(d, e + EXP_LNKCAP, EXP_LNKCAP_BITS | (uint32_t)(c->slot_number & 0xff) << 24);
	pci_cfg_set16(d, e + EXP_LNKSTA, EXP_LNKSTA_UP);
	pci_cfg_set32(d, e + EXP_SLTCAP, sltcap);
	pci_cfg_set16(d, e + EXP_SLTCTL, SLTCTL_DEFAULT);
	pci_cfg_set32(d, e + EXP_LNKCAP2, EXP_LNKCAP2_2_5GT);
	pci_cfg_set16(d, e + EXP_LNKCTL2, EXP_LNKCTL2_2_5GT);
	set_wmask(d, e + EXP_DEVCTL, 2, EXP_DEVCTL_WMASK);
	set_wmask(d, e + EXP_LNKCTL, 2, EXP_LNKCTL_WMASK);
	set_wmask(d, e + EXP_SLTCTL, 2, SLTCTL_WMASK);
	set_w1cmask(d, e + EXP_SLTSTA, 2, SLTSTA_W1C);
	set_wmask(d, e + EXP_RTCTL, 2, EXP_RTCTL_WMASK);
	return 0;
}

static int init_msi(struct pcie_port *port)
{
	uint8_t body[MSI_LEN - 2] = {0};
	struct pci_device *d = &port->pci;
	int off = pci_cap_add(d, MSI_CAP_ID, body, sizeof(body));

	if (off < 0)
		return off;
	port->msi = (uint32_t)off;
	pci_cfg_set16(d, port->msi + MSI_CTRL, MSI_CTRL_CAPS);
	set_wmask(d, port->msi + MSI_CTRL, 2, MSI_CTRL_ENABLE);
	set_wmask(d, port->msi + MSI_ADDR_LO, 4, 0xfffffffc);
	set_wmask(d, port->msi + MSI_ADDR_HI, 4, 0xffffffff);
	set_wmask(d, port->msi + MSI_DATA, 2, 0xffff);
	set_wmask(d, port->msi + MSI_MASK, 4, 1);
	return 0;
}

static bool config_valid(const struct pcie_port_config *c)
{
	uint64_t a = PCIE_PORT_WINDOW_ALIGN;

	return c->secondary_bus && c->slot_number <= PCIE_PORT_SLOT_MAX && c->mem_size &&
	       !(c->mem_base & (a - 1)) && !(c->mem_size & (a - 1)) &&
	       c->mem_size <= MEM_HOLE_END && c->mem_base <= MEM_HOLE_END - c->mem_size;
}

int pcie_port_init(struct pcie_port *port, struct pci_root *root, const struct pcie_port_config *c,
		   const struct pcie_port_ops *ops, void *ctx)
{
	int ret;

	if (!config_valid(c) || !ops || !ops->msi)
		return -EINVAL;
	memset(port, 0, sizeof(*port));
	port->root = root;
	port->ops = ops;
	port->ctx = ctx;
	init_header(port, c);
	ret = init_exp(port, c);
	if (ret < 0)
		return ret;
	return init_msi(port);
}

int pcie_port_plug(struct pcie_port *port, struct pci_device *dev)
{
	int ret = 0;

	pthread_mutex_lock(&port->root->lock);
	if (port->dev) {
		ret = -EBUSY;
	} else {
		port->dev = dev;
		set_presence(port, true);
	}
	pthread_mutex_unlock(&port->root->lock);
	return ret;
}

int pcie_port_request_unplug(struct pcie_port *port)
{
	int ret = 0;

	pthread_mutex_lock(&port->root->lock);
	if (!port->dev) {
		ret = -ENODEV;
	} else if (!powered(port)) {
		/* A press now would ask the guest to power the slot on (pciehp). */
		ret = -EALREADY;
	} else {
		pci_cfg_set16(&port->pci, port->exp + EXP_SLTSTA,
			      (uint16_t)(reg(port, port->exp + EXP_SLTSTA, 2) | SLTSTA_ABP));
		update_irq(port);
	}
	pthread_mutex_unlock(&port->root->lock);
	return ret;
}

int pcie_port_remove(struct pcie_port *port)
{
	int ret = 0;

	pthread_mutex_lock(&port->root->lock);
	if (!port->dev) {
		ret = -ENODEV;
	} else {
		port->dev = NULL;
		set_presence(port, false);
	}
	pthread_mutex_unlock(&port->root->lock);
	return ret;
}

bool pcie_port_occupied(struct pcie_port *port)
{
	bool ret;

	pthread_mutex_lock(&port->root->lock);
	ret = port->dev != NULL;
	pthread_mutex_unlock(&port->root->lock);
	return ret;
}

bool pcie_port_powered(struct pcie_port *port)
{
	bool ret;

	pthread_mutex_lock(&port->root->lock);
	ret = powered(port);
	pthread_mutex_unlock(&port->root->lock);
	return ret;
}

void pcie_port_window(const struct pcie_port *port, uint64_t *base, uint64_t *size)
{
	/* Read-only registers: no lock needed. */
	uint64_t b = (uint64_t)(reg(port, MEMORY_BASE, 2) & 0xfff0) << 16;
	uint64_t l = (uint64_t)(reg(port, MEMORY_LIMIT, 2) & 0xfff0) << 16 | 0xfffff;

	*base = b;
	*size = l - b + 1;
}
