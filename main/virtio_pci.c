#include "virtio_pci.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_TYPE_MAX 0x3f /* device ids stop at 0x107f */
#define VIRTIO_PCI_SUBSYSTEM_ID 0x40
#define VIRTIO_PCI_REVISION 1

/* Vendor-specific capabilities (virtio 1.2, 4.1.4). */
#define PCI_CAP_ID_VNDR 0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5
#define CAP_BAR 4	/* struct virtio_pci_cap, from the capability's start */
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_EXTRA 16 /* notify_off_multiplier, or the PCI_CFG window's data */

#define COMMON_CFG_LEN 0x38 /* struct virtio_pci_common_cfg up to queue_device */
#define REGION_LEN 0x1000

/* Transport features this transport does not implement (virtio 1.2, 6). */
#define VIRTIO_F_SR_IOV 37
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET 40
#define VIRTIO_F_ADMIN_VQ 41
#define UNSUPPORTED_FEATURES                                                                       \
	(1ull << VIRTIO_F_SR_IOV | 1ull << VIRTIO_F_NOTIF_CONFIG_DATA |                            \
	 1ull << VIRTIO_F_RING_RESET | 1ull << VIRTIO_F_ADMIN_VQ)

/* PCI class per virtio type, as QEMU has them; everything else is 0x00ff. */
static const struct {
	uint32_t type;
	uint16_t class;
} class_table[] = {
	{1, 0x0200},  /* net: ethernet */
	{2, 0x0100},  /* block: mass storage (SCSI) */
	{3, 0x0780},  /* console: simple communication, other */
	{8, 0x0100},  /* scsi */
	{16, 0x0380}, /* gpu: display, other */
	{18, 0x0980}, /* input: input device, other */
};

static uint16_t class_of(uint32_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(class_table); i++)
		if (class_table[i].type == type)
			return class_table[i].class;
	return 0x00ff;
}

static uint32_t le32(const uint8_t *b, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)b[i] << (8 * i);
	return v;
}

static void put_le(uint8_t *b, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn_errno("eventfd %d", fd);
}

static bool fd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* ---- interrupt wiring ---- */

static uint16_t source_vector(const struct virtio_pci *v, unsigned int i)
{
	return i == v->nqueues ? v->msix_config : v->queues[i].msix_vector;
}

/* The GSI interrupt source i (a queue, or nqueues: config) should be bound to now, or -1. */
static int wanted_gsi(struct virtio_pci *v, unsigned int i)
{
	uint16_t vec = source_vector(v, i);
	uint64_t addr;
	uint32_t data;

	if (!v->router || v->irq_fds[i] < 0 || vec == VIRTIO_PCI_NO_VECTOR ||
	    !msix_vector_live(&v->msix, vec, &addr, &data))
		return -1;
	if (!v->vector_gsi[vec] && irq_router_alloc_gsi(v->router, &v->vector_gsi[vec]) < 0) {
		log_err("%s: no GSI left for MSI-X vector %u", v->pci.name, vec);
		return -1;
	}
	if (irq_router_msi_route(v->router, v->vector_gsi[vec], addr, data) < 0)
		return -1;
	return (int)v->vector_gsi[vec];
}

static void unbind_source(struct virtio_pci *v, unsigned int i)
{
	if (v->bound_gsi[i] < 0)
		return;
	irq_router_irqfd_unbind(v->router, v->irq_fds[i], (uint32_t)v->bound_gsi[i]);
	v->bound_gsi[i] = -1;
}

/* Brings every irqfd in line with the MSI-X state and the vector assignments. */
static void rewire(struct virtio_pci *v)
{
	for (unsigned int i = 0; i <= v->nqueues; i++) {
		int gsi = wanted_gsi(v, i);

		if (gsi == v->bound_gsi[i])
			continue;
		unbind_source(v, i);
		if (gsi >= 0 && irq_router_irqfd_bind(v->router, v->irq_fds[i], (uint32_t)gsi) == 0)
			v->bound_gsi[i] = gsi;
	}
}

