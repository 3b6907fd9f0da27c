#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "bus.h"
#include "console.h"
#include "control.h"
#include "ctl_path.h"
#include "device_host.h"
#include "i8042.h"
#include "irq_router.h"
#include "kvm.h"
#include "layout.h"
#include "lockdown.h"
#include "log.h"
#include "hotplug.h"
#include "memory.h"
#include "nic.h"
#include "pci.h"
#include "rtc.h"
#include "uart8250.h"
#include "util.h"
#include "vcpu.h"

struct vm {
	const struct vm_config *cfg;
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct uart8250 uart;
	struct i8042 i8042;
	struct rtc rtc;
	struct pci_root pci;
	struct irq_router router;
	struct device_host devices;
	bool devices_ready;
	struct hotplug hotplug; /* [pci] hotplug_slots root ports */
	struct console console;
	struct vcpu *vcpus;
	unsigned int nvcpus;
	struct vcpu_env env;
	atomic_bool stopping;
	atomic_int stop_reason;
	int stop_fd;	 /* eventfd: a vCPU or device asked the VM to stop */
	int signal_fd;	 /* SIGINT, SIGTERM, SIGHUP */
	int serial_fd;	 /* the serial output file; owned when serial mode is "file" */
	int disk_fds[CONFIG_DISKS_MAX]; /* opened images, handed to their devices at spawn */
	int net_fds[CONFIG_NETS_MAX];	/* opened taps, likewise */
	struct jail_filter vmm_filter;	/* vmm.policy and vcpu.policy, compiled (jailed VM) */
	struct jail_filter vcpu_filter;
	struct control ctl;		/* the control socket (vmm-ctl) */
	bool ctl_open;
	pthread_mutex_t ctl_lock;	/* one state change at a time: suspend/resume */
	atomic_int state;		/* enum msg_vm_state */
	struct timespec started;	/* CLOCK_MONOTONIC at vm_run */
	int resize_fds[CONFIG_DISKS_MAX]; /* main's own copy of each writable disk, for resize */
	struct kvm_clock_data clock;	/* the guest's clock while its vCPUs are suspended */
};

static void vm_stop(void *ctx, enum vm_stop_reason why)
{
	struct vm *vm = ctx;
	int expected = VM_STOP_NONE;
	uint64_t one = 1;

	/* The first reason wins: a reset followed by vCPUs seeing `stopping` stays a reset. */
	atomic_compare_exchange_strong(&vm->stop_reason, &expected, (int)why);
	atomic_store(&vm->stopping, true);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_warn_errno("stop eventfd");
}

static void isa_pulse(void *ctx, uint32_t irq)
{
	struct vm *vm = ctx;

	if (kvm_irq_line(&vm->kvm, irq, 1) < 0 || kvm_irq_line(&vm->kvm, irq, 0) < 0)
		log_warn_errno("KVM_IRQ_LINE %u", irq);
}

/* Ports that guests poke and that need no model: writes dropped, reads all ones. */
static const struct bus_ops ignore_ops = {0};

static int add_pio(struct vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		   void *ctx, const char *name)
{
	int ret = bus_add(&vm->pio, base, len, ops, ctx, name);

	if (ret < 0)
		log_err("cannot place %s at port 0x%llx: %s", name, (unsigned long long)base,
			strerror(-ret));
	return ret;
}

static int open_serial(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	vm->serial_fd = -1;
	switch (cfg->serial_mode) {
	case SERIAL_STDIO:
		return console_init(&vm->console, STDIN_FILENO);
	case SERIAL_FILE:
		vm->serial_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				     0600);
		if (vm->serial_fd < 0) {
			log_err_errno("cannot open the serial log %s", cfg->serial_path);
			return -errno;
		}
		return console_init(&vm->console, -1);
	case SERIAL_NONE:
		return console_init(&vm->console, -1);
	}
	return -EINVAL;
}

static int setup_devices(struct vm *vm)
{
	struct vm_stopper stopper = {.stop = vm_stop, .ctx = vm};
	struct irq_line isa = {.pulse = isa_pulse, .ctx = vm};
	int out = vm->cfg->serial_mode == SERIAL_STDIO ? STDOUT_FILENO : vm->serial_fd;
	int ret;

	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	uart8250_init(&vm->uart, out, isa, UART_COM1_IRQ);
	i8042_init(&vm->i8042, stopper, isa);
	rtc_init(&vm->rtc, vm->mem.size);
	pci_root_init(&vm->pci, stopper);
	ret = add_pio(vm, UART_COM1_BASE, 8, &uart8250_ops, &vm->uart, "com1");
	if (!ret)
		ret = add_pio(vm, I8042_DATA_PORT, I8042_PORTS_LEN, &i8042_ops, &vm->i8042, "i8042");
	if (!ret)
		ret = add_pio(vm, RTC_PORT, 2, &rtc_ops, &vm->rtc, "rtc");
	if (!ret)
		ret = add_pio(vm, PCI_CONFIG_PORT, 8, &pci_root_ops, &vm->pci, "pci");
	if (!ret)
		ret = add_pio(vm, 0x80, 1, &ignore_ops, NULL, "post-code");
	return ret;
}

