/*
 * One virtio-pci function, modern only (virtio 1.2, 4.1 "Virtio Over PCI Bus"): config space
 * with the virtio capabilities and MSI-X, and BAR 0 with the common config, ISR, device config,
 * notify, MSI-X table and PBA regions. Main keeps this transport state; the device process only
 * hears about it through the ops (shared/DESIGN.md).
 *
 * Interrupts: after virtio_pci_bind_irqs() the function wires each queue's and the config
 * interrupt eventfd itself: bound by irqfd to a GSI whose MSI route is the vector's (addr,
 * data) while that vector is live (MSI-X enabled, function and vector unmasked); unbound while
 * masked, so the eventfd keeps counting, the PBA shows it, and KVM injects at re-bind.
 *
 * Locking: one recursive mutex per function. vCPU threads enter through the bus ops and the PCI
 * root; main's own calls lock too. The ops run with the lock held: they may call virtio_pci_*
 * on the same function (e.g. virtio_pci_bind_irqs() from activate) but must not wait for another
 * thread that touches this function. Lock order: PCI root, virtio_pci, irq_router.
 */
#ifndef VMM_MAIN_VIRTIO_PCI_H
#define VMM_MAIN_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "irq_router.h"
#include "msix.h"
#include "pci.h"

#define VIRTIO_PCI_MAX_QUEUES 16
#define VIRTIO_PCI_QUEUE_SIZE_MAX 32768
#define VIRTIO_PCI_CONFIG_MAX 0x1000
#define VIRTIO_PCI_NO_VECTOR 0xffff
#define VIRTIO_PCI_MSIX_ALL 0xffffffffu /* msix_changed: the enable or function mask bit */

/* BAR 0 (64-bit, non-prefetchable). */
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x5000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4 /* each queue has its own 4-byte slot */

#define VIRTIO_F_VERSION_1 32
/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80
/* ISR bits. */
#define VIRTIO_ISR_QUEUE 0x1
#define VIRTIO_ISR_CONFIG 0x2

struct virtio_pci_queue_activation {
	bool enabled; /* the others are zero when false */
	uint16_t size;
	uint16_t msix_vector; /* or VIRTIO_PCI_NO_VECTOR */
	uint64_t desc;	      /* guest physical addresses of the split ring's three parts */
	uint64_t avail;	      /* the spec's "driver area" */
	uint64_t used;	      /* the "device area" */
};

struct virtio_pci_activation {
	uint64_t features; /* negotiated: a subset of the offered, with VIRTIO_F_VERSION_1 */
	unsigned int nqueues;
	uint16_t config_msix_vector;
	struct virtio_pci_queue_activation queues[VIRTIO_PCI_MAX_QUEUES]; /* [0, nqueues) */
};

struct virtio_pci_ops {
	/* Device-specific config, synchronous; off + len <= config_size. 0 or -errno. */
	int (*config_read)(void *ctx, uint32_t off, void *buf, uint32_t len);
	int (*config_write)(void *ctx, uint32_t off, const void *buf, uint32_t len);
	/* DRIVER_OK. A failure sets DEVICE_NEEDS_RESET and raises the config interrupt. */
	int (*activate)(void *ctx, const struct virtio_pci_activation *a);
	/* The driver wrote 0 to device_status (also before any activation). */
	void (*reset)(void *ctx);
	/* Optional: a table entry or (VIRTIO_PCI_MSIX_ALL) the enable/mask bits changed. */
	void (*msix_changed)(void *ctx, unsigned int vector);
};

struct virtio_pci_queue {
	uint16_t max_size;
	uint16_t size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device;
};

