#include "irq_router.h"

#include <errno.h>
#include <stdatomic.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

/* GSIs 0..15 have a PIC route besides the IOAPIC one. */
#define PIC_GSIS 16
#define LEGACY_ROUTES (IRQ_ROUTER_LEGACY_GSIS + PIC_GSIS)

static int vm_ioctl(void *ctx, unsigned long req, void *arg)
{
	const struct irq_router *r = ctx;

	return ioctl(r->vm_fd, req, arg) < 0 ? -errno : 0;
}

static const struct irq_router_ops kvm_ops = {
	.ioctl = vm_ioctl,
};

void irq_router_init(struct irq_router *r, int vm_fd, const struct irq_router_ops *ops,
		     void *ctx)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->vm_fd = vm_fd;
	r->ops = ops ? ops : &kvm_ops;
	r->ctx = ops ? ctx : r;
}

void irq_router_destroy(struct irq_router *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* KVM's default_routing[] (arch/x86/kvm/irq_comm.c), entry for entry. */
static unsigned int fill_legacy(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (uint32_t gsi = 0; gsi < IRQ_ROUTER_LEGACY_GSIS; gsi++) {
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n++].u.irqchip.pin = gsi;
		if (gsi >= PIC_GSIS)
			continue;
		e[n].gsi = gsi;
		e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e[n++].u.irqchip.pin = gsi % 8;
	}
	return n;
}

/* Sets the whole table: the legacy routes and every MSI route. Lock held. */
static int commit(struct irq_router *r)
{
	struct kvm_irq_routing *t;
	struct kvm_irq_routing_entry *e;
	int ret;

	t = calloc(1, sizeof(*t) + (LEGACY_ROUTES + IRQ_ROUTER_MAX_MSI) * sizeof(*e));
	if (!t)
		return -ENOMEM;
	e = t->entries;
	t->nr = fill_legacy(e);
	for (uint32_t i = 0; i < IRQ_ROUTER_MAX_MSI; i++) {
		const struct irq_router_msi *m = &r->msi[i];

		if (!m->used || !m->routed)
			continue;
		e[t->nr].gsi = IRQ_ROUTER_FIRST_MSI_GSI + i;
		e[t->nr].type = KVM_IRQ_ROUTING_MSI;
		e[t->nr].u.msi.address_lo = (uint32_t)m->addr;
		e[t->nr].u.msi.address_hi = (uint32_t)(m->addr >> 32);
		e[t->nr++].u.msi.data = m->data;
	}
	ret = r->ops->ioctl(r->ctx, KVM_SET_GSI_ROUTING, t);
	if (ret < 0)
		log_err("KVM_SET_GSI_ROUTING (%u routes): %s", t->nr, strerror(-ret));
	free(t);
	return ret;
}

/* The slot of an allocated gsi, or NULL. */
static struct irq_router_msi *slot(struct irq_router *r, uint32_t gsi)
{
	if (gsi < IRQ_ROUTER_FIRST_MSI_GSI || gsi - IRQ_ROUTER_FIRST_MSI_GSI >= IRQ_ROUTER_MAX_MSI)
		return NULL;
	return r->msi[gsi - IRQ_ROUTER_FIRST_MSI_GSI].used ? &r->msi[gsi - IRQ_ROUTER_FIRST_MSI_GSI]
							   : NULL;
}

