#include <criterion/criterion.h>
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "layout.h"
#include "virtio_pci.h"

#define BAR 0xc0008000ull
#define SLOT 3
#define BLK 2
#define F_RO (1ull << 5)
#define F_FLUSH (1ull << 9)
#define F_RING_RESET (1ull << 40)
#define F_V1 (1ull << 32)

/* ---- fakes: the device ops and the VM fd ---- */

struct fake_dev {
	unsigned int activations, resets;
	int activate_ret;
	struct virtio_pci_activation act;
	uint32_t read_off, read_len, write_off, write_len;
	uint8_t written[8];
	unsigned int reads, writes, msix_changes;
	unsigned int last_vector;
};

struct fake_vm {
	unsigned int commits;
	struct kvm_irq_routing_entry table[128];
	unsigned int nr;
	unsigned int nirqfd, nioev;
	struct kvm_irqfd irqfds[32];
	struct kvm_ioeventfd ioevs[32];
	int ioev_any_len_ret; /* what KVM_IOEVENTFD with len 0 returns */
};

static struct fake_dev dev;
static struct fake_vm vm;
static struct pci_root root;
static struct irq_router router;
static struct virtio_pci v;

static int cfg_rd(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	(void)ctx;
	dev.reads++;
	dev.read_off = off;
	dev.read_len = len;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xa0 + off + i);
	return 0;
}

static int cfg_wr(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
	(void)ctx;
	dev.writes++;
	dev.write_off = off;
	dev.write_len = len;
	memcpy(dev.written, buf, len < 8 ? len : 8);
	return 0;
}

static int act(void *ctx, const struct virtio_pci_activation *a)
{
	(void)ctx;
	dev.activations++;
	dev.act = *a;
	return dev.activate_ret;
}

static void rst(void *ctx)
{
	(void)ctx;
	dev.resets++;
}

static void msix_chg(void *ctx, unsigned int vector)
{
	(void)ctx;
	dev.msix_changes++;
	dev.last_vector = vector;
}

static const struct virtio_pci_ops ops = {
	.config_read = cfg_rd,
	.config_write = cfg_wr,
	.activate = act,
	.reset = rst,
	.msix_changed = msix_chg,
};

static int vm_ioctl(void *ctx, unsigned long req, void *arg)
{
	(void)ctx;
	if (req == KVM_SET_GSI_ROUTING) {
		const struct kvm_irq_routing *t = arg;
		vm.commits++;
		vm.nr = t->nr;
		memcpy(vm.table, t->entries, t->nr * sizeof(t->entries[0]));
	} else if (req == KVM_IRQFD) {
		vm.irqfds[vm.nirqfd++ % 32] = *(struct kvm_irqfd *)arg;
	} else if (req == KVM_IOEVENTFD) {
		struct kvm_ioeventfd *e = arg;
		if (e->len == 0 && vm.ioev_any_len_ret)
			return vm.ioev_any_len_ret;
		vm.ioevs[vm.nioev++ % 32] = *e;
	}
	return 0;
}

static const struct irq_router_ops vm_ops = {.ioctl = vm_ioctl};

static void stop(void *ctx, enum vm_stop_reason why)
{
	(void)ctx;
	(void)why;
}

static const uint16_t sizes[] = {256, 128};

static void setup(void)
{
	memset(&dev, 0, sizeof(dev));
	memset(&vm, 0, sizeof(vm));
	pci_root_init(&root, (struct vm_stopper){.stop = stop});
	irq_router_init(&router, -1, &vm_ops, NULL);
	cr_assert_eq(virtio_pci_init(&v, BLK, F_RO | F_FLUSH | F_RING_RESET, 2, sizes, 60, BAR,
				     &ops, NULL),
		     0);
	cr_assert_eq(pci_root_add(&root, SLOT, &v.pci), 0);
}

static void teardown(void)
{
	virtio_pci_destroy(&v);
	irq_router_destroy(&router);
	pci_root_destroy(&root);
}

/* ---- the guest's accessors ---- */

static void bar_wr(uint64_t off, uint32_t len, uint64_t val)
{
	uint8_t b[8];
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	virtio_pci_bar_ops.write(&v, off, b, len);
}

static uint64_t bar_rd(uint64_t off, uint32_t len)
{
	uint8_t b[8] = {0};
	uint64_t val = 0;
	virtio_pci_bar_ops.read(&v, off, b, len);
	for (uint32_t i = 0; i < len; i++)
		val |= (uint64_t)b[i] << (8 * i);
	return val;
}

/* Common config registers (virtio 1.2, 4.1.4.3). */
enum {
	DFSEL = 0x00, DF = 0x04, GFSEL = 0x08, GF = 0x0c, MSIXCFG = 0x10, NUMQ = 0x12,
	STATUS = 0x14, GEN = 0x15, QSEL = 0x16, QSIZE = 0x18, QVEC = 0x1a, QEN = 0x1c,
	QNOFF = 0x1e, QDESC = 0x20, QDRV = 0x28, QDEV = 0x30,
};