static int spawn_rng(struct vm *vm)
{
	struct device_spec spec = {.type = "rng", .name = "rng0"};

	/* Devices open nothing by path: main opens the entropy source and hands it over. */
	spec.backend_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (spec.backend_fd < 0) {
		log_err_errno("/dev/urandom");
		return -errno;
	}
	return device_host_spawn(&vm->devices, &spec);
}

static int spawn_balloon(struct vm *vm)
{
	struct device_spec spec = {.type = "balloon", .name = "balloon0", .backend_fd = -1};
	char interval[16];
	size_t a = 0;

	if (vm->cfg->balloon_deflate_on_oom)
		spec.args[a++] = "--deflate-on-oom";
	if (vm->cfg->balloon_stats_interval_s) {
		snprintf(interval, sizeof(interval), "%u", vm->cfg->balloon_stats_interval_s);
		spec.args[a++] = "--stats-interval";
		spec.args[a++] = interval;
	}
	return device_host_spawn(&vm->devices, &spec);
}

/*
 * Opens each disk image (devices open nothing by path). A missing file or a size that is not
 * whole sectors is the user's input: the caller exits 2.
 */
static int open_disks(struct vm *vm)
{
	for (size_t i = 0; i < vm->cfg->ndisks; i++) {
		const struct disk_config *dc = &vm->cfg->disks[i];
		struct stat st;
		int fd = open(dc->path, (dc->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st) < 0) {
			log_err_errno("disk %s", dc->path);
			if (fd >= 0)
				close(fd);
			return -errno;
		}
		vm->disk_fds[i] = fd;
		/* main keeps its own copy of a writable image: vmm-ctl disk resize grows it */
		if (!dc->read_only) {
			vm->resize_fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (vm->resize_fds[i] < 0) {
				log_err_errno("disk %s", dc->path);
				return -errno;
			}
		}
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			log_err("disk %s: not a file or a block device", dc->path);
			return -EINVAL;
		}
		if (S_ISREG(st.st_mode) && (st.st_size == 0 || st.st_size % 512)) {
			log_err("disk %s: its size (%lld bytes) is not a whole number of 512-byte "
				"sectors", dc->path, (long long)st.st_size);
			return -EINVAL;
		}
	}
	return 0;
}