struct virtio_pci {
	struct pci_device pci; /* put it on the root with pci_root_add(&root, slot, &v->pci) */
	pthread_mutex_t lock;
	const struct virtio_pci_ops *ops;
	void *ctx;
	uint32_t type;
	uint64_t bar_addr;
	uint64_t shm_addr; /* the shared memory window, or 0 */
	uint64_t shm_size;
	uint32_t config_size;
	unsigned int nqueues;
	uint32_t pci_cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG window */
	/* common config */
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t msix_config;
	uint16_t queue_select;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	struct virtio_pci_queue queues[VIRTIO_PCI_MAX_QUEUES];
	struct msix msix;
	/* interrupt and kick wiring; slot nqueues of the fd arrays is the config interrupt */
	struct irq_router *router;
	int irq_fds[VIRTIO_PCI_MAX_QUEUES + 1];
	int bound_gsi[VIRTIO_PCI_MAX_QUEUES + 1]; /* GSI the irqfd is bound to, or -1 */
	uint32_t vector_gsi[MSIX_MAX_VECTORS];	   /* 0: none allocated yet */
	struct irq_router *kick_router;
	int kick_fds[VIRTIO_PCI_MAX_QUEUES];
	int kick_len[VIRTIO_PCI_MAX_QUEUES]; /* the registered ioeventfd's len, or -1 */
};

/* The BAR's MMIO handlers: bus_add(&mmio, v->bar_addr, VIRTIO_PCI_BAR_SIZE, &..., v, name). */
extern const struct bus_ops virtio_pci_bar_ops;

/* The BAR of the shared memory window, and its capability type. */
#define VIRTIO_PCI_SHM_BAR 2
#define VIRTIO_PCI_CAP_SHARED_MEMORY_CFG 8
/*
 * Gives the device a shared memory window (virtio shmid 0) of size bytes (a power of two) at
 * bar_addr, as BAR 2 with its capability. Call after virtio_pci_init, before the guest runs.
 */
int virtio_pci_add_shm(struct virtio_pci *v, uint64_t bar_addr, uint64_t size);

/*
 * Builds the function: virtio_type per virtio 1.2 section 5 (device id 0x1040 + type),
 * device_features (VIRTIO_F_VERSION_1 is added; transport features we lack are removed),
 * 1..VIRTIO_PCI_MAX_QUEUES queues with power-of-two max sizes, config_size bytes of device
 * config (<= VIRTIO_PCI_CONFIG_MAX), BAR 0 at bar_addr (from pci_mmio_alloc() with
 * VIRTIO_PCI_BAR_SIZE). MSI-X has nqueues + 1 vectors. Returns 0 or -EINVAL.
 */
int virtio_pci_init(struct virtio_pci *v, uint32_t virtio_type, uint64_t device_features,
		    unsigned int nqueues, const uint16_t *max_sizes, uint32_t config_size,
		    uint64_t bar_addr, const struct virtio_pci_ops *ops, void *ctx);
/* Unbinds irqfds and ioeventfds, frees the GSIs. The fds stay the caller's. */
void virtio_pci_destroy(struct virtio_pci *v);

/*
 * Hands over the interrupt eventfds (not owned; -1 for none): one per queue and the config
 * one. From now on the function keeps irqfds and MSI routes in r in step with the guest's
 * MSI-X table, masks and vector assignments (see the top of this file). Call again with new
 * fds (e.g. a respawned device), or with r NULL to unbind everything. 0 or -errno.
 */
int virtio_pci_bind_irqs(struct virtio_pci *v, struct irq_router *r, const int *queue_irq_fds,
			 int config_irq_fd);
/*
 * Registers each queue's kick eventfd (not owned; -1 for none) as an ioeventfd at its notify
 * address, any-length (KVM's fast MMIO path) or, where KVM lacks that, 2-byte writes.
 * kick_fds NULL deregisters. Writes that still reach the BAR signal the fd from userspace.
 */
int virtio_pci_bind_kicks(struct virtio_pci *v, struct irq_router *r, const int *kick_fds);
/* Guest physical address of queue q's notify slot (for checking a device's IoEventRaw). */
uint64_t virtio_pci_notify_addr(const struct virtio_pci *v, unsigned int q);

/* The device config changed: bumps config_generation, sets the ISR bit, signals the config fd. */
void virtio_pci_config_changed(struct virtio_pci *v);
/* The device status byte, and the features the driver accepted (0 before FEATURES_OK). */
uint8_t virtio_pci_status(struct virtio_pci *v, uint64_t *features);
/* Sets DEVICE_NEEDS_RESET; with DRIVER_OK set, also raises the config interrupt. */
void virtio_pci_set_needs_reset(struct virtio_pci *v);
/* Whether vector may deliver now, and its message (what the irq wiring uses). */
bool virtio_pci_msix_vector(struct virtio_pci *v, unsigned int vector, uint64_t *addr,
			    uint32_t *data);

#endif
