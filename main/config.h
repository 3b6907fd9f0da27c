/*
 * The VM's configuration: vm.toml merged with `vmm run` flags (flags win).
 */
#ifndef VMM_MAIN_CONFIG_H
#define VMM_MAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jail.h"

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

/* Where a setting came from, for errors found after the merge. */
struct config_origin {
	int line, col;	  /* in config_path; 0 when not from the file */
	const char *flag; /* "--cpus" when set by a flag, else NULL */
};

/* At least the number of keys config.c knows (checked there). */
#define CONFIG_KEYS_MAX 32

/* [[disk]] tables and --disk flags together. */
#define CONFIG_DISKS_MAX 16
/* virtio-blk's serial field; an id of exactly this length has no NUL there. */
#define CONFIG_DISK_ID_MAX 20

/* [[net]] tables and --net flags together. */
#define CONFIG_NETS_MAX 8
/* A Linux interface name (IFNAMSIZ - 1). */
#define CONFIG_IFNAME_MAX 15
/* [pci] hotplug_slots: PCIe root ports with an empty slot each. */
#define CONFIG_HOTPLUG_SLOTS_MAX 8

/* One [[disk]] table or --disk flag: a raw image, opened by main (size a multiple of 512). */
struct disk_config {
	char *path;		     /* required; from the file: relative to its directory */
	bool read_only;		     /* default false */
	char *id;		     /* the serial the guest sees, printable ASCII, or NULL */
	struct config_origin origin; /* its [[disk]] header, or the flag */
};

/* One [[net]] table or --net flag: a virtio-net NIC on a tap opened by main. */
struct net_config {
	char *tap;		     /* required: the host's tap interface */
	bool create;		     /* create the tap when it does not exist, default false */
	char *mac;		     /* "52:54:00:12:34:56", or NULL: derived from name and index */
	char *host_ip;		     /* "169.254.100.1/24": set on the host side, or NULL */
	unsigned int mtu;	     /* 68..65535, or 0: leave the tap's */
	struct config_origin origin; /* its [[net]] header, or the flag */
};

/*
 * Strings and arrays are owned by the config (some point at static defaults): change them
 * through config_load_file()/config_set_flag()/config_append() and release them with
 * config_free() only.
 */
struct vm_config {
	char *name;		      /* [vm] name, default "vmm" */
	unsigned int cpus;	      /* [vm] cpus, default 1 */
	uint64_t memory_mib;	      /* [vm] memory_mib, default 256 */
	char *kernel;		      /* [vm] kernel: required in the end */
	char *initrd;		      /* [vm] initrd or NULL */
	char *cmdline;		      /* [vm] cmdline, default "console=ttyS0 reboot=k panic=1" */
	char *control_socket;	      /* [vm] control_socket, or NULL: the default per name */
	enum serial_mode serial_mode; /* [serial] mode = "stdio" | "file" | "none" */
	char *serial_path;	      /* [serial] path, with mode "file" */
	char **cpu_hide;	      /* [cpu] hide = ["xsave", ...] */
	size_t ncpu_hide;
	bool rng_enabled;	   /* [rng] enabled, default true */
	bool balloon_enabled;	   /* [balloon] enabled, default false */
	bool balloon_deflate_on_oom;	  /* [balloon] deflate_on_oom, default false */
	unsigned int balloon_stats_interval_s; /* [balloon] stats_interval_s, default 0: no stats */
	struct disk_config *disks; /* [[disk]] in file order, then --disk flags in theirs */
	size_t ndisks;		   /* at most CONFIG_DISKS_MAX */
	struct net_config *nets;   /* [[net]] in file order, then --net flags */
	size_t nnets;		   /* at most CONFIG_NETS_MAX */
	unsigned int hotplug_slots; /* [pci] hotplug_slots: empty PCIe slots, default 0 */
	struct jail_config jail;   /* [jail] enabled (default true), uid, gid (default 65534),
				      policy_dir, seccomp = "kill" | "log" */
	unsigned int run_seconds;  /* stop after this long (vmm policy learn --seconds); 0: no */
	char *config_path;	   /* the file read, or NULL */
	struct config_origin origin[CONFIG_KEYS_MAX]; /* per key, in config.c's table order */
};

/* Maximum length of a config/usage error line (the [cpu] hide error lists every name). */
#define CONFIG_ERR_MAX 1024

/* Defaults; allocates nothing. */
void config_init(struct vm_config *cfg);
/* Frees what cfg owns and puts the defaults back: calling it twice is harmless. */
void config_free(struct vm_config *cfg);

/*
 * Reads vm.toml at `path` into cfg; relative paths in it are taken from the file's directory.
 * The file's [[disk]] tables replace any disks cfg had.
 * Returns 0; -EINVAL with err = "path:line:col: message"; or -errno when the file cannot be
 * read, with err = "path: strerror" (-ENODEV: not a regular file).
 */
int config_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen);

/*
 * Sets `key` ("vm.cpus", "serial.path", ...) from a command-line flag's argument, checked as
 * the file's value would be; paths stay relative to the cwd; booleans are "true" or "false".
 * A key of an array of tables ("disk.id") is set in its last element (see config_append).
 * Returns 0 or -EINVAL with err = "vmm: FLAG: message" ("vmm: FLAG: KEY: message" for an
 * element's key).
 */
int config_set_flag(struct vm_config *cfg, const char *key, const char *flag, const char *arg,
		    char *err, size_t errlen);

/*
 * Appends an element with its defaults to the array of tables `section` ("disk"), after the
 * file's, for `flag` to fill with config_set_flag(). Returns 0, -EINVAL when the array is
 * full ("vmm: --disk: too many disks (at most 16)"), or -ENOMEM.
 */
int config_append(struct vm_config *cfg, const char *section, const char *flag, char *err,
		  size_t errlen);

/* Checks what needs the merged result (a kernel, a path for serial "file"). 0 or -EINVAL. */
int config_validate(struct vm_config *cfg, char *err, size_t errlen);

#endif