int irq_router_alloc_gsi(struct irq_router *r, uint32_t *gsi)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < IRQ_ROUTER_MAX_MSI; i++) {
		if (r->msi[i].used)
			continue;
		memset(&r->msi[i], 0, sizeof(r->msi[i]));
		r->msi[i].used = true;
		*gsi = IRQ_ROUTER_FIRST_MSI_GSI + i;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_router_free_gsi(struct irq_router *r, uint32_t gsi)
{
	struct irq_router_msi *m;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	m = slot(r, gsi);
	if (!m) {
		ret = -EINVAL;
	} else {
		bool routed = m->routed;
		memset(m, 0, sizeof(*m));
		if (routed)
			ret = commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

#define MSI_ADDR_BASE 0xfeeu	  /* address bits 31:20 */
#define MSI_DATA_MODE(d) (((d) >> 8) & 7) /* delivery mode */
#define MSI_MODE_FIXED 0
#define MSI_MODE_LOWPRI 1
#define MSI_MODE_NMI 4
#define MSI_BAD_LOGS 10 /* a guest may program nonsense in a loop: the first ones are logged */

bool irq_router_msi_valid(uint64_t addr, uint32_t data)
{
	uint32_t mode = MSI_DATA_MODE(data);

	return ((uint32_t)addr >> 20) == MSI_ADDR_BASE &&
	       (mode == MSI_MODE_FIXED || mode == MSI_MODE_LOWPRI || mode == MSI_MODE_NMI);
}

/* The route of m is gone: the guest programmed a message no device may send. Lock held. */
static int refuse(struct irq_router *r, struct irq_router_msi *m, uint32_t gsi, uint64_t addr,
		  uint32_t data)
{
	static atomic_uint logged;

	if (atomic_fetch_add(&logged, 1) < MSI_BAD_LOGS)
		log_warn("GSI %u: refused the MSI address 0x%llx data 0x%x (delivery mode %u): "
			 "not an interrupt a device may send", gsi, (unsigned long long)addr, data,
			 MSI_DATA_MODE(data));
	if (m->routed) {
		m->routed = false;
		commit(r);
	}
	return -EINVAL;
}

int irq_router_msi_route(struct irq_router *r, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct irq_router_msi *m, old;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	m = slot(r, gsi);
	if (!m) {
		ret = -EINVAL;
	} else if (!irq_router_msi_valid(addr, data)) {
		ret = refuse(r, m, gsi, addr, data);
	} else if (!m->routed || m->addr != addr || m->data != data) {
		old = *m;
		m->routed = true;
		m->addr = addr;
		m->data = data;
		ret = commit(r);
		if (ret < 0)
			*m = old;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static int irqfd(struct irq_router *r, int efd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd req = {.fd = (uint32_t)efd, .gsi = gsi, .flags = flags};
	int ret;

	pthread_mutex_lock(&r->lock);
	ret = r->ops->ioctl(r->ctx, KVM_IRQFD, &req);
	pthread_mutex_unlock(&r->lock);
	if (ret < 0)
		log_err("KVM_IRQFD %s fd %d, GSI %u: %s", flags ? "unbind" : "bind", efd, gsi,
			strerror(-ret));
	return ret;
}

int irq_router_irqfd_bind(struct irq_router *r, int efd, uint32_t gsi)
{
	return irqfd(r, efd, gsi, 0);
}

int irq_router_irqfd_unbind(struct irq_router *r, int efd, uint32_t gsi)
{
	return irqfd(r, efd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

int irq_router_ioeventfd(struct irq_router *r, int efd, uint64_t addr, uint32_t len, bool assign)
{
	return irq_router_ioeventfd_match(r, efd, addr, len, NULL, assign);
}

int irq_router_ioeventfd_match(struct irq_router *r, int efd, uint64_t addr, uint32_t len,
			       const uint64_t *datamatch, bool assign)
{
	struct kvm_ioeventfd req = {
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	int ret;

	if (len > 8 || (len & (len - 1)) || (datamatch && len == 0))
		return -EINVAL;
	if (datamatch) {
		req.datamatch = *datamatch;
		req.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	}
	pthread_mutex_lock(&r->lock);
	ret = r->ops->ioctl(r->ctx, KVM_IOEVENTFD, &req);
	pthread_mutex_unlock(&r->lock);
	if (ret < 0)
		log_debug("KVM_IOEVENTFD %s fd %d at 0x%llx/%u: %s", assign ? "assign" : "deassign",
			  efd, (unsigned long long)addr, len, strerror(-ret));
	return ret;
}
