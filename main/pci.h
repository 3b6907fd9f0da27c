/*
 * PCI root: bus 0 behind configuration mechanism #1 (ports 0xcf8 address, 0xcfc data), with
 * a host bridge at 00:00.0. Devices are config spaces with a write mask, optional memory BARs
 * and a capability list.
 *
 * Buses above 0 sit behind bridges on bus 0 (pcie_port.c): an access to bus N goes to the
 * bridge whose secondary..subordinate range, as the guest last wrote those registers, holds
 * N, and on its secondary bus to whatever the bridge's child() hook returns. Linux keeps the
 * numbers main presets unless it decides to renumber; either way the registers are the truth.
 *
 * BARs are pre-assigned by main (pci_mmio_alloc()) and hardwired: the sizing probe works (a
 * write of all ones makes the next read return the size mask with the type bits), and any
 * other write puts the assigned address back, so the config space always tells where the
 * device decodes. A guest that tries to move a BAR reads back the old address (Linux then
 * logs "error updating"); the buses are fixed once the vCPUs run, so nothing could follow it.
 */
#ifndef VMM_MAIN_PCI_H
#define VMM_MAIN_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define PCI_CONFIG_PORT 0xcf8
#define PCI_CFG_SIZE 256
#define PCI_SLOTS 32

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_BAR0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_PIN 0x3d
/* Type 1 (bridge) header */
#define PCI_PRIMARY_BUS 0x18
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBORDINATE_BUS 0x1a
#define PCI_HEADER_TYPE_BRIDGE 0x01

#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_NUM_BARS 6
#define PCI_BAR_MEM_64 0x04 /* pci_bar_set() flags: the BAR type bits */
#define PCI_BAR_PREFETCH 0x08
#define PCI_CAP_START 0x40 /* the first capability; the header ends here */

struct pci_device;

/*
 * Optional hooks for a device that keeps state behind its config space (MSI-X enable bits,
 * virtio's PCI_CFG window). Each one set is called instead of pci_cfg_read() or
 * pci_cfg_write(), with the root's lock held; they must not call back into the root.
 * child: a bridge (header type 1) says which function sits at devfn on its secondary bus,
 * or NULL; also called with the lock held.
 */
struct pci_device_ops {
	uint32_t (*cfg_read)(void *ctx, struct pci_device *d, uint32_t off, uint32_t len);
	void (*cfg_write)(void *ctx, struct pci_device *d, uint32_t off, uint32_t len,
			  uint32_t val);
	struct pci_device *(*child)(void *ctx, struct pci_device *d, uint32_t devfn);
};

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may change */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits a guest write of 1 clears (status registers) */
	const char *name;
	const struct pci_device_ops *ops; /* NULL: plain config space */
	void *ctx;
	/* Per BAR register: the bits a sizing probe reads as ones besides the type bits. */
	uint32_t bar_mask[PCI_NUM_BARS];
	uint8_t bar_sizing; /* bit i: register i was written all ones and reads its mask */
	uint8_t cap_last;   /* offset of the last capability in the chain, 0: none */
	uint16_t cap_end;   /* first free byte after the capabilities, 0: PCI_CAP_START */
};

struct pci_root {
	pthread_mutex_t lock;
	uint32_t address; /* the CONFIG_ADDRESS register */
	struct pci_device *slots[PCI_SLOTS]; /* bus 0 */
	struct pci_device host_bridge;
	struct vm_stopper stopper; /* for the reset control register at 0xcf9 */
	uint64_t mmio_next; /* pci_mmio_alloc()'s bump pointer */
};

extern const struct bus_ops pci_root_ops;

void pci_root_init(struct pci_root *p, struct vm_stopper stopper);
void pci_root_destroy(struct pci_root *p);
/* Puts dev at 00:slot.0. Returns 0, -EBUSY or -EINVAL. */
int pci_root_add(struct pci_root *p, unsigned int slot, struct pci_device *dev);

/* Config space accessors (little endian), also used by device models. */
uint32_t pci_cfg_read(const struct pci_device *d, uint32_t off, uint32_t len);
void pci_cfg_write(struct pci_device *d, uint32_t off, uint32_t len, uint32_t val);
void pci_cfg_set16(struct pci_device *d, uint32_t off, uint16_t v);
void pci_cfg_set32(struct pci_device *d, uint32_t off, uint32_t v);

/*
 * Hands out a naturally aligned range of `size` bytes (a power of two, at least 4 KiB) in the
 * 32-bit MMIO hole, from PCI_MMIO_START up. Returns 0, -EINVAL or -ENOSPC. Before the vCPUs
 * start (no lock).
 */
int pci_mmio_alloc(struct pci_root *p, uint64_t size, uint64_t *addr);

/*
 * Makes `bar` a memory BAR of `size` bytes (a power of two, at least 16) at `addr` (aligned to
 * size). flags: PCI_BAR_MEM_64 (takes registers bar and bar + 1), PCI_BAR_PREFETCH. Returns 0
 * or -EINVAL.
 */
int pci_bar_set(struct pci_device *d, unsigned int bar, uint64_t addr, uint64_t size,
		unsigned int flags);
/* The address BAR `bar` decodes at (as assigned), or 0 when it is not a memory BAR. */
uint64_t pci_bar_addr(const struct pci_device *d, unsigned int bar);

/*
 * Appends a capability: id, the next pointer (filled in), then the `len` bytes of body (which
 * start with what follows the next pointer). Sets the status bit and the capability pointer
 * on the first. Returns the capability's offset (4-byte aligned, >= PCI_CAP_START) or -ENOSPC.
 * The body is read-only to the guest until the caller opens bits in wmask.
 */
int pci_cap_add(struct pci_device *d, uint8_t id, const void *body, uint32_t len);

#endif
