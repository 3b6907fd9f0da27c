/*
 * KVM's interrupt wiring on the VM fd: the GSI routing table, irqfds and ioeventfds.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so every commit carries KVM's default routes
 * for GSIs 0..23 (IOAPIC pin i; PIC master pins 0..7 and slave pins 8..15 for i < 16, in
 * KVM's own order) and then one MSI route per allocated GSI that has a message. GSIs for MSI
 * start at IRQ_ROUTER_FIRST_MSI_GSI. All functions take the router's lock, so vCPU threads may
 * call them; the ioctls go through ops so that tests can watch them without KVM.
 */
#ifndef VMM_MAIN_IRQ_ROUTER_H
#define VMM_MAIN_IRQ_ROUTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_ROUTER_LEGACY_GSIS 24 /* IOAPIC pins; the first 16 are also PIC pins */
#define IRQ_ROUTER_FIRST_MSI_GSI IRQ_ROUTER_LEGACY_GSIS
#define IRQ_ROUTER_MAX_MSI 512

struct irq_router_ops {
	/* ioctl(2) on the VM fd: 0 or -errno. req: KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD. */
	int (*ioctl)(void *ctx, unsigned long req, void *arg);
};

struct irq_router_msi {
	bool used;   /* allocated */
	bool routed; /* has a message, part of the table */
	uint64_t addr;
	uint32_t data;
};

struct irq_router {
	pthread_mutex_t lock;
	int vm_fd;
	const struct irq_router_ops *ops;
	void *ctx;
	struct irq_router_msi msi[IRQ_ROUTER_MAX_MSI]; /* msi[i] is GSI FIRST_MSI_GSI + i */
};

/* ops NULL: real ioctls on vm_fd (not owned). Sets no table: KVM's default stays until needed. */
void irq_router_init(struct irq_router *r, int vm_fd, const struct irq_router_ops *ops,
		     void *ctx);
void irq_router_destroy(struct irq_router *r);

/* A free GSI for an MSI route, with no route yet. Returns 0 or -ENOSPC. */
int irq_router_alloc_gsi(struct irq_router *r, uint32_t *gsi);
/* Drops gsi's route (committing the table if it had one) and frees it. Unbind irqfds first. */
int irq_router_free_gsi(struct irq_router *r, uint32_t gsi);
/*
 * Whether (addr, data) is an interrupt message a device may send: to the local APICs (address
 * bits 31:20 are 0xfee) with delivery mode fixed, lowest priority or NMI. SMI, INIT, SIPI and
 * ExtINT (and the reserved mode) would stop, reset or restart a vCPU; elsewhere the write would
 * be a memory write, which no device of ours does. Linux never programs either.
 */
bool irq_router_msi_valid(uint64_t addr, uint32_t data);
/*
 * Points an allocated gsi at the MSI (addr, data) and commits the table, unless the route is
 * already that. On failure the old route stays. Returns 0, -EINVAL (not allocated, or not a
 * valid message: then gsi has no route any more, logged) or -errno.
 */
int irq_router_msi_route(struct irq_router *r, uint32_t gsi, uint64_t addr, uint32_t data);

/* KVM_IRQFD: signalling efd injects gsi. A pending count is injected at bind. */
int irq_router_irqfd_bind(struct irq_router *r, int efd, uint32_t gsi);
int irq_router_irqfd_unbind(struct irq_router *r, int efd, uint32_t gsi);
/*
 * KVM_IOEVENTFD on the MMIO bus without datamatch: a guest write of len bytes (1, 2, 4, 8, or
 * 0 for any length, KVM's fast MMIO path) at addr signals efd instead of exiting.
 */
int irq_router_ioeventfd(struct irq_router *r, int efd, uint64_t addr, uint32_t len, bool assign);
/* The same, signalling only writes of *datamatch (len 1, 2, 4 or 8) when datamatch is set. */
int irq_router_ioeventfd_match(struct irq_router *r, int efd, uint64_t addr, uint32_t len,
			       const uint64_t *datamatch, bool assign);

#endif
