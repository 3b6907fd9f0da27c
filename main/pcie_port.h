/*
 * A PCI Express Root Port with one hot-plug slot, driven by the guest's native hot-plug
 * driver (Linux: pcie_portdrv + pciehp; no ACPI, no firmware help). The port is a type 1
 * function on bus 0 (pci_root_add() it); the function plugged into its slot shows up as
 * device 0 of the port's secondary bus.
 *
 * What the port reports (PCI Express capability v2, Root Port, Slot Implemented):
 * - Slot Capabilities: Attention Button, Power Controller, Attention and Power Indicators,
 *   Hot-Plug Capable, No Command Completed Support, the physical slot number. No MRL sensor,
 *   no interlock, no Hot-Plug Surprise: removal is normally asked for with the button, and
 *   Linux handles a surprise removal (--force) through the link change anyway.
 *   No Command Completed: the port takes every Slot Control write at once, so pciehp never
 *   waits for (or polls) Command Completed; CC is never set.
 * - Link Capabilities: Data Link Layer Link Active Reporting; Link Status DLL Link Active
 *   follows presence (not power). pciehp enables the Presence Detect Changed interrupt only
 *   on slots without an attention button, so on ours a hot-add reaches it as a link change.
 *   Link speed and width read 2.5 GT/s x1, never "training".
 * - Slot power: Slot Control's Power Controller Control, off after init. The plugged function
 *   answers config reads only while the slot is occupied and powered on; Linux powers the
 *   slot on before it looks for the device, and an empty slot that is on is switched off.
 * - One MSI vector (64-bit address, per-vector mask), delivered through ops->msi; no INTx
 *   (interrupt pin 0). PME, AER and the other port services find nothing to use.
 * - Bridge windows: the memory window main gives (1 MiB granular, read-only, like pci.c's
 *   BARs: main fixes the BARs behind it); no I/O and no prefetchable window (read-only
 *   zeros, which is how Linux learns they are absent). Bus numbers are preset and the guest's.
 *
 * Interrupts follow PCIe 6.7.3.4 for MSI: a message is sent each time "MSI enabled, bus master,
 * vector unmasked, Hot-Plug Interrupt Enable, and an event bit set whose enable is set" goes
 * from false to true. Events: Attention Button Pressed, Power Fault, MRL Sensor Changed,
 * Presence Detect Changed, Command Completed, DLL State Changed. While masked the pending bit
 * is set, and unmasking sends. pciehp's handler clears every event bit it reads (RW1C) and
 * reads again until none is left, so each new event makes a new message.
 *
 * The hot-plug sequence as Linux 6.1's pciehp runs it against this port:
 *   probe   Slot Status: clear all events. Slot Control: power is off on the empty slot, so
 *           it writes DLLSCE | ABPE | HPIE | CCIE (no PDCE: the slot has a button).
 *   add     pcie_port_plug(): PDS, PDC, DLLLA, DLLSC -> MSI. pciehp (slot off) writes
 *           Power Controller Control on (ops->power(true); the function appears), the power
 *           indicator to blinking, polls DLLLA (~120 ms), reads the vendor id at bus:00.0,
 *           checks Link Status (not training, width != 0), scans the slot, assigns the BARs
 *           (first fit from the window's base: put the function's BAR there) and sets the
 *           power indicator on. No 5 s wait on add.
 *   remove  pcie_port_request_unplug(): ABP -> MSI. pciehp blinks the power indicator and
 *           waits 5 s (a second press in that time cancels: do not press again until then),
 *           then unbinds the driver, removes the function and writes Power Controller
 *           Control off -> ops->power(false): the guest has released it. It waits 1 s, drops
 *           the link and presence changes of that second, and turns the power indicator off
 *           -> ops->indicator(true): done with the slot. Then main calls pcie_port_remove():
 *           PDS, DLLLA clear, PDC, DLLSC -> MSI; pciehp (slot off, empty) has nothing to do.
 *           (QEMU removes on the same condition: power and power indicator off.)
 *   force   pcie_port_remove() on a slot that is on: the function disappears at once; pciehp
 *           sees the link go down, removes the function (surprise) and switches the slot
 *           off -> ops->power(false) with the slot already empty.
 *
 * Locking: every function here takes the PCI root's lock, which also covers the guest's
 * config accesses (on vCPU threads). ops are called with that lock held, on whichever thread
 * caused the event: they must not call into the root or the port (write an eventfd, signal a
 * condition variable, KVM_SIGNAL_MSI).
 */
#ifndef VMM_MAIN_PCIE_PORT_H
#define VMM_MAIN_PCIE_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define PCIE_PORT_WINDOW_ALIGN 0x100000ull /* bridge memory windows are 1 MiB granular */
#define PCIE_PORT_SLOT_MAX 0x1fff	   /* physical slot numbers are 13 bits */

struct pcie_port_ops {
	/* Delivers the MSI the guest programmed (data as written: one vector). */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	/* The guest switched slot power (Slot Control); off: it has let go of the function. */
	void (*power)(void *ctx, bool on);
	/* The guest turned the power indicator off (off) or on/blinking; optional. */
	void (*indicator)(void *ctx, bool off);
};

struct pcie_port_config {
	uint8_t secondary_bus; /* > 0; primary bus 0, subordinate = secondary */
	uint16_t slot_number;  /* physical slot number, unique per VM (names the slot in Linux) */
	uint64_t mem_base;     /* the memory window: aligned, a multiple of the alignment, */
	uint64_t mem_size;     /* below 4 GiB (pci_mmio_alloc(root, PCIE_PORT_WINDOW_ALIGN)) */
};

struct pcie_port {
	struct pci_device pci; /* the port's own config space, for pci_root_add() */
	struct pci_root *root; /* its lock covers everything below */
	const struct pcie_port_ops *ops;
	void *ctx;
	struct pci_device *dev; /* the function in the slot, or NULL */
	uint32_t exp;		/* PCI Express capability offset */
	uint32_t msi;		/* MSI capability offset */
	bool msi_live;		/* the interrupt condition above, as last evaluated */
};

/*
 * Builds the port's config space (not yet on any bus). ops->msi is required, ops->power
 * optional. Before the vCPUs start. Returns 0 or -EINVAL (bad bus, slot number or window).
 */
int pcie_port_init(struct pcie_port *port, struct pci_root *root, const struct pcie_port_config *c,
		   const struct pcie_port_ops *ops, void *ctx);

/*
 * Puts dev (not owned, kept until pcie_port_remove()) into the empty slot and tells the guest
 * a card is present (PDS, PDC, link up, DLLSC). Returns 0 or -EBUSY (occupied).
 */
int pcie_port_plug(struct pcie_port *port, struct pci_device *dev);
/*
 * Presses the attention button: the guest releases the function and powers the slot off
 * (ops->power(false)), about 5 s later with Linux. Each call is one press.
 * Returns 0, -ENODEV (empty) or -EALREADY (slot power off: the guest holds nothing, remove).
 */
int pcie_port_request_unplug(struct pcie_port *port);
/*
 * Takes the function out of the slot (PDS and link down, PDC, DLLSC): after a release, or as
 * a surprise removal. Once it returns no config access reaches the function; the caller may
 * free it. Returns 0 or -ENODEV (empty).
 */
int pcie_port_remove(struct pcie_port *port);

bool pcie_port_occupied(struct pcie_port *port);
bool pcie_port_powered(struct pcie_port *port); /* Slot Control's power controller says on */
/* The memory window as the port decodes it. */
void pcie_port_window(const struct pcie_port *port, uint64_t *base, uint64_t *size);

#endif
