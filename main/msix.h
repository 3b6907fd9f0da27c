/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): the capability in config space, the vector table and the
 * pending bit array in a memory BAR. Pure state: the owner's lock covers it and the owner
 * delivers interrupts (virtio_pci.c routes each live vector through irq_router.c).
 */
#ifndef VMM_MAIN_MSIX_H
#define VMM_MAIN_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define MSIX_CAP_ID 0x11
#define MSIX_MAX_VECTORS 64 /* the PBA is one qword */
#define MSIX_ENTRY_SIZE 16
#define MSIX_PBA_SIZE 8
#define MSIX_CTRL_ENABLE 0x8000 /* message control, at the capability + 2 */
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 0x1 /* vector control bit 0 */

struct msix_entry {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	uint32_t ctrl;
};

struct msix {
	unsigned int nvec;
	uint32_t cap; /* the capability's offset in config space */
	bool enabled; /* message control, as last written */
	bool masked;  /* the function mask */
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pba;
};

/*
 * Adds the capability to d (table and PBA at the given offsets of BAR `bar`) and resets the
 * table: every vector masked, MSI-X disabled. Returns 0, -EINVAL or -ENOSPC.
 */
int msix_init(struct msix *m, struct pci_device *d, unsigned int nvec, unsigned int bar,
	      uint32_t table_off, uint32_t pba_off);
/*
 * After the guest wrote config space at [off, off + len): picks up the enable and function mask
 * bits. Returns true when either changed.
 */
bool msix_cfg_written(struct msix *m, const struct pci_device *d, uint32_t off, uint32_t len);

/* Table accesses, off relative to the table. Writes must be aligned dwords or qwords. */
void msix_table_read(const struct msix *m, uint64_t off, uint8_t *data, uint32_t len);
/* Returns the vector whose entry changed (address, data or mask), or -1. */
int msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, uint32_t len);
/* PBA reads, off relative to the PBA; the PBA is read-only. */
void msix_pba_read(const struct msix *m, uint64_t off, uint8_t *data, uint32_t len);
void msix_set_pending(struct msix *m, unsigned int vec, bool pending);

/* True when vec may deliver now (enabled, function and vector unmasked); then its message. */
bool msix_vector_live(const struct msix *m, unsigned int vec, uint64_t *addr, uint32_t *data);

#endif
