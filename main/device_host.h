/*
 * The device host: spawns one vmm-device process per virtio device, wires it to a virtio-pci
 * function (config proxied over its ctrl tube, kicks and interrupts through KVM eventfds),
 * serves its mem tube (mem_server.c), reports its death and makes sure none outlives vmm.
 */
#ifndef VMM_MAIN_DEVICE_HOST_H
#define VMM_MAIN_DEVICE_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "bus.h"
#include "irq_router.h"
#include "jail.h"
#include "learn.h"
#include "memory.h"
#include "msg_device.h"
#include "msg_vm.h"
#include "pci.h"
#include "pcie_port.h"
#include "tube.h"
#include "virtio_pci.h"
#include "warden.h"

#define DEVICE_HOST_MAX 24
#define DEVICE_NAME_MAX 16
#define DEVICE_ARGS_MAX 8
/* How long main waits for a device's answer before it gives up on the device. */
#define DEVICE_TIMEOUT_MS 5000
/* Mappings one device may have in its shared memory window at once. */
#define DEVICE_SHM_MAPS 16
/* KVM memory slots for device windows: after guest RAM's (0 and 1). */
#define DEVICE_SLOT_FIRST 8
#define DEVICE_SLOT_COUNT 256

/* What to start. */
struct device_spec {
	const char *type;	/* vmm-device --type: "rng", "block" */
	const char *name;	/* "rng0", "blk1" */
	int backend_fd;		/* opened by main; the host takes ownership; -1 for none */
	const char *backend;	/* what it is, for status ("tap0"), or NULL */
	const char *args[DEVICE_ARGS_MAX]; /* the device's own options, NULL-terminated */
	/* NULL: a slot on bus 0, BAR from the PCI hole, at boot. Else hot-plugged: the function
	 * goes behind this port (the caller plugs it) with its BAR at bar. */
	struct pcie_port *port;
	uint64_t bar;
};

/* Memory a device asked main to map into its window (RegisterMemory). */
struct shm_mapping {
	bool used;
	uint32_t slot; /* KVM memory slot */
	uint64_t dest; /* offset in the window */
	uint64_t size;
	void *host; /* main's mapping of the device's fd, given to KVM */
};

struct hosted_device {
	struct device_host *host;
	char name[DEVICE_NAME_MAX];
	char type[DEVICE_NAME_MAX];
	char backend[DEVICE_NAME_MAX]; /* the tap of a NIC; empty for others */
	pid_t pid;
	bool alive;
	bool jailed;
	int trap_nr; /* the syscall its filter refused (MSG_DEVICE_SECCOMP_TRAP), or -1 */
	struct tube ctrl;
	struct tube mem;
	struct msg_device_info info;
	struct virtio_pci vp;
	bool vp_ready;
	unsigned int slot;	  /* PCI slot on bus 0 (port NULL) */
	struct pcie_port *port;	  /* hot-plugged: the root port it sits behind */
	bool removed;		  /* hot-unplugged: a free entry for the next one */
	atomic_bool removing;	  /* being unplugged: its exit is expected, not a death */
	int kick_fds[VIRTIO_PCI_MAX_QUEUES];
	int irq_fds[VIRTIO_PCI_MAX_QUEUES];
	int config_irq_fd;
	pthread_mutex_t ctrl_lock; /* one request at a time on the ctrl tube */
	struct shm_mapping maps[DEVICE_SHM_MAPS]; /* only the mem server thread touches these */
};

/* A device type's compiled seccomp filter (sealed memfd), shared by its devices. */
struct device_filter {
	char type[DEVICE_NAME_MAX];
	int fd;
	char path[4096]; /* its policy file, for learn reports */
};
#define DEVICE_FILTER_TYPES 8

