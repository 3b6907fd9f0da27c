/*
 * The command line: `vmm run [flags]`, `vmm policy VERB ...` (policy_cmd.h),
 * `vmm help | --help | -h`, `vmm --version`.
 * Flags override vm.toml; each flag is one row of a table in cli.c.
 */
#ifndef VMM_MAIN_CLI_H
#define VMM_MAIN_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

enum cli_command { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_POLICY };

struct cli_flag;

/* At least the number of `run` flags (checked in cli.c). */
#define CLI_RUN_FLAGS_MAX 16
/* The most flags one `vmm run` may give, repeats of --disk included. */
#define CLI_RUN_SEEN_MAX 64

/* The `run` flags seen, in order; each at most once but --disk. */
struct cli_run_opts {
	size_t n;
	struct {
		const struct cli_flag *flag;
		const char *arg; /* points into argv, or the value of a flag without one */
	} seen[CLI_RUN_SEEN_MAX];
};

/*
 * Parses argv (argv[0] = "vmm"). For policy: nothing more (main.c hands argv + 2 to
 * policy_cmd_main()). For run: loads --config if given, applies the other flags
 * over it, then config_validate(). Initializes cfg itself (config_init) and leaves it ready
 * for config_free() whatever the result. Returns 0, or -EINVAL with err set to one line:
 * "vmm: --cpus: 'x' is not a number", "vm.toml:3:8: ...". The caller exits 2 on error.
 */
int cli_parse(int argc, char **argv, enum cli_command *cmd, struct vm_config *cfg, char *err,
	      size_t errlen);

/* Collects the `run` flags in args[0..n) without applying them. 0 or -EINVAL (err set). */
int cli_run_collect(int n, char **args, struct cli_run_opts *opts, enum cli_command *cmd, char *err,
		    size_t errlen);

/* Applies opts to cfg: --config first, then the others, in order. 0 or -errno (err set). */
int cli_run_apply(const struct cli_run_opts *opts, struct vm_config *cfg, char *err, size_t errlen);

/* The --help text. */
void cli_usage(FILE *out);
/* "vmm 0.1.0" */
void cli_version(FILE *out);

#endif