static void unwire(struct virtio_pci *v)
{
	for (unsigned int i = 0; i <= v->nqueues; i++)
		unbind_source(v, i);
	for (unsigned int vec = 0; vec < MSIX_MAX_VECTORS; vec++) {
		if (v->vector_gsi[vec] && v->router)
			irq_router_free_gsi(v->router, v->vector_gsi[vec]);
		v->vector_gsi[vec] = 0;
	}
}

static void msix_update(struct virtio_pci *v, unsigned int vector)
{
	rewire(v);
	if (v->ops->msix_changed)
		v->ops->msix_changed(v->ctx, vector);
}

/* A masked vector is pending while any of its eventfds holds a count KVM has not taken. */
static void refresh_pba(struct virtio_pci *v)
{
	uint64_t addr;
	uint32_t data;

	v->msix.pba = 0;
	for (unsigned int i = 0; i <= v->nqueues; i++) {
		uint16_t vec = source_vector(v, i);

		if (vec >= v->msix.nvec || v->irq_fds[i] < 0 ||
		    msix_vector_live(&v->msix, vec, &addr, &data))
			continue;
		if (fd_readable(v->irq_fds[i]))
			msix_set_pending(&v->msix, vec, true);
	}
}

static void raise_config(struct virtio_pci *v)
{
	v->isr |= VIRTIO_ISR_CONFIG;
	signal_fd(v->irq_fds[v->nqueues]);
}

/* ---- device status ---- */

static void device_reset(struct virtio_pci *v)
{
	if (v->ops->reset)
		v->ops->reset(v->ctx);
	v->device_feature_select = v->driver_feature_select = 0;
	v->driver_features = 0;
	v->msix_config = VIRTIO_PCI_NO_VECTOR;
	v->queue_select = 0;
	v->status = 0;
	v->isr = 0;
	for (unsigned int i = 0; i < v->nqueues; i++) {
		struct virtio_pci_queue *q = &v->queues[i];
		uint16_t max = q->max_size;

		memset(q, 0, sizeof(*q));
		q->max_size = q->size = max;
		q->msix_vector = VIRTIO_PCI_NO_VECTOR;
	}
	rewire(v);
}

static bool features_acceptable(const struct virtio_pci *v)
{
	return !(v->driver_features & ~v->device_features) &&
	       (v->driver_features & (1ull << VIRTIO_F_VERSION_1));
}

static void activate(struct virtio_pci *v)
{
	struct virtio_pci_activation a = {
		.features = v->driver_features,
		.nqueues = v->nqueues,
		.config_msix_vector = v->msix_config,
	};
	int ret;

	for (unsigned int i = 0; i < v->nqueues; i++) {
		const struct virtio_pci_queue *q = &v->queues[i];

		if (!q->enabled)
			continue;
		a.queues[i] = (struct virtio_pci_queue_activation){
			.enabled = true,
			.size = q->size,
			.msix_vector = q->msix_vector,
			.desc = q->desc,
			.avail = q->driver,
			.used = q->device,
		};
	}
	ret = v->ops->activate ? v->ops->activate(v->ctx, &a) : 0;
	if (ret < 0) {
		log_err("%s: activation failed: %s", v->pci.name, strerror(-ret));
		v->status |= VIRTIO_STATUS_NEEDS_RESET;
		raise_config(v);
	}
}

/*
 * The driver only adds bits (virtio 1.2, 3.1.1) or writes 0 to reset. FEATURES_OK stays clear
 * when the features are unacceptable, DRIVER_OK without FEATURES_OK, and NEEDS_RESET is ours.
 */
static void status_write(struct virtio_pci *v, uint32_t val)
{
	uint8_t s = (uint8_t)val & (uint8_t)~VIRTIO_STATUS_NEEDS_RESET, added;

	if (s == 0) {
		device_reset(v);
		return;
	}
	s |= v->status;
	added = s & (uint8_t)~v->status;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(v)) {
		log_debug("%s: refused features 0x%llx", v->pci.name,
			  (unsigned long long)v->driver_features);
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_FEATURES_OK))
		s &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	v->status = s;
	if (s & added & VIRTIO_STATUS_DRIVER_OK)
		activate(v);
}

/* ---- common config: one row per register, dispatched by (offset, width) ---- */