struct device_host {
	char device_bin[4096]; /* the vmm-device to exec */
	const struct guest_mem *mem;
	struct irq_router *router;
	struct pci_root *pci;
	struct bus *mmio;
	int devnull;
	/* the jail of every device (device_host_set_jail); unjailed when NULL */
	const struct jail_config *jail;
	char policy_dir[4096];
	bool userns;		  /* vmm is not root: devices get a user namespace too */
	uid_t uid;		  /* vmm's own ids, mapped to root in a user namespace */
	gid_t gid;
	struct warden warden;	  /* clones jailed devices (warden.h) */
	struct device_filter filters[DEVICE_FILTER_TYPES];
	struct jail_learn *learn; /* vmm policy learn */
	int learn_missing;	  /* its report's count of syscalls the policies lack */
	const char *test_hook;	  /* VMM_TEST_DEVICE_HOOK "NAME:HOOK" (test builds) */
	/* events for the control socket's listeners (device exit, balloon target), from the main
	 * and mem server threads; NULL: none */
	void (*event)(void *ctx, const struct msg_vm_event *e);
	void *event_ctx;
	struct hosted_device *devs[DEVICE_HOST_MAX];
	unsigned int ndevs;
	pthread_mutex_t devs_lock; /* devs[] entries appear (hotplug) while the reaper reads */
	bool slot_used[DEVICE_SLOT_COUNT]; /* KVM slots DEVICE_SLOT_FIRST + i */
	/* mem_server.c */
	pthread_t mem_thread;
	bool mem_thread_started;
	int mem_epfd;
	int mem_stop_fd;
};

int device_host_init(struct device_host *h, const struct guest_mem *mem, struct irq_router *router,
		     struct pci_root *pci, struct bus *mmio);
/*
 * Jails every device spawned from now on as jail says (kept by pointer), with the policies of
 * its policy directory. Learning starts the listener thread. 0 or -errno (logged).
 */
int device_host_set_jail(struct device_host *h, const struct jail_config *jail);
/*
 * Compiles the seccomp filter of device type `type` now, while main may still read policy files
 * and make memfds: for devices spawned after the lockdown (hot-plugged NICs). Spawning a type
 * compiles it on first use otherwise. 0 or -errno (logged).
 */
int device_host_prepare_type(struct device_host *h, const char *type);
/* Starts a device, asks what it is and puts it on the PCI bus. 0 or -errno (logged). */
int device_host_spawn(struct device_host *h, const struct device_spec *spec);
/*
 * Stops a hot-plugged device's process and frees its function, fds and tubes (the caller has
 * taken it off its port); its entry is reused by the next spawn. Control thread.
 */
void device_host_remove(struct device_host *h, struct hosted_device *d);
/* Reaps dead children (on SIGCHLD): each death is logged with its status or signal. */
void device_host_reap(struct device_host *h);
/* Asks every device to stop, then kills what is left and reaps it. */
void device_host_shutdown(struct device_host *h);
void device_host_destroy(struct device_host *h);

/* The device named name, or NULL. */
struct hosted_device *device_host_find(struct device_host *h, const char *name);
/* The device whose backend is `backend` (a NIC's tap), or NULL. */
struct hosted_device *device_host_find_backend(struct device_host *h, const char *backend);
/* The first device of type ("balloon"), or NULL. */
struct hosted_device *device_host_find_type(struct device_host *h, const char *type);
/* Its entry of vmm-ctl status. */
void device_host_status(struct hosted_device *d, struct msg_vm_device_status *s);
/* An operator's command for d; r: its answer. 0 or -errno. */
int device_host_command(struct hosted_device *d, const struct msg_device_command *c,
			struct device_response *r);
/* SLEEP (sleep) or WAKE every live device; the first error. */
int device_host_sleep_all(struct device_host *h, bool sleep);
/* Sends e to the event hook, if any. */
void device_host_event(struct device_host *h, uint32_t event, const char *device, uint32_t pid,
		       int32_t status, uint64_t value, const char *text);

/* mem_server.c: serves every device's mem tube from one thread. */
int mem_server_start(struct device_host *h);
void mem_server_stop(struct device_host *h);
/* A device spawned while it runs (its index in devs[]); one being removed. */
int mem_server_add(struct device_host *h, unsigned int index);
void mem_server_del(struct device_host *h, struct hosted_device *d);

#endif