static int spawn_disks(struct vm *vm)
{
	for (size_t i = 0; i < vm->cfg->ndisks; i++) {
		const struct disk_config *dc = &vm->cfg->disks[i];
		struct device_spec spec = {.type = "block", .backend_fd = vm->disk_fds[i]};
		char name[DEVICE_NAME_MAX];
		size_t a = 0;
		int ret;

		snprintf(name, sizeof(name), "blk%u", (unsigned int)(i % CONFIG_DISKS_MAX));
		spec.name = name;
		if (dc->read_only)
			spec.args[a++] = "--read-only";
		if (dc->id) {
			spec.args[a++] = "--serial";
			spec.args[a++] = dc->id;
		}
		/* The device host owns the fd from here, on failure too. */
		vm->disk_fds[i] = -1;
		ret = device_host_spawn(&vm->devices, &spec);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Opens and configures each [[net]] tap while main still has CAP_NET_ADMIN. A missing tap or
 * one that is not a tap is the user's input: the caller exits 2.
 */
static int open_nets(struct vm *vm)
{
	for (size_t i = 0; i < vm->cfg->nnets; i++) {
		char err[256];
		int ret = nic_open_tap(&vm->cfg->nets[i], &vm->net_fds[i], err, sizeof(err));

		if (ret < 0) {
			log_err("net %s", err);
			return ret;
		}
	}
	return 0;
}

static int spawn_nets(struct vm *vm)
{
	for (size_t i = 0; i < vm->cfg->nnets; i++) {
		const struct net_config *nc = &vm->cfg->nets[i];
		struct device_spec spec = {.type = "net", .backend_fd = vm->net_fds[i]};
		char name[DEVICE_NAME_MAX], mac[NIC_MAC_LEN];
		int ret;

		snprintf(name, sizeof(name), "net%u", (unsigned int)(i % CONFIG_NETS_MAX));
		if (nc->mac)
			snprintf(mac, sizeof(mac), "%s", nc->mac);
		else
			nic_default_mac(vm->cfg->name, (unsigned int)i, mac);
		spec.name = name;
		spec.backend = nc->tap;
		spec.args[0] = "--mac";
		spec.args[1] = mac;
		/* The device host owns the fd from here, on failure too. */
		vm->net_fds[i] = -1;
		ret = device_host_spawn(&vm->devices, &spec);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void vm_event(void *ctx, const struct msg_vm_event *e);

/* The virtio devices, each its own vmm-device process, before any vCPU runs. */
static int setup_virtio(struct vm *vm)
{
	int ret;

	irq_router_init(&vm->router, vm->kvm.vm_fd, NULL, NULL);
	ret = device_host_init(&vm->devices, &vm->mem, &vm->router, &vm->pci, &vm->mmio);
	if (ret < 0)
		return ret;
	vm->devices_ready = true;
	vm->devices.event = vm_event;
	vm->devices.event_ctx = vm;
	if (vm->cfg->jail.enabled) {
		ret = device_host_set_jail(&vm->devices, &vm->cfg->jail);
		if (ret == 0)
			ret = lockdown_prepare(&vm->cfg->jail, vm->devices.policy_dir,
					       &vm->vmm_filter, &vm->vcpu_filter);
		if (ret < 0)
			return ret;
		vm->env.filter = &vm->vcpu_filter;
	} else {
		log_warn("--no-jail: device processes run without namespaces, capability limits "
			 "or seccomp filters, and so does vmm itself");
	}
	ret = spawn_disks(vm);
	if (ret == 0)
		ret = spawn_nets(vm);
	if (ret < 0)
		return ret;
	if (vm->cfg->rng_enabled) {
		ret = spawn_rng(vm);
		if (ret < 0)
			return ret;
	}
	if (vm->cfg->balloon_enabled) {
		ret = spawn_balloon(vm);
		if (ret < 0)
			return ret;
	}
	/* the empty slots come after the boot devices on bus 0 */
	return hotplug_init(&vm->hotplug, vm->cfg->hotplug_slots, &vm->pci, &vm->mmio,
			    vm->kvm.vm_fd, &vm->devices, vm->cfg->name ? vm->cfg->name : "vmm");
}

/* ---- the control socket's requests (control.h), on its thread ---- */

static uint64_t uptime_ms(const struct vm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - vm->started.tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - vm->started.tv_nsec) / 1000000);
}

/* device_host's and our own events, stamped, to the listeners. */
static void vm_event(void *ctx, const struct msg_vm_event *e)
{
	struct vm *vm = ctx;
	struct msg_vm_event stamped = *e;

	stamped.time_ms = uptime_ms(vm);
	if (vm->ctl_open)
		control_event(&vm->ctl, &stamped);
}

static const char *const state_names[] = {
	[MSG_VM_STATE_RUNNING] = "running",
	[MSG_VM_STATE_VCPUS_SUSPENDED] = "vcpus-suspended",
	[MSG_VM_STATE_SUSPENDED] = "suspended",
	[MSG_VM_STATE_STOPPING] = "stopping",
};

static void set_state(struct vm *vm, enum msg_vm_state st)
{
	atomic_store(&vm->state, (int)st);
	device_host_event(&vm->devices, MSG_VM_EVENT_VM_STATE, NULL, 0, 0, st, state_names[st]);
}

static void fill_status(struct vm *vm, struct vm_response *r)
{
	struct msg_vm_status *s = &r->status;

	r->hdr.type = MSG_VM_RESP_STATUS;
	msg_set_str(s->name, sizeof(s->name), vm->cfg->name ? vm->cfg->name : "vmm");
	s->state = (uint32_t)atomic_load(&vm->state);
	s->pid = (uint32_t)getpid();
	s->uptime_ms = uptime_ms(vm);
	s->memory_bytes = vm->cfg->memory_mib << 20;
	s->nvcpus = vm->nvcpus;
	for (unsigned int i = 0; i < vm->devices.ndevs && s->ndevices < MSG_VM_MAX_DEVICES; i++)
		if (!vm->devices.devs[i]->removed)
			device_host_status(vm->devices.devs[i], &s->devices[s->ndevices++]);
}

/*
 * Parks the vCPUs (and with devices, puts every device to sleep); the guest's kvmclock is
 * read so that resume() can put it back: no jump in the guest's time.
 */
static int suspend(struct vm *vm, bool devices, struct vm_response *r)
{
	int ret;

	if (atomic_load(&vm->state) != MSG_VM_STATE_RUNNING) {
		msg_vm_error(r, -EALREADY, "the VM is %s", state_names[atomic_load(&vm->state)]);
		return -EALREADY;
	}
	ret = vcpu_pause(vm->vcpus, vm->nvcpus, DEVICE_TIMEOUT_MS);
	if (ret == 0 && ioctl(vm->kvm.vm_fd, KVM_GET_CLOCK, &vm->clock) < 0)
		ret = -errno;
	if (ret == 0 && devices)
		ret = device_host_sleep_all(&vm->devices, true);
	if (ret < 0) {
		if (devices)
			device_host_sleep_all(&vm->devices, false);
		vcpu_resume(vm->vcpus, vm->nvcpus);
		msg_vm_error(r, ret, "cannot suspend: %s", strerror(-ret));
		return ret;
	}
	set_state(vm, devices ? MSG_VM_STATE_SUSPENDED : MSG_VM_STATE_VCPUS_SUSPENDED);
	log_info("%s suspended", devices ? "VM" : "vCPUs");
	return 0;
}

static int resume(struct vm *vm, bool devices, struct vm_response *r)
{
	enum msg_vm_state want = devices ? MSG_VM_STATE_SUSPENDED : MSG_VM_STATE_VCPUS_SUSPENDED;
	struct kvm_clock_data clock = {.clock = vm->clock.clock};
	int ret = 0;

	if (atomic_load(&vm->state) != (int)want) {
		msg_vm_error(r, -EINVAL, "the VM is %s", state_names[atomic_load(&vm->state)]);
		return -EINVAL;
	}
	if (devices)
		ret = device_host_sleep_all(&vm->devices, false);
	if (ioctl(vm->kvm.vm_fd, KVM_SET_CLOCK, &clock) < 0)
		log_warn_errno("KVM_SET_CLOCK");
	vcpu_resume(vm->vcpus, vm->nvcpus);
	set_state(vm, MSG_VM_STATE_RUNNING);
	log_info("%s resumed", devices ? "VM" : "vCPUs");
	if (ret < 0)
		msg_vm_error(r, ret, "a device did not wake: %s", strerror(-ret));
	return ret;
}

static void pid_tid(struct vm *vm, struct vm_response *r)
{
	r->hdr.type = MSG_VM_RESP_VCPU_PID_TID;
	r->pid_tid.pid = (uint32_t)getpid();
	r->pid_tid.nvcpus = vm->nvcpus;
	for (unsigned int i = 0; i < vm->nvcpus && i < MSG_VM_MAX_VCPUS; i++)
		r->pid_tid.tids[i] = (uint32_t)atomic_load(&vm->vcpus[i].tid);
}

static void balloon(struct vm *vm, const struct msg_vm_balloon *b, struct vm_response *r)
{
	struct hosted_device *d = device_host_find_type(&vm->devices, "balloon");
	struct msg_device_command c = {.op = MSG_DEVICE_CMD_BALLOON_STATS};
	struct device_response dr;
	int ret;

	if (!d) {
		msg_vm_error(r, -ENODEV, "no balloon device ([balloon] enabled = true)");
		return;
	}
	if (b->op == MSG_VM_BALLOON_ADJUST) {
		if (b->target > vm->cfg->memory_mib << 20) {
			msg_vm_error(r, -EINVAL, "the guest has only %llu MiB",
				     (unsigned long long)vm->cfg->memory_mib);
			return;
		}
		c = (struct msg_device_command){.op = MSG_DEVICE_CMD_BALLOON_TARGET, .arg = b->target};
		log_info("balloon: target %llu MiB", (unsigned long long)(b->target >> 20));
	}
	ret = device_host_command(d, &c, &dr);
	if (ret < 0) {
		msg_vm_error(r, ret, "%s refused it", d->name);
		return;
	}
	if (b->op == MSG_VM_BALLOON_ADJUST)
		virtio_pci_config_changed(&d->vp);
	if (b->op == MSG_VM_BALLOON_STATS) {
		if (dr.hdr.type != MSG_DEVICE_BALLOON_STATS) {
			msg_vm_error(r, -EPROTO, "%s: no statistics", d->name);
			return;
		}
		r->hdr.type = MSG_VM_RESP_BALLOON_STATS;
		r->balloon_stats.actual = dr.balloon_stats.actual;
		r->balloon_stats.valid = dr.balloon_stats.valid;
		_Static_assert(MSG_VM_BALLOON_NSTATS == MSG_DEVICE_BALLOON_NSTATS, "same tags");
		memcpy(r->balloon_stats.stats, dr.balloon_stats.stats, sizeof(dr.balloon_stats.stats));
	}
}

/* Grows (or, when asked, shrinks) a writable disk's image, then tells its device. */
static void disk_resize(struct vm *vm, const struct msg_vm_disk *q, struct vm_response *r)
{
	char name[DEVICE_NAME_MAX];
	struct hosted_device *d;
	struct device_response dr;
	struct msg_device_command c = {.op = MSG_DEVICE_CMD_RESIZE, .arg = q->size};
	struct stat st;
	int fd, ret;

	if (q->index >= vm->cfg->ndisks) {
		msg_vm_error(r, -ENOENT, "no disk %u (the VM has %zu)", q->index, vm->cfg->ndisks);
		return;
	}
	snprintf(name, sizeof(name), "blk%u", q->index);
	d = device_host_find(&vm->devices, name);
	fd = vm->resize_fds[q->index];
	if (!d || fd < 0) {
		msg_vm_error(r, -EROFS, "disk %u is read-only", q->index);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		msg_vm_error(r, -ENOTSUP, "disk %u is not an image file", q->index);
		return;
	}
	if ((uint64_t)st.st_size > q->size && q->op != MSG_VM_DISK_RESIZE_SHRINK) {
		msg_vm_error(r, -EINVAL, "%llu bytes would shrink disk %u (%lld bytes): "
			     "--allow-shrink", (unsigned long long)q->size, q->index,
			     (long long)st.st_size);
		return;
	}
	if (ftruncate(fd, (off_t)q->size) < 0) {
		msg_vm_error(r, -errno, "disk %u: cannot resize its image", q->index);
		return;
	}
	ret = device_host_command(d, &c, &dr);
	if (ret < 0) {
		msg_vm_error(r, ret, "%s refused the new size", d->name);
		return;
	}
	virtio_pci_config_changed(&d->vp);
	log_info("disk %u resized to %llu bytes", q->index, (unsigned long long)q->size);
	device_host_event(&vm->devices, MSG_VM_EVENT_DISK_RESIZE, d->name, 0, 0, q->size,
			  "disk resized");
}

static void hotplug_net(struct vm *vm, const struct msg_vm_hotplug_net *q, int *fd,
			struct vm_response *r)
{
	char err[MSG_VM_ERR_MESSAGE];
	int ret;

	if (q->op == MSG_VM_NET_ADD) {
		ret = hotplug_add_net(&vm->hotplug, q->tap, fd, &r->hotplug_net_done, err,
				      sizeof(err));
		if (ret == 0)
			r->hdr.type = MSG_VM_RESP_HOTPLUG_NET;
	} else {
		/* the wait for the guest lets go of ctl_lock: status, stop, ... go on meanwhile */
		ret = hotplug_remove_net(&vm->hotplug, q->tap, q->flags & MSG_VM_NET_FORCE,
					 &vm->ctl_lock, err, sizeof(err));
	}
	if (ret < 0) {
		log_warn("hotplug-net %s %s: %s", q->op == MSG_VM_NET_ADD ? "add" : "remove", q->tap,
			 err);
		msg_vm_error(r, ret, "%s", err);
	}
}

static void handle_request(void *ctx, const struct vm_request *q, int *fd, struct vm_response *r)
{
	struct vm *vm = ctx;

	pthread_mutex_lock(&vm->ctl_lock);
	switch (q->hdr.type) {
	case MSG_VM_STATUS:
		fill_status(vm, r);
		break;
	case MSG_VM_EXIT:
		log_info("stopping: vmm-ctl stop");
		vm_stop(vm, VM_STOP_SIGNAL);
		break;
	case MSG_VM_SUSPEND_VCPUS:
	case MSG_VM_SUSPEND_VM:
		suspend(vm, q->hdr.type == MSG_VM_SUSPEND_VM, r);
		break;
	case MSG_VM_RESUME_VCPUS:
	case MSG_VM_RESUME_VM:
		resume(vm, q->hdr.type == MSG_VM_RESUME_VM, r);
		break;
	case MSG_VM_VCPU_PID_TID:
		pid_tid(vm, r);
		break;
	case MSG_VM_BALLOON:
		balloon(vm, &q->balloon, r);
		break;
	case MSG_VM_DISK:
		disk_resize(vm, &q->disk, r);
		break;
	case MSG_VM_HOTPLUG_NET:
		hotplug_net(vm, &q->hotplug_net, fd, r);
		break;
	case MSG_VM_CTRL_ALT_DEL: {
		int ret = i8042_ctrl_alt_del(&vm->i8042);

		if (ret == -ENODEV)
			msg_vm_error(r, ret, "the guest has no keyboard driver (i8042/atkbd)");
		else if (ret < 0)
			msg_vm_error(r, ret, "the keyboard buffer is full");
		else
			log_info("ctrl-alt-del sent to the guest's keyboard");
		break;
	}
	default:
		msg_vm_error(r, -EOPNOTSUPP, "%s is not supported by this vmm",
			     msg_vm_name(q->hdr.type));
		break;
	}
	pthread_mutex_unlock(&vm->ctl_lock);
}

/* Hot-plug requests wait for the guest: the control socket serves them on its worker thread. */
static bool slow_request(void *ctx, const struct vm_request *q)
{
	(void)ctx;
	return q->hdr.type == MSG_VM_HOTPLUG_NET;
}

static int open_control(struct vm *vm)
{
	char path[MSG_VM_SOCKET_PATH];
	int ret;

	if (vm->cfg->control_socket)
		snprintf(path, sizeof(path), "%s", vm->cfg->control_socket);
	else if ((ret = ctl_default_socket(vm->cfg->name ? vm->cfg->name : "vmm", path,
					   sizeof(path))) < 0)
		return ret;
	ret = control_open(&vm->ctl, path);
	vm->ctl_open = ret == 0;
	if (ret == 0)
		log_info("control socket %s", path);
	return ret;
}

/*
 * Setup is over: main drops what it no longer needs and loads vmm.policy, before it starts any
 * thread (the mem server and the vCPUs inherit both).
 */
static int lock_down(struct vm *vm)
{
	bool keep_kill = geteuid() == 0 && vm->cfg->jail.uid != 0;

	const struct control_handler h = {.handle = handle_request, .slow = slow_request, .ctx = vm};
	int ret;

	if (vm->cfg->jail.enabled && lockdown_apply(&vm->vmm_filter, keep_kill) < 0)
		return -EPERM;
	vm->ctl.keep_file = vm->cfg->jail.enabled;
	ret = mem_server_start(&vm->devices);
	if (ret == 0)
		ret = control_start(&vm->ctl, &h);
	return ret;
}

static int check_host_memory(const struct vm_config *cfg)
{
	struct sysinfo si;
	uint64_t host_mib;

	if (sysinfo(&si) < 0)
		return 0;
	host_mib = ((uint64_t)si.totalram * si.mem_unit) >> 20;
	if (cfg->memory_mib > host_mib) {
		log_err("memory_mib %llu is more than this host has (%llu MiB)",
			(unsigned long long)cfg->memory_mib, (unsigned long long)host_mib);
		return -E2BIG;
	}
	return 0;
}

static int load_file(const char *what, const char *path, uint8_t **buf, size_t *len)
{
	int ret = read_file(path, buf, len);

	if (ret < 0)
		log_err("cannot read the %s %s: %s", what, path, strerror(-ret));
	return ret;
}

/* Reads the kernel and initrd and builds the boot structures. Failures are the user's input. */
static int load_guest(struct vm *vm, struct boot_entry *entry)
{
	const struct vm_config *cfg = vm->cfg;
	struct boot_config bc = {.cmdline = cfg->cmdline, .ncpus = cfg->cpus};
	uint8_t *kernel = NULL, *initrd = NULL;
	char err[256] = "";
	int ret;

	ret = load_file("kernel", cfg->kernel, &kernel, &bc.kernel_len);
	if (!ret && cfg->initrd)
		ret = load_file("initrd", cfg->initrd, &initrd, &bc.initrd_len);
	if (!ret) {
		bc.kernel = kernel;
		bc.initrd = initrd;
		ret = boot_load(&vm->mem, &bc, entry, err, sizeof(err));
		if (ret < 0)
			log_err("%s: %s", cfg->kernel, err[0] ? err : strerror(-ret));
		else
			log_debug("loaded %s as %s", cfg->kernel,
				  boot_format_name(boot_detect(kernel, bc.kernel_len)));
	}
	free(kernel);
	free(initrd);
	return ret;
}

static int create_vcpus(struct vm *vm, const struct boot_entry *entry)
{
	const struct vm_config *cfg = vm->cfg;
	int ret;

	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		ret = vcpu_create(&vm->vcpus[i], &vm->kvm, i, &vm->env);
		if (ret < 0)
			return ret;
		vm->nvcpus++;
		ret = vcpu_configure(&vm->vcpus[i], &vm->kvm, cfg->cpus,
				     (const char *const *)cfg->cpu_hide, cfg->ncpu_hide,
				     i == 0 ? entry : NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int setup_signals(struct vm *vm)
{
	sigset_t set;

	/* Blocked in every thread (vCPU threads inherit the mask) and read from a signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD); /* a device process died */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (vm->signal_fd < 0) {
		log_err_errno("signalfd");
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	return vcpu_signals_init();
}

static void forward_input(struct vm *vm)
{
	uint8_t in[64], out[sizeof(in) + 1];
	bool quit;
	ssize_t n = read(vm->console.in_fd, in, sizeof(in));
	size_t m;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* End of input: the guest keeps running, we stop listening. */
		vm->console.in_fd = -1;
		return;
	}
	m = console_filter(&vm->console, in, (size_t)n, out, &quit);
	/* A full FIFO drops input, as a real UART would. */
	uart8250_input(&vm->uart, out, m);
	if (quit) {
		log_info("stopped from the console (Ctrl-A x)");
		vm_stop(vm, VM_STOP_SIGNAL);
	}
}

static void take_signal(struct vm *vm)
{
	struct signalfd_siginfo si;

	if (read(vm->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGCHLD) {
		/* The VM goes on: the driver sees a device that needs a reset. */
		device_host_reap(&vm->devices);
		return;
	}
	log_info("stopping on %s", strsignal((int)si.ssi_signo));
	vm_stop(vm, VM_STOP_SIGNAL);
}

/* The main thread's loop: console input and signals, until something stops the VM. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	if (!deadline)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)MIN(ms, 1000000LL);
}

static void main_loop(struct vm *vm)
{
	struct timespec deadline;
	bool timed = vm->cfg->run_seconds > 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += vm->cfg->run_seconds;
	while (!atomic_load(&vm->stopping)) {
		struct pollfd p[3] = {
			{.fd = vm->stop_fd, .events = POLLIN},
			{.fd = vm->signal_fd, .events = POLLIN},
			{.fd = vm->console.in_fd, .events = POLLIN},
		};
		int n = poll(p, vm->console.in_fd >= 0 ? 3 : 2, ms_left(timed ? &deadline : NULL));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err_errno("poll");
			vm_stop(vm, VM_STOP_ERROR);
			break;
		}
		if (n == 0 && timed && ms_left(&deadline) == 0) {
			log_info("stopping: %u seconds are up", vm->cfg->run_seconds);
			vm_stop(vm, VM_STOP_SIGNAL);
			break;
		}
		if (p[1].revents & POLLIN)
			take_signal(vm);
		if (vm->console.in_fd >= 0 && p[2].revents & (POLLIN | POLLHUP | POLLERR))
			forward_input(vm);
	}
	set_state(vm, MSG_VM_STATE_STOPPING);
	/* parked vCPUs wake to see `stopping` */
	vcpu_resume(vm->vcpus, vm->nvcpus);
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

static double ms_since_start(void)
{
	struct timespec now;
	char buf[256];
	FILE *f;
	unsigned long long start_ticks = 0;
	double uptime = 0;

	/* Process start from /proc/self/stat (field 22, in clock ticks since boot). */
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		for (int field = 2; p && field < 22; field++)
			p = strchr(p + 1, ' ');
		if (p)
			start_ticks = strtoull(p + 1, NULL, 10);
	}
	fclose(f);
	clock_gettime(CLOCK_BOOTTIME, &now);
	uptime = (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
	return uptime - (double)start_ticks * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static int start_vcpus(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nvcpus; i++) {
		int ret = vcpu_start(&vm->vcpus[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int exit_code(const struct vm *vm)
{
	switch (atomic_load(&vm->stop_reason)) {
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
	case VM_STOP_SIGNAL:
		return VMM_EXIT_OK;
	default:
		return VMM_EXIT_FAILURE;
	}
}

static void vm_destroy(struct vm *vm)
{
	/* The control threads first: they call into the devices. A remove that waits for the
	 * guest stops waiting, so that the control socket's worker can finish. */
	if (vm->ctl_open && vm->devices_ready)
		hotplug_cancel(&vm->hotplug);
	if (vm->ctl_open)
		control_close(&vm->ctl);
	vm->ctl_open = false;
	/* Devices next: they hold eventfds bound through the router, on the VM fd. */
	if (vm->devices_ready) {
		device_host_destroy(&vm->devices);
		hotplug_destroy(&vm->hotplug);
		irq_router_destroy(&vm->router);
	}
	for (unsigned int i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	console_restore(&vm->console);
	uart8250_destroy(&vm->uart);
	i8042_destroy(&vm->i8042);
	rtc_destroy(&vm->rtc);
	pci_root_destroy(&vm->pci);
	guest_mem_destroy(&vm->mem);
	kvm_close(&vm->kvm);
	close_fd(&vm->serial_fd);
	for (size_t i = 0; i < CONFIG_DISKS_MAX; i++) {
		close_fd(&vm->disk_fds[i]);
		close_fd(&vm->resize_fds[i]);
	}
	for (size_t i = 0; i < CONFIG_NETS_MAX; i++)
		close_fd(&vm->net_fds[i]);
	close_fd(&vm->signal_fd);
	close_fd(&vm->stop_fd);
	jail_filter_free(&vm->vmm_filter);
	jail_filter_free(&vm->vcpu_filter);
}

/* Everything before the first KVM_RUN. Returns a VMM_EXIT_* code; 0 means ready. */
static int vm_build(struct vm *vm)
{
	struct boot_entry entry;
	char err[256] = "";

	/* The user's input first: a bad kernel is reported the same on any host. */
	if (check_host_memory(vm->cfg) < 0)
		return VMM_EXIT_USAGE;
	if (guest_mem_init(&vm->mem, vm->cfg->memory_mib << 20) < 0)
		return VMM_EXIT_FAILURE;
	if (load_guest(vm, &entry) < 0 || open_disks(vm) < 0 || open_nets(vm) < 0)
		return VMM_EXIT_USAGE;
	if (kvm_open(&vm->kvm, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return VMM_EXIT_FAILURE;
	}
	if (vm->cfg->cpus > vm->kvm.max_vcpus) {
		log_err("cpus = %u is more than this host's KVM allows (%u)", vm->cfg->cpus,
			vm->kvm.max_vcpus);
		return VMM_EXIT_USAGE;
	}
	if (kvm_create_vm(&vm->kvm) < 0 || guest_mem_register(&vm->mem, vm->kvm.vm_fd) < 0)
		return VMM_EXIT_FAILURE;
	if (open_serial(vm) < 0 || setup_devices(vm) < 0 || setup_signals(vm) < 0)
		return VMM_EXIT_FAILURE;
	if (setup_virtio(vm) < 0)
		return VMM_EXIT_FAILURE;
	if (open_control(vm) < 0)
		return VMM_EXIT_FAILURE;
	if (create_vcpus(vm, &entry) < 0)
		return VMM_EXIT_FAILURE;
	return 0;
}

int vm_run(const struct vm_config *cfg)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int code;

	if (!vm)
		return VMM_EXIT_FAILURE;
	vm->cfg = cfg;
	vm->kvm.kvm_fd = vm->kvm.vm_fd = -1;
	vm->mem.fd = vm->serial_fd = vm->signal_fd = -1;
	vm->console.in_fd = -1;
	for (size_t i = 0; i < CONFIG_DISKS_MAX; i++)
		vm->disk_fds[i] = vm->resize_fds[i] = -1;
	for (size_t i = 0; i < CONFIG_NETS_MAX; i++)
		vm->net_fds[i] = -1;
	vm->ctl.listen_fd = vm->ctl.event_fd = vm->ctl.epfd = vm->ctl.stop_fd = -1;
	pthread_mutex_init(&vm->ctl_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	vm->env = (struct vcpu_env){
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.mem = &vm->mem,
		.stopper = {.stop = vm_stop, .ctx = vm},
		.stopping = &vm->stopping,
	};
	vcpu_pause_init(&vm->env.pause);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		log_err_errno("eventfd");
		free(vm);
		return VMM_EXIT_FAILURE;
	}
	code = vm_build(vm);
	/* For tests/bench/boot.sh: our own cost, from exec to the first guest instruction. */
	if (code == 0)
		log_debug("boot: first KVM_RUN %.1f ms after process start", ms_since_start());
	if (code == 0 && lock_down(vm) < 0)
		code = VMM_EXIT_FAILURE;
	if (code == 0) {
		if (start_vcpus(vm) < 0)
			vm_stop(vm, VM_STOP_ERROR);
		main_loop(vm);
		code = exit_code(vm);
	}
	vm_destroy(vm);
	if (vm->devices.learn_missing > 0 && code == VMM_EXIT_OK)
		code = VMM_EXIT_FAILURE;
	free(vm);
	return code;
}
