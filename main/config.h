/*
 * The VM's configuration: vm.toml merged with `vmm run` flags (flags win).
 */
#ifndef VMM_MAIN_CONFIG_H
#define VMM_MAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

struct vm_config {
	char *name;		/* [vm] name, default "vmm" */
	unsigned int cpus;	/* [vm] cpus, default 1 */
	uint64_t memory_mib;	/* [vm] memory_mib, default 256 */
	char *kernel;		/* [vm] kernel: required in the end */
	char *initrd;		/* [vm] initrd or NULL */
	char *cmdline;		/* [vm] cmdline, default "console=ttyS0 reboot=k panic=1" */
	enum serial_mode serial_mode; /* [serial] mode = "stdio" | "file" | "none" */
	char *serial_path;	/* [serial] path, with mode "file" */
	char **cpu_hide;	/* [cpu] hide = ["xsave", ...] */
	size_t ncpu_hide;
	char *config_path;	/* the file read, or NULL */
};

/* Maximum length of a config/usage error line. */
#define CONFIG_ERR_MAX 512

void config_init(struct vm_config *cfg);
void config_free(struct vm_config *cfg);

#endif