static struct virtio_pci_queue *selected_queue(struct virtio_pci *v)
{
	return v->queue_select < v->nqueues ? &v->queues[v->queue_select] : NULL;
}

/* The selected queue while it may still be set up: exists and not enabled. */
static struct virtio_pci_queue *setup_queue(struct virtio_pci *v)
{
	struct virtio_pci_queue *q = selected_queue(v);

	return q && !q->enabled ? q : NULL;
}

static uint16_t valid_vector(const struct virtio_pci *v, uint32_t val)
{
	return val < v->msix.nvec ? (uint16_t)val : VIRTIO_PCI_NO_VECTOR;
}

static uint32_t feature_word(uint64_t features, uint32_t select)
{
	return select < 2 ? (uint32_t)(features >> (32 * select)) : 0;
}

static uint32_t rd_select(struct virtio_pci *v, unsigned int arg)
{
	return arg ? v->driver_feature_select : v->device_feature_select;
}

static void wr_select(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	*(arg ? &v->driver_feature_select : &v->device_feature_select) = val;
}

static uint32_t rd_features(struct virtio_pci *v, unsigned int arg)
{
	return arg ? feature_word(v->driver_features, v->driver_feature_select)
		   : feature_word(v->device_features, v->device_feature_select);
}

static void wr_driver_features(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	uint32_t sel = v->driver_feature_select;

	(void)arg;
	if (sel >= 2 || (v->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	v->driver_features &= ~(0xffffffffull << (32 * sel));
	v->driver_features |= (uint64_t)val << (32 * sel);
}

static uint32_t rd_msix_config(struct virtio_pci *v, unsigned int arg)
{
	(void)arg;
	return v->msix_config;
}

static void wr_msix_config(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	(void)arg;
	v->msix_config = valid_vector(v, val);
	rewire(v);
}

static uint32_t rd_num_queues(struct virtio_pci *v, unsigned int arg)
{
	(void)arg;
	return v->nqueues;
}

static uint32_t rd_status(struct virtio_pci *v, unsigned int arg)
{
	(void)arg;
	return v->status;
}

static void wr_status(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	(void)arg;
	status_write(v, val);
}

static uint32_t rd_generation(struct virtio_pci *v, unsigned int arg)
{
	(void)arg;
	return v->config_generation;
}

static uint32_t rd_queue_select(struct virtio_pci *v, unsigned int arg)
{
	(void)arg;
	return v->queue_select;
}

static void wr_queue_select(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	(void)arg;
	v->queue_select = (uint16_t)val;
}

enum queue_field { QF_SIZE, QF_VECTOR, QF_ENABLE, QF_NOTIFY_OFF };

static uint32_t rd_queue(struct virtio_pci *v, unsigned int arg)
{
	const struct virtio_pci_queue *q = selected_queue(v);

	if (!q)
		return arg == QF_VECTOR ? VIRTIO_PCI_NO_VECTOR : 0;
	switch (arg) {
	case QF_SIZE:
		return q->size;
	case QF_VECTOR:
		return q->msix_vector;
	case QF_ENABLE:
		return q->enabled;
	default:
		return v->queue_select; /* notify_off: slot q, times the multiplier */
	}
}

static void wr_queue(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	struct virtio_pci_queue *q = selected_queue(v);

	if (arg == QF_VECTOR && q) {
		q->msix_vector = valid_vector(v, val);
		rewire(v);
		return;
	}
	q = setup_queue(v);
	if (!q)
		return;
	if (arg == QF_SIZE && val && !(val & (val - 1)) && val <= q->max_size)
		q->size = (uint16_t)val;
	else if (arg == QF_ENABLE && val == 1)
		q->enabled = true; /* the driver never writes 0 (no VIRTIO_F_RING_RESET) */
	else
		log_debug("%s: queue %u: ignored 0x%x in field %u", v->pci.name, v->queue_select,
			  val, arg);
}

/* arg: 2 * (0 desc, 1 driver, 2 device) + (1 for the high half) */
static uint64_t *queue_addr(struct virtio_pci_queue *q, unsigned int arg)
{
	uint64_t *const fields[] = {&q->desc, &q->driver, &q->device};

	return fields[arg / 2];
}

static uint32_t rd_queue_addr(struct virtio_pci *v, unsigned int arg)
{
	struct virtio_pci_queue *q = selected_queue(v);

	return q ? (uint32_t)(*queue_addr(q, arg) >> (32 * (arg & 1))) : 0;
}

static void wr_queue_addr(struct virtio_pci *v, unsigned int arg, uint32_t val)
{
	struct virtio_pci_queue *q = setup_queue(v);
	uint64_t *a;

	if (!q)
		return;
	a = queue_addr(q, arg);
	*a &= ~(0xffffffffull << (32 * (arg & 1)));
	*a |= (uint64_t)val << (32 * (arg & 1));
}

struct common_reg {
	uint32_t off;
	uint32_t width;
	unsigned int arg;
	uint32_t (*read)(struct virtio_pci *v, unsigned int arg);
	void (*write)(struct virtio_pci *v, unsigned int arg, uint32_t val); /* NULL: read-only */
};

static const struct common_reg common_regs[] = {
	{0x00, 4, 0, rd_select, wr_select},		/* device_feature_select */
	{0x04, 4, 0, rd_features, NULL},		/* device_feature */
	{0x08, 4, 1, rd_select, wr_select},		/* driver_feature_select */
	{0x0c, 4, 1, rd_features, wr_driver_features},	/* driver_feature */
	{0x10, 2, 0, rd_msix_config, wr_msix_config},	/* config_msix_vector */
	{0x12, 2, 0, rd_num_queues, NULL},		/* num_queues */
	{0x14, 1, 0, rd_status, wr_status},		/* device_status */
	{0x15, 1, 0, rd_generation, NULL},		/* config_generation */
	{0x16, 2, 0, rd_queue_select, wr_queue_select}, /* queue_select */
	{0x18, 2, QF_SIZE, rd_queue, wr_queue},		/* queue_size */
	{0x1a, 2, QF_VECTOR, rd_queue, wr_queue},	/* queue_msix_vector */
	{0x1c, 2, QF_ENABLE, rd_queue, wr_queue},	/* queue_enable */
	{0x1e, 2, QF_NOTIFY_OFF, rd_queue, NULL},	/* queue_notify_off */
	{0x20, 4, 0, rd_queue_addr, wr_queue_addr},	/* queue_desc */
	{0x24, 4, 1, rd_queue_addr, wr_queue_addr},
	{0x28, 4, 2, rd_queue_addr, wr_queue_addr}, /* queue_driver */
	{0x2c, 4, 3, rd_queue_addr, wr_queue_addr},
	{0x30, 4, 4, rd_queue_addr, wr_queue_addr}, /* queue_device */
	{0x34, 4, 5, rd_queue_addr, wr_queue_addr},
};

/* The register at off accessed with its own width; others are dropped (virtio 1.2, 4.1.3.1). */
static const struct common_reg *common_reg(uint64_t off, uint32_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(common_regs); i++)
		if (common_regs[i].off == off && common_regs[i].width == len)
			return &common_regs[i];
	return NULL;
}

static void common_read(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len)
{
	const struct common_reg *r;

	if (len == 8) { /* a 64-bit field: its two halves */
		common_read(v, off, data, 4);
		common_read(v, off + 4, data + 4, 4);
		return;
	}
	r = common_reg(off, len);
	put_le(data, len, r ? r->read(v, r->arg) : 0);
}

static void common_write(struct virtio_pci *v, uint64_t off, const uint8_t *data, uint32_t len)
{
	const struct common_reg *r;

	if (len == 8) {
		common_write(v, off, data, 4);
		common_write(v, off + 4, data + 4, 4);
		return;
	}
	r = common_reg(off, len);
	if (r && r->write)
		r->write(v, r->arg, le32(data, len));
	else
		log_debug("%s: dropped a %u-byte write at common config 0x%llx", v->pci.name, len,
			  (unsigned long long)off);
}

/* ---- the other BAR regions ---- */

static void isr_read(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	if (off != 0)
		return;
	data[0] = v->isr; /* read to clear */
	v->isr = 0;
}

static void device_read(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len)
{
	int ret = -ERANGE;

	if (off + len <= v->config_size && v->ops->config_read)
		ret = v->ops->config_read(v->ctx, (uint32_t)off, data, len);
	if (ret < 0) {
		memset(data, 0, len);
		log_debug("%s: config read at 0x%llx/%u: %s", v->pci.name,
			  (unsigned long long)off, len, strerror(-ret));
	}
}

static void device_write(struct virtio_pci *v, uint64_t off, const uint8_t *data, uint32_t len)
{
	int ret = -ERANGE;

	if (off + len <= v->config_size && v->ops->config_write)
		ret = v->ops->config_write(v->ctx, (uint32_t)off, data, len);
	if (ret < 0)
		log_debug("%s: config write at 0x%llx/%u: %s", v->pci.name,
			  (unsigned long long)off, len, strerror(-ret));
}

/* Only kicks that KVM did not catch with an ioeventfd get here: pass them on the same way. */
static void notify_write(struct virtio_pci *v, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint64_t q = off / VIRTIO_PCI_NOTIFY_MULTIPLIER;

	(void)data;
	(void)len;
	if (q < v->nqueues)
		signal_fd(v->kick_fds[q]);
}

static void table_read(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len)
{
	msix_table_read(&v->msix, off, data, len);
}

static void table_write(struct virtio_pci *v, uint64_t off, const uint8_t *data, uint32_t len)
{
	int vec = msix_table_write(&v->msix, off, data, len);

	if (vec >= 0)
		msix_update(v, (unsigned int)vec);
}

static void pba_read(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len)
{
	refresh_pba(v);
	msix_pba_read(&v->msix, off, data, len);
}

struct bar_region {
	uint64_t off;
	void (*read)(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len);
	void (*write)(struct virtio_pci *v, uint64_t off, const uint8_t *data, uint32_t len);
};

static const struct bar_region bar_regions[] = {
	{VIRTIO_PCI_COMMON_OFF, common_read, common_write},
	{VIRTIO_PCI_ISR_OFF, isr_read, NULL},
	{VIRTIO_PCI_DEVICE_OFF, device_read, device_write},
	{VIRTIO_PCI_NOTIFY_OFF, NULL, notify_write},
	{VIRTIO_PCI_MSIX_TABLE_OFF, table_read, table_write},
	{VIRTIO_PCI_MSIX_PBA_OFF, pba_read, NULL},
};

/* One access to BAR 0, lock held. Unused space reads as zeros and drops writes. */
static void bar_access(struct virtio_pci *v, uint64_t off, uint8_t *data, uint32_t len,
		       bool write)
{
	const struct bar_region *r = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bar_regions); i++)
		if (off >= bar_regions[i].off && off + len <= bar_regions[i].off + REGION_LEN)
			r = &bar_regions[i];
	if (write && r && r->write)
		r->write(v, off - r->off, data, len);
	else if (!write && r && r->read)
		r->read(v, off - r->off, data, len);
	else if (!write)
		memset(data, 0, len);
}

