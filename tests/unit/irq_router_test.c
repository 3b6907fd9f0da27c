#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "irq_router.h"

#define MAX_CALLS 64

struct fake {
	unsigned int commits;
	int fail_commit;
	struct kvm_irq_routing_entry table[64 + IRQ_ROUTER_MAX_MSI];
	unsigned int nr;
	unsigned int nirqfd;
	struct kvm_irqfd irqfds[MAX_CALLS];
	unsigned int nioev;
	struct kvm_ioeventfd ioevs[MAX_CALLS];
};

static struct fake f;
static struct irq_router r;

static int fake_ioctl(void *ctx, unsigned long req, void *arg)
{
	struct fake *k = ctx;

	if (req == KVM_SET_GSI_ROUTING) {
		const struct kvm_irq_routing *t = arg;
		if (k->fail_commit)
			return k->fail_commit;
		k->commits++;
		k->nr = t->nr;
		memcpy(k->table, t->entries, t->nr * sizeof(t->entries[0]));
	} else if (req == KVM_IRQFD) {
		k->irqfds[k->nirqfd++ % MAX_CALLS] = *(struct kvm_irqfd *)arg;
	} else if (req == KVM_IOEVENTFD) {
		k->ioevs[k->nioev++ % MAX_CALLS] = *(struct kvm_ioeventfd *)arg;
	} else {
		return -ENOTTY;
	}
	return 0;
}

static const struct irq_router_ops fake_ops = {.ioctl = fake_ioctl};

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	irq_router_init(&r, -1, &fake_ops, &f);
}

static void teardown(void)
{
	irq_router_destroy(&r);
}

TestSuite(irq_router, .init = setup, .fini = teardown);

static void assert_irqchip(unsigned int i, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	const struct kvm_irq_routing_entry *e = &f.table[i];
	cr_assert_eq(e->gsi, gsi, "entry %u gsi", i);
	cr_assert_eq(e->type, KVM_IRQ_ROUTING_IRQCHIP, "entry %u type", i);
	cr_assert_eq(e->u.irqchip.irqchip, chip, "entry %u chip", i);
	cr_assert_eq(e->u.irqchip.pin, pin, "entry %u pin", i);
}

Test(irq_router, table_keeps_kvm_default_routes)
{
	uint32_t gsi;

	cr_assert_eq(irq_router_alloc_gsi(&r, &gsi), 0);
	cr_assert_eq(f.commits, 0, "allocating sets no table");
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0xfee00000, 0x4021), 0);
	cr_assert_eq(f.commits, 1);
	cr_assert_eq(f.nr, 24 + 16 + 1);
	for (uint32_t g = 0; g < 16; g++) {
		assert_irqchip(2 * g, g, KVM_IRQCHIP_IOAPIC, g);
		assert_irqchip(2 * g + 1, g, g < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			       g % 8);
	}
	for (uint32_t g = 16; g < 24; g++)
		assert_irqchip(16 + g, g, KVM_IRQCHIP_IOAPIC, g);
}

Test(irq_router, msi_route_entry)
{
	uint32_t gsi;
	const struct kvm_irq_routing_entry *e = &f.table[40];

	irq_router_alloc_gsi(&r, &gsi);
	cr_assert_eq(gsi, 24);
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0x1fee01000ull, 0x4022), 0);
	cr_assert_eq(e->gsi, 24);
	cr_assert_eq(e->type, KVM_IRQ_ROUTING_MSI);
	cr_assert_eq(e->u.msi.address_lo, 0xfee01000);
	cr_assert_eq(e->u.msi.address_hi, 1);
	cr_assert_eq(e->u.msi.data, 0x4022);
}

