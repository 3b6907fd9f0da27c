/*
 * PCI root: bus 0 behind configuration mechanism #1 (ports 0xcf8 address, 0xcfc data), with
 * a host bridge at 00:00.0. Devices are config spaces with a write mask; later issues add
 * virtio-pci functions and root ports.
 */
#ifndef VMM_MAIN_PCI_H
#define VMM_MAIN_PCI_H

#include <pthread.h>
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

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	const char *name;
};

struct pci_root {
	pthread_mutex_t lock;
	uint32_t address; /* the CONFIG_ADDRESS register */
	struct pci_device *slots[PCI_SLOTS];
	struct pci_device host_bridge;
	struct vm_stopper stopper; /* for the reset control register at 0xcf9 */
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

#endif