static void pio_wr(uint64_t port, uint32_t len, uint32_t val)
{
	uint8_t b[4] = {(uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
			(uint8_t)(val >> 24)};
	pci_root_ops.write(&root, port, b, len);
}

static uint32_t pio_rd(uint64_t port, uint32_t len)
{
	uint8_t b[4] = {0};
	pci_root_ops.read(&root, port, b, len);
	return b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint32_t cfg(uint32_t reg, uint32_t len)
{
	pio_wr(0, 4, 0x80000000u | (SLOT << 11) | (reg & 0xfc));
	return pio_rd(4 + (reg & 3), len);
}

static void cfg_set(uint32_t reg, uint32_t len, uint32_t val)
{
	pio_wr(0, 4, 0x80000000u | (SLOT << 11) | (reg & 0xfc));
	pio_wr(4 + (reg & 3), len, val);
}

/* Offset of the vendor capability with cfg_type `type`, or of capability `id` if type < 0. */
static uint32_t find_cap(uint8_t id, int type)
{
	unsigned int hops = 0;
	for (uint32_t p = cfg(PCI_CAPABILITY_LIST, 1); p; p = cfg(p + 1, 1)) {
		cr_assert_lt(++hops, 48, "capability loop");
		cr_assert_geq(p, 0x40);
		cr_assert_eq(p & 3, 0);
		if (cfg(p, 1) == id && (type < 0 || cfg(p + 3, 1) == (uint32_t)type))
			return p;
	}
	return 0;
}

/* Linux's virtio_pci_modern probe and virtio_dev_probe up to FEATURES_OK. */
static uint8_t negotiate(uint64_t features)
{
	bar_wr(STATUS, 1, 0);
	bar_wr(STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	bar_wr(STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_wr(GFSEL, 4, 0);
	bar_wr(GF, 4, (uint32_t)features);
	bar_wr(GFSEL, 4, 1);
	bar_wr(GF, 4, (uint32_t)(features >> 32));
	bar_wr(STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	return (uint8_t)bar_rd(STATUS, 1);
}

static void setup_queue(uint16_t q, uint16_t size, uint16_t vec, uint64_t desc, uint64_t drv,
			uint64_t devarea)
{
	bar_wr(QSEL, 2, q);
	bar_wr(QSIZE, 2, size);
	bar_wr(QVEC, 2, vec);
	bar_wr(QDESC, 4, (uint32_t)desc);
	bar_wr(QDESC + 4, 4, (uint32_t)(desc >> 32));
	bar_wr(QDRV, 4, (uint32_t)drv);
	bar_wr(QDRV + 4, 4, (uint32_t)(drv >> 32));
	bar_wr(QDEV, 4, (uint32_t)devarea);
	bar_wr(QDEV + 4, 4, (uint32_t)(devarea >> 32));
	bar_wr(QEN, 2, 1);
}

static const uint8_t all_ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

TestSuite(virtio_pci, .init = setup, .fini = teardown);

/* ---- PCI config space ---- */

Test(virtio_pci, identity)
{
	cr_assert_eq(cfg(PCI_VENDOR_ID, 2), 0x1af4);
	cr_assert_eq(cfg(PCI_DEVICE_ID, 2), 0x1042);
	cr_assert_eq(cfg(PCI_REVISION, 1), 1);
	cr_assert_eq(cfg(PCI_CLASS_DEVICE, 2), 0x0100);
	cr_assert_eq(cfg(PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	cr_assert_geq(cfg(PCI_SUBSYSTEM_ID, 2), 0x40);
	cr_assert_eq(cfg(PCI_HEADER_TYPE, 1), 0);
	cr_assert_eq(cfg(PCI_INTERRUPT_PIN, 1), 0, "MSI-X only");
	cr_assert(cfg(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
}

Test(virtio_pci, class_per_type)
{
	struct virtio_pci n, r;
	cr_assert_eq(virtio_pci_init(&n, 1, 0, 2, sizes, 0, BAR, &ops, NULL), 0);
	cr_assert_eq(virtio_pci_init(&r, 4, 0, 1, sizes, 0, BAR, &ops, NULL), 0);
	cr_assert_eq(pci_cfg_read(&n.pci, PCI_CLASS_DEVICE, 2), 0x0200);
	cr_assert_eq(pci_cfg_read(&r.pci, PCI_CLASS_DEVICE, 2), 0x00ff);
	cr_assert_eq(pci_cfg_read(&r.pci, PCI_DEVICE_ID, 2), 0x1044);
	virtio_pci_destroy(&n);
	virtio_pci_destroy(&r);
}

Test(virtio_pci, init_rejects_bad_arguments)
{
	struct virtio_pci x;
	const uint16_t odd[] = {100};
	cr_assert_eq(virtio_pci_init(&x, 0, 0, 1, sizes, 0, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 64, 0, 1, sizes, 0, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 0, sizes, 0, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 17, sizes, 0, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 1, odd, 0, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 1, sizes, 0x1001, BAR, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 1, sizes, 0, BAR + 0x1000, &ops, NULL), -EINVAL);
	cr_assert_eq(virtio_pci_init(&x, 2, 0, 1, sizes, 0, BAR, NULL, NULL), -EINVAL);
}

static void check_virtio_cap(int type, uint32_t off, uint32_t len)
{
	uint32_t p = find_cap(0x09, type);
	cr_assert_neq(p, 0, "capability type %d", type);
	cr_assert_eq(cfg(p + 4, 1), 0, "type %d: BAR 0", type);
	cr_assert_eq(cfg(p + 8, 4), off, "type %d: offset", type);
	cr_assert_eq(cfg(p + 12, 4), len, "type %d: length", type);
	cr_assert_geq(cfg(p + 2, 1), 16, "type %d: cap_len", type);
}

Test(virtio_pci, capability_chain)
{
	uint32_t p;

	check_virtio_cap(1, VIRTIO_PCI_COMMON_OFF, 0x38);
	check_virtio_cap(2, VIRTIO_PCI_NOTIFY_OFF, 2 * 4);
	check_virtio_cap(3, VIRTIO_PCI_ISR_OFF, 1);
	check_virtio_cap(4, VIRTIO_PCI_DEVICE_OFF, 60);
	cr_assert_neq(find_cap(0x09, 5), 0, "the PCI_CFG window");
	p = find_cap(0x09, 2);
	cr_assert_eq(cfg(p + 2, 1), 20);
	cr_assert_eq(cfg(p + 16, 4), 4, "notify_off_multiplier");
	p = find_cap(0x11, -1);
	cr_assert_neq(p, 0, "MSI-X");
	cr_assert_eq(cfg(p + 2, 2), 2, "3 vectors: 2 queues and config");
	cr_assert_eq(cfg(p + 4, 4), VIRTIO_PCI_MSIX_TABLE_OFF | 0);
	cr_assert_eq(cfg(p + 8, 4), VIRTIO_PCI_MSIX_PBA_OFF | 0);
}

Test(virtio_pci, no_device_cap_without_config)
{
	struct virtio_pci x;
	cr_assert_eq(virtio_pci_init(&x, 4, 0, 1, sizes, 0, BAR, &ops, NULL), 0);
	for (uint32_t p = x.pci.cfg[PCI_CAPABILITY_LIST]; p; p = x.pci.cfg[p + 1])
		cr_assert_not(x.pci.cfg[p] == 0x09 && x.pci.cfg[p + 3] == 4);
	virtio_pci_destroy(&x);
}

Test(virtio_pci, bar_sizing_probe)
{
	cr_assert_eq(cfg(PCI_BAR0, 4), (uint32_t)BAR | PCI_BAR_MEM_64);
	cr_assert_eq(cfg(PCI_BAR0 + 4, 4), 0);
	/* Linux's __pci_read_base: each dword probed and restored in turn */
	cfg_set(PCI_BAR0, 4, 0xffffffff);
	cr_assert_eq(cfg(PCI_BAR0, 4), 0xffff8000 | PCI_BAR_MEM_64);
	cfg_set(PCI_BAR0, 4, (uint32_t)BAR | PCI_BAR_MEM_64);
	cfg_set(PCI_BAR0 + 4, 4, 0xffffffff);
	cr_assert_eq(cfg(PCI_BAR0 + 4, 4), 0xffffffff);
	cfg_set(PCI_BAR0 + 4, 4, 0);
	cr_assert_eq(cfg(PCI_BAR0, 4), (uint32_t)BAR | PCI_BAR_MEM_64);
	cr_assert_eq(cfg(PCI_BAR0 + 4, 4), 0);
	cr_assert_eq(pci_bar_addr(&v.pci, 0), BAR);
}

Test(virtio_pci, bar_is_fixed)
{
	cfg_set(PCI_BAR0, 4, 0xd0000000);
	cr_assert_eq(cfg(PCI_BAR0, 4), (uint32_t)BAR | PCI_BAR_MEM_64, "a move is ignored");
	cfg_set(PCI_BAR0, 4, 0xffffffff);
	cfg_set(PCI_BAR0, 2, 0x1234);
	cr_assert_eq(cfg(PCI_BAR0, 4), (uint32_t)BAR | PCI_BAR_MEM_64, "any write ends sizing");
	cfg_set(PCI_BAR0 + 8, 4, 0xffffffff);
	cr_assert_eq(cfg(PCI_BAR0 + 8, 4), 0, "an unused BAR stays zero");
}

Test(virtio_pci, command_register)
{
	cfg_set(PCI_COMMAND, 2, 0xffff);
	cr_assert_eq(cfg(PCI_COMMAND, 2), 0x0406);
}

Test(virtio_pci, pci_cfg_window)
{
	uint32_t p = find_cap(0x09, 5);

	cfg_set(p + 4, 1, 0);
	cfg_set(p + 8, 4, NUMQ);
	cfg_set(p + 12, 4, 2);
	cr_assert_eq(cfg(p + 16, 2), 2, "num_queues through the window");
	cfg_set(p + 8, 4, STATUS);
	cfg_set(p + 12, 4, 1);
	cfg_set(p + 16, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	cr_assert_eq(bar_rd(STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
	cfg_set(p + 12, 4, 3); /* not 1, 2 or 4: nothing happens */
	cfg_set(p + 16, 1, 0);
	cr_assert_eq(bar_rd(STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE);
}

/* ---- BAR allocation ---- */

Test(virtio_pci, mmio_alloc_is_naturally_aligned)
{
	uint64_t a, b, c;
	cr_assert_eq(pci_mmio_alloc(&root, 0x1000, &a), 0);
	cr_assert_eq(a, PCI_MMIO_START);
	cr_assert_eq(pci_mmio_alloc(&root, VIRTIO_PCI_BAR_SIZE, &b), 0);
	cr_assert_eq(b, PCI_MMIO_START + VIRTIO_PCI_BAR_SIZE);
	cr_assert_eq(pci_mmio_alloc(&root, 0x1000, &c), 0);
	cr_assert_eq(c, b + VIRTIO_PCI_BAR_SIZE);
	cr_assert_eq(pci_mmio_alloc(&root, 0x1800, &c), -EINVAL);
	cr_assert_eq(pci_mmio_alloc(&root, 0x800, &c), -EINVAL);
	cr_assert_eq(pci_mmio_alloc(&root, 1ull << 30, &c), -ENOSPC, "0x1_0000_0000 is past");
}

Test(virtio_pci, bar_set_rejects_bad_bars)
{
	struct pci_device d = {0};
	cr_assert_eq(pci_bar_set(&d, 5, BAR, 0x8000, PCI_BAR_MEM_64), -EINVAL);
	cr_assert_eq(pci_bar_set(&d, 0, BAR, 0x3000, 0), -EINVAL);
	cr_assert_eq(pci_bar_set(&d, 0, BAR + 0x100, 0x8000, 0), -EINVAL);
	cr_assert_eq(pci_bar_set(&d, 0, 1ull << 32, 0x8000, 0), -EINVAL, "32-bit BAR");
	cr_assert_eq(pci_bar_set(&d, 1, BAR, 0x8000, PCI_BAR_PREFETCH), 0);
	cr_assert_eq(pci_cfg_read(&d, PCI_BAR0 + 4, 4), (uint32_t)BAR | PCI_BAR_PREFETCH);
	cr_assert_eq(pci_bar_addr(&d, 1), BAR);
}

/* ---- common config ---- */

Test(virtio_pci, device_features_in_two_halves)
{
	bar_wr(DFSEL, 4, 0);
	cr_assert_eq(bar_rd(DF, 4), (uint32_t)(F_RO | F_FLUSH));
	bar_wr(DFSEL, 4, 1);
	cr_assert_eq(bar_rd(DF, 4), 1, "VERSION_1, and not RING_RESET: we lack queue_reset");
	bar_wr(DFSEL, 4, 2);
	cr_assert_eq(bar_rd(DF, 4), 0);
	cr_assert_eq(bar_rd(DFSEL, 4), 2);
	cr_assert_eq(bar_rd(NUMQ, 2), 2);
}

Test(virtio_pci, linux_driver_sequence_activates)
{
	const struct virtio_pci_activation *a = &dev.act;

	cr_assert_eq(negotiate(F_V1 | F_FLUSH) & VIRTIO_STATUS_FEATURES_OK,
		     VIRTIO_STATUS_FEATURES_OK);
	bar_wr(MSIXCFG, 2, 2);
	cr_assert_eq(bar_rd(MSIXCFG, 2), 2);
	bar_wr(QSEL, 2, 0);
	cr_assert_eq(bar_rd(QSIZE, 2), 256, "max size before the driver sets one");
	cr_assert_eq(bar_rd(QNOFF, 2), 0);
	setup_queue(0, 64, 0, 0x10000, 0x11000, 0x1200000000ull);
	bar_wr(QSEL, 2, 1);
	cr_assert_eq(bar_rd(QNOFF, 2), 1);
	cr_assert_eq(dev.activations, 0);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(bar_rd(STATUS, 1), all_ok);
	cr_assert_eq(dev.activations, 1);
	cr_assert_eq(a->features, F_V1 | F_FLUSH);
	cr_assert_eq(a->nqueues, 2);
	cr_assert_eq(a->config_msix_vector, 2);
	cr_assert(a->queues[0].enabled);
	cr_assert_eq(a->queues[0].size, 64);
	cr_assert_eq(a->queues[0].msix_vector, 0);
	cr_assert_eq(a->queues[0].desc, 0x10000);
	cr_assert_eq(a->queues[0].avail, 0x11000);
	cr_assert_eq(a->queues[0].used, 0x1200000000ull);
	cr_assert_not(a->queues[1].enabled, "queue 1 was never enabled");
	cr_assert_eq(a->queues[1].size, 0);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(dev.activations, 1, "DRIVER_OK again is no new activation");
}

Test(virtio_pci, refuses_features_not_offered)
{
	cr_assert_eq(negotiate(F_V1 | F_FLUSH | (1ull << 12)) & VIRTIO_STATUS_FEATURES_OK, 0);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(bar_rd(STATUS, 1) & VIRTIO_STATUS_DRIVER_OK, 0);
	cr_assert_eq(dev.activations, 0);
}

Test(virtio_pci, refuses_features_without_version_1)
{
	cr_assert_eq(negotiate(F_FLUSH) & VIRTIO_STATUS_FEATURES_OK, 0);
}

Test(virtio_pci, refuses_transport_features_we_lack)
{
	cr_assert_eq(negotiate(F_V1 | F_RING_RESET) & VIRTIO_STATUS_FEATURES_OK, 0);
}

Test(virtio_pci, features_are_frozen_by_features_ok)
{
	negotiate(F_V1);
	bar_wr(GFSEL, 4, 0);
	bar_wr(GF, 4, (uint32_t)F_FLUSH);
	cr_assert_eq(bar_rd(GF, 4), 0);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(dev.act.features, F_V1);
}

Test(virtio_pci, queue_size_must_be_a_power_of_two_up_to_max)
{
	bar_wr(QSEL, 2, 1);
	bar_wr(QSIZE, 2, 100);
	cr_assert_eq(bar_rd(QSIZE, 2), 128);
	bar_wr(QSIZE, 2, 256);
	cr_assert_eq(bar_rd(QSIZE, 2), 128, "above max");
	bar_wr(QSIZE, 2, 0);
	cr_assert_eq(bar_rd(QSIZE, 2), 128);
	bar_wr(QSIZE, 2, 32);
	cr_assert_eq(bar_rd(QSIZE, 2), 32);
}

Test(virtio_pci, enabled_queue_is_frozen)
{
	setup_queue(0, 64, 0, 0x10000, 0x11000, 0x12000);
	bar_wr(QSIZE, 2, 32);
	bar_wr(QDESC, 4, 0x90000);
	bar_wr(QEN, 2, 0);
	cr_assert_eq(bar_rd(QSIZE, 2), 64);
	cr_assert_eq(bar_rd(QDESC, 4), 0x10000);
	cr_assert_eq(bar_rd(QEN, 2), 1);
}

Test(virtio_pci, missing_queue_reads_zero)
{
	bar_wr(QSEL, 2, 5);
	cr_assert_eq(bar_rd(QSEL, 2), 5);
	cr_assert_eq(bar_rd(QSIZE, 2), 0);
	cr_assert_eq(bar_rd(QVEC, 2), VIRTIO_PCI_NO_VECTOR);
	bar_wr(QEN, 2, 1);
	cr_assert_eq(bar_rd(QEN, 2), 0);
}

Test(virtio_pci, vector_out_of_range_reads_no_vector)
{
	bar_wr(QVEC, 2, 3);
	cr_assert_eq(bar_rd(QVEC, 2), VIRTIO_PCI_NO_VECTOR);
	bar_wr(MSIXCFG, 2, 7);
	cr_assert_eq(bar_rd(MSIXCFG, 2), VIRTIO_PCI_NO_VECTOR);
	bar_wr(QVEC, 2, 2);
	cr_assert_eq(bar_rd(QVEC, 2), 2);
}

Test(virtio_pci, queue_address_as_one_qword)
{
	bar_wr(QDESC, 8, 0x123456789000ull);
	cr_assert_eq(bar_rd(QDESC, 8), 0x123456789000ull);
	cr_assert_eq(bar_rd(QDESC + 4, 4), 0x1234);
}

Test(virtio_pci, wrong_width_is_dropped)
{
	bar_wr(QSEL, 4, 1); /* a 16-bit register */
	cr_assert_eq(bar_rd(QSEL, 2), 0);
	cr_assert_eq(bar_rd(NUMQ - 2, 4), 0, "msix_config and num_queues as one dword");
	bar_wr(NUMQ, 2, 9);
	cr_assert_eq(bar_rd(NUMQ, 2), 2, "read-only");
}

Test(virtio_pci, reset_clears_everything)
{
	negotiate(F_V1 | F_RO);
	bar_wr(MSIXCFG, 2, 2);
	setup_queue(1, 32, 1, 0x10000, 0x11000, 0x12000);
	bar_wr(STATUS, 1, all_ok);
	bar_wr(DFSEL, 4, 1);
	dev.resets = 0;
	bar_wr(STATUS, 1, 0);
	cr_assert_eq(dev.resets, 1);
	cr_assert_eq(bar_rd(STATUS, 1), 0);
	cr_assert_eq(bar_rd(DFSEL, 4), 0);
	cr_assert_eq(bar_rd(GFSEL, 4), 0);
	bar_wr(GFSEL, 4, 1);
	cr_assert_eq(bar_rd(GF, 4), 0, "driver features cleared");
	cr_assert_eq(bar_rd(MSIXCFG, 2), VIRTIO_PCI_NO_VECTOR);
	cr_assert_eq(bar_rd(QSEL, 2), 0);
	bar_wr(QSEL, 2, 1);
	cr_assert_eq(bar_rd(QSIZE, 2), 128);
	cr_assert_eq(bar_rd(QVEC, 2), VIRTIO_PCI_NO_VECTOR);
	cr_assert_eq(bar_rd(QEN, 2), 0);
	cr_assert_eq(bar_rd(QDESC, 8), 0);
	cr_assert_eq(bar_rd(QDRV, 8), 0);
	cr_assert_eq(bar_rd(QDEV, 8), 0);
	negotiate(F_V1);
	setup_queue(1, 64, 0, 0x20000, 0x21000, 0x22000);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(dev.activations, 2, "the device can be set up again");
	cr_assert_eq(dev.act.queues[1].size, 64);
}

Test(virtio_pci, driver_cannot_clear_bits_or_set_needs_reset)
{
	bar_wr(STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	bar_wr(STATUS, 1, VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_ACKNOWLEDGE);
	cr_assert_eq(bar_rd(STATUS, 1), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	cr_assert_eq(dev.resets, 0);
}

Test(virtio_pci, failed_activation_needs_reset)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	const int qfds[2] = {-1, -1};
	uint64_t n = 0;

	virtio_pci_bind_irqs(&v, NULL, qfds, efd);
	dev.activate_ret = -EIO;
	negotiate(F_V1);
	setup_queue(0, 64, 0, 0x10000, 0x11000, 0x12000);
	bar_wr(STATUS, 1, all_ok);
	cr_assert_eq(bar_rd(STATUS, 1), all_ok | VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(read(efd, &n, sizeof(n)), 8, "config interrupt");
	cr_assert_eq(bar_rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_ISR_CONFIG);
	close(efd);
}

/* ---- device config, ISR, notify ---- */

Test(virtio_pci, config_reads_and_writes_are_forwarded)
{
	cr_assert_eq(bar_rd(VIRTIO_PCI_DEVICE_OFF + 8, 4), 0xabaaa9a8);
	cr_assert_eq(dev.read_off, 8);
	cr_assert_eq(dev.read_len, 4);
	bar_wr(VIRTIO_PCI_DEVICE_OFF + 20, 1, 0x5a);
	cr_assert_eq(dev.write_off, 20);
	cr_assert_eq(dev.write_len, 1);
	cr_assert_eq(dev.written[0], 0x5a);
	cr_assert_eq(bar_rd(VIRTIO_PCI_DEVICE_OFF + 56, 8), 0, "crosses config_size");
	bar_wr(VIRTIO_PCI_DEVICE_OFF + 60, 1, 1);
	cr_assert_eq(dev.reads, 1);
	cr_assert_eq(dev.writes, 1);
}

Test(virtio_pci, isr_read_clears)
{
	uint8_t gen = (uint8_t)bar_rd(GEN, 1);
	virtio_pci_config_changed(&v);
	cr_assert_eq(bar_rd(GEN, 1), (uint8_t)(gen + 1));
	cr_assert_eq(bar_rd(VIRTIO_PCI_ISR_OFF, 1), VIRTIO_ISR_CONFIG);
	cr_assert_eq(bar_rd(VIRTIO_PCI_ISR_OFF, 1), 0);
}

Test(virtio_pci, needs_reset_from_main)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	const int qfds[2] = {-1, -1};
	uint64_t n = 0;

	virtio_pci_bind_irqs(&v, NULL, qfds, efd);
	virtio_pci_set_needs_reset(&v);
	cr_assert_eq(bar_rd(STATUS, 1), VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(read(efd, &n, sizeof(n)), -1, "no interrupt before DRIVER_OK");
	bar_wr(STATUS, 1, 0);
	negotiate(F_V1);
	bar_wr(STATUS, 1, all_ok);
	virtio_pci_set_needs_reset(&v);
	cr_assert_eq(bar_rd(STATUS, 1), all_ok | VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(read(efd, &n, sizeof(n)), 8);
	cr_assert_eq(n, 1);
	bar_wr(STATUS, 1, 0);
	cr_assert_eq(bar_rd(STATUS, 1), 0, "reset clears it");
	close(efd);
}

Test(virtio_pci, kicks_register_ioeventfds)
{
	int k[2] = {eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK)};
	uint64_t n = 0;

	cr_assert_eq(virtio_pci_notify_addr(&v, 1), BAR + VIRTIO_PCI_NOTIFY_OFF + 4);
	cr_assert_eq(virtio_pci_bind_kicks(&v, &router, k), 0);
	cr_assert_eq(vm.nioev, 2);
	cr_assert_eq(vm.ioevs[1].fd, k[1]);
	cr_assert_eq(vm.ioevs[1].addr, BAR + VIRTIO_PCI_NOTIFY_OFF + 4);
	cr_assert_eq(vm.ioevs[1].len, 0, "any length: KVM's fast MMIO path");
	cr_assert_eq(vm.ioevs[1].flags, 0);
	/* a kick that reaches userspace anyway */
	bar_wr(VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	cr_assert_eq(read(k[1], &n, sizeof(n)), 8);
	cr_assert_eq(read(k[0], &n, sizeof(n)), -1);
	cr_assert_eq(virtio_pci_bind_kicks(&v, &router, NULL), 0);
	cr_assert_eq(vm.nioev, 4);
	cr_assert_eq(vm.ioevs[3].flags, KVM_IOEVENTFD_FLAG_DEASSIGN);
	cr_assert_eq(vm.ioevs[3].fd, k[1]);
	close(k[0]);
	close(k[1]);
}

Test(virtio_pci, kicks_fall_back_to_two_bytes)
{
	int k[2] = {7, -1};
	vm.ioev_any_len_ret = -EINVAL;
	cr_assert_eq(virtio_pci_bind_kicks(&v, &router, k), 0);
	cr_assert_eq(vm.nioev, 1);
	cr_assert_eq(vm.ioevs[0].len, 2);
	cr_assert_eq(vm.ioevs[0].addr, BAR + VIRTIO_PCI_NOTIFY_OFF);
	virtio_pci_bind_kicks(&v, &router, NULL);
	cr_assert_eq(vm.ioevs[1].len, 2, "deassigned with the same len");
}

/* ---- MSI-X and the interrupt wiring ---- */

static int qfd[2], cfd;

static void msix_setup(void)
{
	setup();
	qfd[0] = eventfd(0, EFD_NONBLOCK);
	qfd[1] = eventfd(0, EFD_NONBLOCK);
	cfd = eventfd(0, EFD_NONBLOCK);
	cr_assert_eq(virtio_pci_bind_irqs(&v, &router, qfd, cfd), 0);
}

static void msix_teardown(void)
{
	teardown();
	close(qfd[0]);
	close(qfd[1]);
	close(cfd);
}

static void msix_ctrl(uint16_t ctrl)
{
	cfg_set(find_cap(0x11, -1) + 2, 2, ctrl);
}

static void entry(unsigned int vec, uint64_t addr, uint32_t data, bool masked)
{
	uint64_t e = VIRTIO_PCI_MSIX_TABLE_OFF + 16 * vec;
	bar_wr(e + 12, 4, 1); /* Linux masks while it writes the message */
	bar_wr(e, 4, (uint32_t)addr);
	bar_wr(e + 4, 4, (uint32_t)(addr >> 32));
	bar_wr(e + 8, 4, data);
	bar_wr(e + 12, 4, masked);
}

static const struct kvm_irq_routing_entry *route(uint32_t gsi)
{
	for (unsigned int i = 0; i < vm.nr; i++)
		if (vm.table[i].gsi == gsi && vm.table[i].type == KVM_IRQ_ROUTING_MSI)
			return &vm.table[i];
	return NULL;
}

static const struct kvm_irqfd *last_irqfd(void)
{
	cr_assert_gt(vm.nirqfd, 0);
	return &vm.irqfds[(vm.nirqfd - 1) % 32];
}

/* Linux's pci_msix_enable + virtio vp_request_msix_vectors for queue 0 and config. */
static void linux_msix(void)
{
	msix_ctrl(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	msix_ctrl(MSIX_CTRL_ENABLE);
	entry(0, 0xfee00000, 0x4021, false);
	entry(2, 0xfee01000, 0x4022, false);
	bar_wr(MSIXCFG, 2, 2);
	bar_wr(QSEL, 2, 0);
	bar_wr(QVEC, 2, 0);
}

TestSuite(virtio_pci_msix, .init = msix_setup, .fini = msix_teardown);

Test(virtio_pci_msix, nothing_bound_while_masked)
{
	msix_ctrl(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	entry(0, 0xfee00000, 0x4021, false);
	bar_wr(QVEC, 2, 0);
	cr_assert_eq(vm.nirqfd, 0);
	cr_assert_eq(vm.commits, 0);
	cr_assert_eq(dev.last_vector, 0);
	cr_assert_geq(dev.msix_changes, 2, "the mask bits and the entry");
}

Test(virtio_pci_msix, live_vectors_get_routes_and_irqfds)
{
	const struct kvm_irq_routing_entry *e;

	linux_msix();
	cr_assert_eq(vm.nirqfd, 2, "config fd, then queue 0's");
	cr_assert_eq(vm.irqfds[0].fd, cfd);
	cr_assert_eq(vm.irqfds[1].fd, qfd[0]);
	cr_assert_eq(vm.irqfds[1].flags, 0);
	cr_assert_neq(vm.irqfds[0].gsi, vm.irqfds[1].gsi);
	cr_assert_eq(vm.nr, 40 + 2, "legacy routes plus two MSI");
	e = route(vm.irqfds[1].gsi);
	cr_assert_not_null(e);
	cr_assert_eq(e->u.msi.address_lo, 0xfee00000);
	cr_assert_eq(e->u.msi.data, 0x4021);
	e = route(vm.irqfds[0].gsi);
	cr_assert_not_null(e);
	cr_assert_eq(e->u.msi.address_lo, 0xfee01000);
	cr_assert_eq(e->u.msi.data, 0x4022);
	cr_assert_eq(v.bound_gsi[1], -1, "queue 1 has no vector");
}

Test(virtio_pci_msix, masking_unbinds_and_retargeting_reroutes)
{
	uint32_t gsi;
	unsigned int commits;

	linux_msix();
	gsi = vm.irqfds[1].gsi;
	commits = vm.commits;
	/* Linux's __pci_write_msi_msg: mask, new message, unmask */
	bar_wr(VIRTIO_PCI_MSIX_TABLE_OFF + 12, 4, 1);
	cr_assert_eq(vm.nirqfd, 3);
	cr_assert_eq(last_irqfd()->fd, qfd[0]);
	cr_assert_eq(last_irqfd()->gsi, gsi);
	cr_assert_eq(last_irqfd()->flags, KVM_IRQFD_FLAG_DEASSIGN);
	bar_wr(VIRTIO_PCI_MSIX_TABLE_OFF + 8, 4, 0x4031);
	cr_assert_eq(vm.commits, commits, "a masked vector's route is left alone");
	bar_wr(VIRTIO_PCI_MSIX_TABLE_OFF + 12, 4, 0);
	cr_assert_eq(vm.commits, commits + 1);
	cr_assert_eq(route(gsi)->u.msi.data, 0x4031);
	cr_assert_eq(vm.nirqfd, 4);
	cr_assert_eq(last_irqfd()->gsi, gsi, "same GSI for the same vector");
	cr_assert_eq(last_irqfd()->flags, 0);
}

Test(virtio_pci_msix, function_mask_and_disable_unbind_all)
{
	linux_msix();
	msix_ctrl(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	cr_assert_eq(vm.nirqfd, 4);
	cr_assert_eq(vm.irqfds[2].flags, KVM_IRQFD_FLAG_DEASSIGN);
	cr_assert_eq(vm.irqfds[3].flags, KVM_IRQFD_FLAG_DEASSIGN);
	cr_assert_eq(dev.last_vector, VIRTIO_PCI_MSIX_ALL);
	msix_ctrl(MSIX_CTRL_ENABLE);
	cr_assert_eq(vm.nirqfd, 6);
	msix_ctrl(0);
	cr_assert_eq(vm.nirqfd, 8);
	cr_assert_eq(v.bound_gsi[0], -1);
	cr_assert_eq(v.bound_gsi[2], -1);
}

Test(virtio_pci_msix, shared_vector_shares_a_gsi)
{
	linux_msix();
	bar_wr(QSEL, 2, 1);
	bar_wr(QVEC, 2, 0);
	cr_assert_eq(vm.nirqfd, 3);
	cr_assert_eq(last_irqfd()->fd, qfd[1]);
	cr_assert_eq(last_irqfd()->gsi, vm.irqfds[1].gsi);
	bar_wr(QVEC, 2, VIRTIO_PCI_NO_VECTOR);
	cr_assert_eq(last_irqfd()->fd, qfd[1]);
	cr_assert_eq(last_irqfd()->flags, KVM_IRQFD_FLAG_DEASSIGN);
}

Test(virtio_pci_msix, pba_shows_masked_pending_vectors)
{
	uint64_t one = 1;

	linux_msix();
	bar_wr(VIRTIO_PCI_MSIX_TABLE_OFF + 12, 4, 1);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_PBA_OFF, 8), 0);
	cr_assert_eq(write(qfd[0], &one, sizeof(one)), 8, "the device signals while masked");
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_PBA_OFF, 8), 1);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_PBA_OFF, 4), 1);
	bar_wr(VIRTIO_PCI_MSIX_PBA_OFF, 4, 0);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_PBA_OFF, 8), 1, "read-only");
}

Test(virtio_pci_msix, table_reads_back)
{
	linux_msix();
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_TABLE_OFF + 32, 4), 0xfee01000);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_TABLE_OFF + 40, 4), 0x4022);
	cr_assert_eq(bar_rd(VIRTIO_PCI_MSIX_TABLE_OFF + 16 + 12, 4), 1, "vector 1 masked");
	cr_assert(virtio_pci_msix_vector(&v, 2, &(uint64_t){0}, &(uint32_t){0}));
	cr_assert_not(virtio_pci_msix_vector(&v, 1, &(uint64_t){0}, &(uint32_t){0}));
}

Test(virtio_pci_msix, rebinding_new_fds_and_destroy)
{
	int nfd[2] = {eventfd(0, EFD_NONBLOCK), -1};

	linux_msix();
	cr_assert_eq(virtio_pci_bind_irqs(&v, &router, nfd, -1), 0);
	/* both old bindings dropped, the new queue 0 fd bound */
	cr_assert_eq(vm.nirqfd, 5);
	cr_assert_eq(vm.irqfds[2].flags | vm.irqfds[3].flags, KVM_IRQFD_FLAG_DEASSIGN);
	cr_assert_eq(vm.irqfds[4].fd, nfd[0]);
	cr_assert_eq(vm.irqfds[4].flags, 0);
	virtio_pci_bind_irqs(&v, NULL, NULL, -1);
	cr_assert_eq(vm.nirqfd, 6);
	cr_assert_eq(vm.irqfds[5].flags, KVM_IRQFD_FLAG_DEASSIGN);
	cr_assert_eq(vm.nr, 40, "GSIs freed, routes gone");
	close(nfd[0]);
}

Test(virtio_pci_msix, reset_unbinds_queue_vectors)
{
	linux_msix();
	bar_wr(STATUS, 1, 0);
	cr_assert_eq(v.bound_gsi[0], -1);
	cr_assert_eq(v.bound_gsi[2], -1);
	cr_assert_eq(vm.nirqfd, 4);
}