Test(irq_router, gsis_are_allocated_in_order_and_reused)
{
	uint32_t a, b, c;
	cr_assert_eq(irq_router_alloc_gsi(&r, &a), 0);
	cr_assert_eq(irq_router_alloc_gsi(&r, &b), 0);
	cr_assert_eq(a, IRQ_ROUTER_FIRST_MSI_GSI);
	cr_assert_eq(b, IRQ_ROUTER_FIRST_MSI_GSI + 1);
	cr_assert_eq(irq_router_free_gsi(&r, a), 0);
	cr_assert_eq(f.commits, 0, "it had no route");
	cr_assert_eq(irq_router_alloc_gsi(&r, &c), 0);
	cr_assert_eq(c, a);
	cr_assert_eq(irq_router_free_gsi(&r, 5), -EINVAL, "a legacy GSI");
	cr_assert_eq(irq_router_free_gsi(&r, 100), -EINVAL, "not allocated");
}

Test(irq_router, runs_out)
{
	uint32_t g;
	for (unsigned int i = 0; i < IRQ_ROUTER_MAX_MSI; i++)
		cr_assert_eq(irq_router_alloc_gsi(&r, &g), 0);
	cr_assert_eq(irq_router_alloc_gsi(&r, &g), -ENOSPC);
}

Test(irq_router, unchanged_route_is_not_committed_again)
{
	uint32_t a, b;
	irq_router_alloc_gsi(&r, &a);
	irq_router_alloc_gsi(&r, &b);
	irq_router_msi_route(&r, a, 0xfee00000, 0x41);
	irq_router_msi_route(&r, a, 0xfee00000, 0x41);
	cr_assert_eq(f.commits, 1);
	irq_router_msi_route(&r, b, 0xfee00000, 0x42);
	irq_router_msi_route(&r, a, 0xfee00000, 0x43);
	cr_assert_eq(f.commits, 3);
	cr_assert_eq(f.nr, 42);
	cr_assert_eq(f.table[40].u.msi.data, 0x43, "a keeps its place");
	cr_assert_eq(f.table[41].u.msi.data, 0x42);
}

Test(irq_router, freeing_a_routed_gsi_drops_its_route)
{
	uint32_t a, b;
	irq_router_alloc_gsi(&r, &a);
	irq_router_alloc_gsi(&r, &b);
	irq_router_msi_route(&r, a, 0xfee00000, 0x41);
	irq_router_msi_route(&r, b, 0xfee00000, 0x42);
	cr_assert_eq(irq_router_free_gsi(&r, a), 0);
	cr_assert_eq(f.commits, 3);
	cr_assert_eq(f.nr, 41);
	cr_assert_eq(f.table[40].gsi, b);
}

Test(irq_router, failed_commit_keeps_the_old_route)
{
	uint32_t a;
	irq_router_alloc_gsi(&r, &a);
	irq_router_msi_route(&r, a, 0xfee00000, 0x41);
	f.fail_commit = -ENOMEM;
	cr_assert_eq(irq_router_msi_route(&r, a, 0xfee00000, 0x99), -ENOMEM);
	f.fail_commit = 0;
	cr_assert_eq(irq_router_msi_route(&r, a, 0xfee00000, 0x41), 0);
	cr_assert_eq(f.commits, 1, "0x41 was still the route");
}

Test(irq_router, route_needs_an_allocated_gsi)
{
	cr_assert_eq(irq_router_msi_route(&r, 30, 0xfee00000, 0x41), -EINVAL);
	cr_assert_eq(irq_router_msi_route(&r, 4, 0xfee00000, 0x41), -EINVAL);
	cr_assert_eq(f.commits, 0);
}

Test(irq_router, irqfd_bind_and_unbind)
{
	cr_assert_eq(irq_router_irqfd_bind(&r, 7, 24), 0);
	cr_assert_eq(irq_router_irqfd_unbind(&r, 7, 24), 0);
	cr_assert_eq(f.nirqfd, 2);
	cr_assert_eq(f.irqfds[0].fd, 7);
	cr_assert_eq(f.irqfds[0].gsi, 24);
	cr_assert_eq(f.irqfds[0].flags, 0);
	cr_assert_eq(f.irqfds[1].fd, 7);
	cr_assert_eq(f.irqfds[1].gsi, 24);
	cr_assert_eq(f.irqfds[1].flags, KVM_IRQFD_FLAG_DEASSIGN);
}