static void bar_read(void *ctx, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pci *v = ctx;

	pthread_mutex_lock(&v->lock);
	bar_access(v, off, data, len, false);
	pthread_mutex_unlock(&v->lock);
}

static void bar_write(void *ctx, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_pci *v = ctx;
	uint8_t buf[8];

	memcpy(buf, data, MIN(len, (uint32_t)sizeof(buf)));
	pthread_mutex_lock(&v->lock);
	bar_access(v, off, buf, MIN(len, (uint32_t)sizeof(buf)), true);
	pthread_mutex_unlock(&v->lock);
}

const struct bus_ops virtio_pci_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* ---- config space: MSI-X message control and the PCI_CFG window ---- */

static bool touches(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG: an access to pci_cfg_data is an access to the BAR at the
 * capability's offset and length (1, 2 or 4, naturally aligned, BAR 0 only).
 */
static void window_access(struct virtio_pci *v, bool write)
{
	uint32_t cap = v->pci_cfg_cap;
	uint32_t bar = v->pci.cfg[cap + CAP_BAR];
	uint32_t off = pci_cfg_read(&v->pci, cap + CAP_OFFSET, 4);
	uint32_t len = pci_cfg_read(&v->pci, cap + CAP_LENGTH, 4);

	if (bar != 0 || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off >= VIRTIO_PCI_BAR_SIZE)
		return;
	bar_access(v, off, &v->pci.cfg[cap + CAP_EXTRA], len, write);
}

static uint32_t cfg_read(void *ctx, struct pci_device *d, uint32_t off, uint32_t len)
{
	struct virtio_pci *v = ctx;
	uint32_t val;

	pthread_mutex_lock(&v->lock);
	if (touches(off, len, v->pci_cfg_cap + CAP_EXTRA, 4))
		window_access(v, false);
	val = pci_cfg_read(d, off, len);
	pthread_mutex_unlock(&v->lock);
	return val;
}

static void cfg_write(void *ctx, struct pci_device *d, uint32_t off, uint32_t len, uint32_t val)
{
	struct virtio_pci *v = ctx;

	pthread_mutex_lock(&v->lock);
	pci_cfg_write(d, off, len, val);
	if (msix_cfg_written(&v->msix, d, off, len))
		msix_update(v, VIRTIO_PCI_MSIX_ALL);
	if (touches(off, len, v->pci_cfg_cap + CAP_EXTRA, 4))
		window_access(v, true);
	pthread_mutex_unlock(&v->lock);
}

static const struct pci_device_ops cfg_ops = {
	.cfg_read = cfg_read,
	.cfg_write = cfg_write,
};

/* ---- construction ---- */

static int add_virtio_cap(struct virtio_pci *v, uint8_t type, uint32_t off, uint32_t len,
			  uint32_t extra)
{
	uint8_t body[18] = {0};
	uint32_t n = type == VIRTIO_PCI_CAP_NOTIFY_CFG || type == VIRTIO_PCI_CAP_PCI_CFG ? 18 : 14;

	body[0] = (uint8_t)(n + 2); /* cap_len counts the id and next bytes */
	body[1] = type;
	body[2] = 0; /* bar */
	put_le(&body[CAP_OFFSET - 2], 4, off);
	put_le(&body[CAP_LENGTH - 2], 4, len);
	put_le(&body[CAP_EXTRA - 2], 4, extra);
	return pci_cap_add(&v->pci, PCI_CAP_ID_VNDR, body, n);
}

static int add_caps(struct virtio_pci *v)
{
	int cap, ret;

	ret = add_virtio_cap(v, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, COMMON_CFG_LEN,
			     0);
	if (ret >= 0)
		ret = add_virtio_cap(v, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
				     v->nqueues * VIRTIO_PCI_NOTIFY_MULTIPLIER,
				     VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (ret >= 0)
		ret = add_virtio_cap(v, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1, 0);
	if (ret >= 0 && v->config_size)
		ret = add_virtio_cap(v, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF,
				     v->config_size, 0);
	if (ret < 0)
		return ret;
	cap = add_virtio_cap(v, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
	if (cap < 0)
		return cap;
	v->pci_cfg_cap = (uint32_t)cap;
	/* The window's bar, offset, length and data are the driver's. */
	v->pci.wmask[cap + CAP_BAR] = 0xff;
	memset(&v->pci.wmask[cap + CAP_OFFSET], 0xff, 12);
	return msix_init(&v->msix, &v->pci, v->nqueues + 1, 0, VIRTIO_PCI_MSIX_TABLE_OFF,
			 VIRTIO_PCI_MSIX_PBA_OFF);
}

static void init_config_space(struct virtio_pci *v)
{
	struct pci_device *d = &v->pci;

	pci_cfg_set16(d, PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_cfg_set16(d, PCI_DEVICE_ID, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + v->type));
	d->cfg[PCI_REVISION] = VIRTIO_PCI_REVISION;
	pci_cfg_set16(d, PCI_CLASS_DEVICE, class_of(v->type));
	pci_cfg_set16(d, PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_cfg_set16(d, PCI_SUBSYSTEM_ID, VIRTIO_PCI_SUBSYSTEM_ID);
	/* Memory decode, bus mastering and INTx disable: accepted; there is no INTx pin. */
	pci_cfg_set16(d, PCI_COMMAND, 0);
	d->wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	d->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	d->name = "virtio-pci";
	d->ops = &cfg_ops;
	d->ctx = v;
}

static int check_args(uint32_t type, unsigned int nqueues, const uint16_t *max_sizes,
		      uint32_t config_size, uint64_t bar_addr, const struct virtio_pci_ops *ops)
{
	if (type == 0 || type > VIRTIO_PCI_TYPE_MAX || !ops)
		return -EINVAL;
	if (nqueues == 0 || nqueues > VIRTIO_PCI_MAX_QUEUES || !max_sizes)
		return -EINVAL;
	for (unsigned int i = 0; i < nqueues; i++) {
		uint32_t s = max_sizes[i];
		if (s == 0 || (s & (s - 1)) || s > VIRTIO_PCI_QUEUE_SIZE_MAX)
			return -EINVAL;
	}
	if (config_size > VIRTIO_PCI_CONFIG_MAX || (bar_addr & (VIRTIO_PCI_BAR_SIZE - 1)))
		return -EINVAL;
	return 0;
}

int virtio_pci_init(struct virtio_pci *v, uint32_t virtio_type, uint64_t device_features,
		    unsigned int nqueues, const uint16_t *max_sizes, uint32_t config_size,
		    uint64_t bar_addr, const struct virtio_pci_ops *ops, void *ctx)
{
	pthread_mutexattr_t attr;
	int ret = check_args(virtio_type, nqueues, max_sizes, config_size, bar_addr, ops);

	if (ret < 0)
		return ret;
	memset(v, 0, sizeof(*v));
	v->type = virtio_type;
	v->device_features = (device_features & ~UNSUPPORTED_FEATURES) | 1ull << VIRTIO_F_VERSION_1;
	v->nqueues = nqueues;
	v->config_size = config_size;
	v->bar_addr = bar_addr;
	v->ops = ops;
	v->ctx = ctx;
	for (unsigned int i = 0; i < nqueues; i++)
		v->queues[i].max_size = max_sizes[i];
	for (unsigned int i = 0; i <= VIRTIO_PCI_MAX_QUEUES; i++)
		v->irq_fds[i] = v->bound_gsi[i] = -1;
	for (unsigned int i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
		v->kick_fds[i] = v->kick_len[i] = -1;
	init_config_space(v);
	ret = pci_bar_set(&v->pci, 0, bar_addr, VIRTIO_PCI_BAR_SIZE, PCI_BAR_MEM_64);
	if (!ret)
		ret = add_caps(v);
	if (ret < 0)
		return ret;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&v->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	/* The state a reset leaves, without telling the device about it. */
	v->msix_config = VIRTIO_PCI_NO_VECTOR;
	for (unsigned int i = 0; i < nqueues; i++) {
		v->queues[i].size = max_sizes[i];
		v->queues[i].msix_vector = VIRTIO_PCI_NO_VECTOR;
	}
	return 0;
}

int virtio_pci_add_shm(struct virtio_pci *v, uint64_t bar_addr, uint64_t size)
{
	uint8_t body[22] = {0};
	int ret;

	/* BAR 2 and 3: prefetchable memory that main fills with KVM memory slots on request. */
	ret = pci_bar_set(&v->pci, VIRTIO_PCI_SHM_BAR, bar_addr, size,
			  PCI_BAR_MEM_64 | PCI_BAR_PREFETCH);
	if (ret < 0)
		return ret;
	/* struct virtio_pci_cap64 (virtio 1.2, 4.1.4.7), from cap_len on: shmid 0, all of it. */
	body[0] = sizeof(body) + 2;
	body[1] = VIRTIO_PCI_CAP_SHARED_MEMORY_CFG;
	body[2] = VIRTIO_PCI_SHM_BAR;
	body[3] = 0; /* shmid */
	put_le(&body[CAP_OFFSET - 2], 4, 0);
	put_le(&body[CAP_LENGTH - 2], 4, (uint32_t)size);
	put_le(&body[18], 4, (uint32_t)(size >> 32)); /* length_hi; offset_hi stays 0 */
	ret = pci_cap_add(&v->pci, PCI_CAP_ID_VNDR, body, sizeof(body));
	if (ret < 0)
		return ret;
	v->shm_addr = bar_addr;
	v->shm_size = size;
	return 0;
}

/* ---- main's side ---- */

static void unbind_kicks(struct virtio_pci *v)
{
	for (unsigned int q = 0; q < v->nqueues; q++) {
		if (v->kick_len[q] >= 0)
			irq_router_ioeventfd(v->kick_router, v->kick_fds[q],
					     virtio_pci_notify_addr(v, q), (uint32_t)v->kick_len[q],
					     false);
		v->kick_len[q] = -1;
		v->kick_fds[q] = -1;
	}
	v->kick_router = NULL;
}

static int bind_kick(struct virtio_pci *v, unsigned int q)
{
	uint64_t addr = virtio_pci_notify_addr(v, q);
	int ret;

	/* Any length first: KVM's fast MMIO path. Kernels before 4.5 want the 2-byte write. */
	ret = irq_router_ioeventfd(v->kick_router, v->kick_fds[q], addr, 0, true);
	if (ret == 0) {
		v->kick_len[q] = 0;
		return 0;
	}
	ret = irq_router_ioeventfd(v->kick_router, v->kick_fds[q], addr, 2, true);
	if (ret == 0)
		v->kick_len[q] = 2;
	else
		log_err("%s: ioeventfd for queue %u at 0x%llx: %s", v->pci.name, q,
			(unsigned long long)addr, strerror(-ret));
	return ret;
}

int virtio_pci_bind_kicks(struct virtio_pci *v, struct irq_router *r, const int *kick_fds)
{
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	unbind_kicks(v);
	if (kick_fds) {
		v->kick_router = r;
		for (unsigned int q = 0; q < v->nqueues; q++)
			v->kick_fds[q] = kick_fds[q];
		for (unsigned int q = 0; q < v->nqueues && r && !ret; q++)
			if (v->kick_fds[q] >= 0)
				ret = bind_kick(v, q);
		if (ret < 0)
			unbind_kicks(v);
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

int virtio_pci_bind_irqs(struct virtio_pci *v, struct irq_router *r, const int *queue_irq_fds,
			 int config_irq_fd)
{
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	unwire(v);
	v->router = r;
	for (unsigned int i = 0; i < v->nqueues; i++)
		v->irq_fds[i] = queue_irq_fds ? queue_irq_fds[i] : -1;
	v->irq_fds[v->nqueues] = config_irq_fd;
	rewire(v);
	/* A live source left unbound means the router failed (it logged why). */
	for (unsigned int i = 0; i <= v->nqueues; i++)
		if (wanted_gsi(v, i) != v->bound_gsi[i])
			ret = -EIO;
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void virtio_pci_destroy(struct virtio_pci *v)
{
	pthread_mutex_lock(&v->lock);
	unbind_kicks(v);
	unwire(v);
	v->router = NULL;
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_destroy(&v->lock);
}

uint64_t virtio_pci_notify_addr(const struct virtio_pci *v, unsigned int q)
{
	return v->bar_addr + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
}

void virtio_pci_config_changed(struct virtio_pci *v)
{
	pthread_mutex_lock(&v->lock);
	v->config_generation++;
	raise_config(v);
	pthread_mutex_unlock(&v->lock);
}

uint8_t virtio_pci_status(struct virtio_pci *v, uint64_t *features)
{
	uint8_t st;

	pthread_mutex_lock(&v->lock);
	st = v->status;
	*features = st & VIRTIO_STATUS_FEATURES_OK ? v->driver_features : 0;
	pthread_mutex_unlock(&v->lock);
	return st;
}

void virtio_pci_set_needs_reset(struct virtio_pci *v)
{
	pthread_mutex_lock(&v->lock);
	v->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (v->status & VIRTIO_STATUS_DRIVER_OK)
		raise_config(v);
	pthread_mutex_unlock(&v->lock);
}

bool virtio_pci_msix_vector(struct virtio_pci *v, unsigned int vector, uint64_t *addr,
			    uint32_t *data)
{
	bool live;

	pthread_mutex_lock(&v->lock);
	live = msix_vector_live(&v->msix, vector, addr, data);
	pthread_mutex_unlock(&v->lock);
	return live;
}