Test(irq_router, ioeventfd)
{
	cr_assert_eq(irq_router_ioeventfd(&r, 9, 0xc0003004, 0, true), 0);
	cr_assert_eq(irq_router_ioeventfd(&r, 9, 0xc0003004, 0, false), 0);
	cr_assert_eq(irq_router_ioeventfd(&r, 9, 0xc0003004, 3, true), -EINVAL);
	cr_assert_eq(irq_router_ioeventfd(&r, 9, 0xc0003004, 16, true), -EINVAL);
	cr_assert_eq(f.nioev, 2);
	cr_assert_eq(f.ioevs[0].fd, 9);
	cr_assert_eq(f.ioevs[0].addr, 0xc0003004);
	cr_assert_eq(f.ioevs[0].len, 0);
	cr_assert_eq(f.ioevs[0].flags, 0, "MMIO, no datamatch");
	cr_assert_eq(f.ioevs[1].flags, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

Test(irq_router, ioeventfd_with_datamatch)
{
	uint64_t match = 0x1234;

	cr_assert_eq(irq_router_ioeventfd_match(&r, 9, 0xc0003004, 2, &match, true), 0);
	cr_assert_eq(irq_router_ioeventfd_match(&r, 9, 0xc0003004, 0, &match, true), -EINVAL,
		     "any-length cannot match data");
	cr_assert_eq(f.nioev, 1);
	cr_assert_eq(f.ioevs[0].len, 2);
	cr_assert_eq(f.ioevs[0].datamatch, 0x1234);
	cr_assert_eq(f.ioevs[0].flags, KVM_IOEVENTFD_FLAG_DATAMATCH);
}

Test(irq_router, real_ioctl_reports_errno)
{
	struct irq_router k;
	irq_router_init(&k, -1, NULL, NULL);
	cr_assert_eq(irq_router_irqfd_bind(&k, 3, 24), -EBADF);
	irq_router_destroy(&k);
}

/* Delivery modes (data bits 10:8) a device may use: fixed, lowest priority, NMI. */
Test(irq_router, msi_valid_only_interrupts_to_the_apics)
{
	cr_assert(irq_router_msi_valid(0xfee00000, 0x4021));	   /* fixed, level-assert bit */
	cr_assert(irq_router_msi_valid(0xfee01008, 0x0130));	   /* lowest priority */
	cr_assert(irq_router_msi_valid(0xfee00000, 0x0400));	   /* NMI */
	cr_assert(irq_router_msi_valid(0x1fee01000ull, 0x22));	   /* extended destination */
	cr_assert_not(irq_router_msi_valid(0xfee00000, 0x0200)); /* SMI */
	cr_assert_not(irq_router_msi_valid(0xfee00000, 0x0300)); /* reserved */
	cr_assert_not(irq_router_msi_valid(0xfee00000, 0x0500)); /* INIT */
	cr_assert_not(irq_router_msi_valid(0xfee00000, 0x0600)); /* SIPI */
	cr_assert_not(irq_router_msi_valid(0xfee00000, 0x0700)); /* ExtINT */
	cr_assert_not(irq_router_msi_valid(0, 0));		   /* a write to RAM */
	cr_assert_not(irq_router_msi_valid(0xfed00000, 0x21));
}

Test(irq_router, invalid_msi_drops_the_route)
{
	uint32_t gsi;

	irq_router_alloc_gsi(&r, &gsi);
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0xfee00000, 0x0500), -EINVAL, "INIT refused");
	cr_assert_eq(f.commits, 0, "no route was set");
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0xfee00000, 0x41), 0);
	cr_assert_eq(f.commits, 1);
	cr_assert_eq(f.nr, 24 + 16 + 1);
	/* the guest rewrites the vector into nonsense: the old message is not delivered any more */
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0, 0x41), -EINVAL);
	cr_assert_eq(f.commits, 2);
	cr_assert_eq(f.nr, 24 + 16, "the route is gone from the table");
	cr_assert_eq(irq_router_msi_route(&r, gsi, 0xfee00000, 0x41), 0, "a valid one again");
	cr_assert_eq(f.nr, 24 + 16 + 1);
}
