#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_cmd.h"
#include "toml.h"
#include "util.h"

struct cli_flag {
	const char *name;    /* "--cpus" */
	const char *metavar; /* what the value is, in --help; NULL: the flag takes none */
	const char *key;     /* the config key it overrides, when apply is NULL */
	int (*apply)(struct vm_config *cfg, const struct cli_flag *f, const char *arg, char *err,
		     size_t errlen);
	bool early; /* applied before the others: --config */
	const char *help;
	bool repeatable;   /* --disk: each one adds */
	const char *value; /* what a flag without metavar sets its key to */
};

__attribute__((format(printf, 3, 4))) static int usage_fail(char *err, size_t errlen,
							    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int apply_config(struct vm_config *cfg, const struct cli_flag *f, const char *arg, char *err,
			size_t errlen)
{
	char msg[CONFIG_ERR_MAX];
	int ret = config_load_file(cfg, arg, msg, sizeof(msg));

	/* "file:line:col: ..." stands alone; "file: No such file" needs the context */
	if (ret == -EINVAL)
		snprintf(err, errlen, "%s", msg);
	else if (ret)
		snprintf(err, errlen, "vmm: %s: %s", f->name, msg);
	return ret;
}

/* stdio | file:PATH | none */
static int apply_serial(struct vm_config *cfg, const struct cli_flag *f, const char *arg, char *err,
			size_t errlen)
{
	char shown[64];
	int ret;

	if (strcmp(arg, "stdio") == 0 || strcmp(arg, "none") == 0)
		return config_set_flag(cfg, "serial.mode", f->name, arg, err, errlen);
	if (strncmp(arg, "file:", 5) == 0) {
		if (!arg[5]) {
			snprintf(err, errlen, "vmm: %s: file: needs a path (file:PATH)", f->name);
			return -EINVAL;
		}
		ret = config_set_flag(cfg, "serial.path", f->name, arg + 5, err, errlen);
		if (ret == 0)
			ret = config_set_flag(cfg, "serial.mode", f->name, "file", err, errlen);
		return ret;
	}
	snprintf(err, errlen, "vmm: %s: '%s' is not stdio, file:PATH or none", f->name,
		 toml_printable(arg, shown, sizeof(shown)));
	return -EINVAL;
}

/* One ",name" or ",name=value" after a flag's PATH: the key of the element it sets. */
struct sub_option {
	const char *name;  /* "ro", or "id=" when it takes a value */
	const char *key;   /* "disk.read_only" */
	const char *value; /* what a name without '=' sets */
};

/* clang-format off */
static const struct sub_option disk_options[] = {
	{"ro", "disk.read_only", "true"},
	{"id=", "disk.id", NULL},
};

static int apply_sub_option(struct vm_config *cfg, const struct cli_flag *f,
			    const struct sub_option *opts, size_t nopts, const char *opt, char *err,
			    size_t errlen)
{
	char shown[64];

	for (size_t i = 0; i < nopts; i++) {
		size_t len = strlen(opts[i].name);

		if (opts[i].name[len - 1] == '=' && strncmp(opt, opts[i].name, len) == 0)
			return config_set_flag(cfg, opts[i].key, f->name, opt + len, err, errlen);
		if (strcmp(opt, opts[i].name) == 0)
			return config_set_flag(cfg, opts[i].key, f->name, opts[i].value, err,
					       errlen);
	}
	snprintf(err, errlen, "vmm: %s: unknown option '%s'", f->name,
		 toml_printable(opt, shown, sizeof(shown)));
	return -EINVAL;
}

static const struct sub_option net_options[] = {
	{"create", "net.create", "true"},
	{"mac=", "net.mac", NULL},
	{"host_ip=", "net.host_ip", NULL},
	{"mtu=", "net.mtu", NULL},
};
/* clang-format on */

/*
 * FIRST[,option]...: one more element of the array `section` after the file's, its required
 * key from FIRST (a PATH or TAP, which cannot hold a ','), the rest from opts.
 */
static int apply_element(struct vm_config *cfg, const struct cli_flag *f, const char *arg,
			 const char *section, const char *first_key,
			 const struct sub_option *opts, size_t nopts, char *err, size_t errlen)
{
	char *copy = strdup(arg), *rest = copy, *first;
	int ret;

	if (!copy) {
		snprintf(err, errlen, "vmm: out of memory");
		return -ENOMEM;
	}
	first = strsep(&rest, ",");
	if (!*first) {
		ret = usage_fail(err, errlen, "vmm: %s: needs a %s (%s %s)", f->name,
				 strchr(first_key, '.') + 1, f->name, f->metavar);
		goto free_copy;
	}
	ret = config_append(cfg, section, f->name, err, errlen);
	if (ret == 0)
		ret = config_set_flag(cfg, first_key, f->name, first, err, errlen);
	while (ret == 0 && rest)
		ret = apply_sub_option(cfg, f, opts, nopts, strsep(&rest, ","), err, errlen);
free_copy:
	free(copy);
	return ret;
}

/* PATH[,ro][,id=NAME]: one more disk after the file's. */
static int apply_disk(struct vm_config *cfg, const struct cli_flag *f, const char *arg, char *err,
		      size_t errlen)
{
	return apply_element(cfg, f, arg, "disk", "disk.path", disk_options,
			     ARRAY_SIZE(disk_options), err, errlen);
}

/* TAP[,create][,mac=MAC][,host_ip=CIDR][,mtu=N]: one more NIC after the file's. */
static int apply_net(struct vm_config *cfg, const struct cli_flag *f, const char *arg, char *err,
		     size_t errlen)
{
	return apply_element(cfg, f, arg, "net", "net.tap", net_options, ARRAY_SIZE(net_options),
			     err, errlen);
}

/* Adding a flag to `vmm run` is adding a row here. */
/* clang-format off */
static const struct cli_flag run_flags[] = {
	{.name = "--config", .metavar = "FILE", .apply = apply_config, .early = true,
	 .help = "settings file (vm.toml); flags override it"},
	{.name = "--cpus", .metavar = "N", .key = "vm.cpus",
	 .help = "number of vCPUs, 1..255 (default 1)"},
	{.name = "--memory", .metavar = "MIB", .key = "vm.memory_mib",
	 .help = "guest RAM in MiB, >= 64 (default 256)"},
	{.name = "--kernel", .metavar = "FILE", .key = "vm.kernel",
	 .help = "guest kernel: bzImage or ELF vmlinux"},
	{.name = "--initrd", .metavar = "FILE", .key = "vm.initrd",
	 .help = "initramfs for the guest"},
	{.name = "--cmdline", .metavar = "STRING", .key = "vm.cmdline",
	 .help = "guest kernel command line"},
	{.name = "--serial", .metavar = "stdio|file:PATH|none", .apply = apply_serial,
	 .help = "guest serial console (default stdio)"},
	{.name = "--disk", .metavar = "PATH[,ro][,id=NAME]", .apply = apply_disk,
	 .repeatable = true, .help = "raw disk image; ro: read-only, id: its serial"},
	{.name = "--net", .metavar = "TAP[,create][,mac=MAC][,host_ip=CIDR][,mtu=N]",
	 .apply = apply_net, .repeatable = true, .help = "virtio-net NIC on a host tap"},
	{.name = "--no-rng", .key = "rng.enabled", .value = "false",
	 .help = "no virtio-rng device (default: one)"},
	{.name = "--control-socket", .metavar = "PATH", .key = "vm.control_socket",
	 .help = "vmm-ctl's socket (default /run/vmm/NAME.sock)"},
	{.name = "--jail", .key = "jail.enabled", .value = "true",
	 .help = "jail every device process (the default)"},
	{.name = "--no-jail", .key = "jail.enabled", .value = "false",
	 .help = "no jail, no seccomp (devices stay processes)"},
};
/* clang-format on */

_Static_assert(ARRAY_SIZE(run_flags) <= CLI_RUN_FLAGS_MAX, "raise CLI_RUN_FLAGS_MAX");

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* The row for "--name" or "--name=value" (then *value points after the '='). */
static const struct cli_flag *flag_find(const char *a, const char **value)
{
	for (size_t i = 0; i < ARRAY_SIZE(run_flags); i++) {
		size_t len = strlen(run_flags[i].name);

		if (strncmp(a, run_flags[i].name, len) != 0 || (a[len] && a[len] != '='))
			continue;
		*value = a[len] == '=' ? a + len + 1 : NULL;
		return &run_flags[i];
	}
	return NULL;
}

static bool flag_seen(const struct cli_run_opts *opts, const struct cli_flag *f)
{
	for (size_t i = 0; i < opts->n; i++)
		if (opts->seen[i].flag == f)
			return true;
	return false;
}

/* One flag at args[*i] with its value; moves *i past them. */
static int collect_one(int n, char **args, int *i, struct cli_run_opts *opts, char *err,
		       size_t errlen)
{
	const char *a = args[*i], *value;
	const struct cli_flag *f = flag_find(a, &value);
	char shown[64];

	toml_printable(a, shown, sizeof(shown));
	if (!f && strncmp(a, "-", 1) == 0)
		return usage_fail(err, errlen, "vmm: run: unknown option '%s' (try 'vmm --help')",
				  shown);
	if (!f)
		return usage_fail(err, errlen, "vmm: run: unexpected argument '%s'", shown);
	if (flag_seen(opts, f) && !f->repeatable)
		return usage_fail(err, errlen, "vmm: %s: given twice", f->name);
	if (opts->n == CLI_RUN_SEEN_MAX)
		return usage_fail(err, errlen, "vmm: run: more than %d options", CLI_RUN_SEEN_MAX);
	if (!f->metavar && value)
		return usage_fail(err, errlen, "vmm: %s: takes no value", f->name);
	if (!f->metavar)
		value = f->value;
	else if (!value && *i + 1 >= n)
		return usage_fail(err, errlen, "vmm: %s: missing value (%s %s)", f->name, f->name,
				  f->metavar);
	if (!value)
		value = args[++*i];
	opts->seen[opts->n].flag = f;
	opts->seen[opts->n].arg = value;
	opts->n++;
	(*i)++;
	return 0;
}

int cli_run_collect(int n, char **args, struct cli_run_opts *opts, enum cli_command *cmd, char *err,
		    size_t errlen)
{
	int i = 0;

	memset(opts, 0, sizeof(*opts));
	*cmd = CLI_RUN;
	while (i < n) {
		int ret;

		if (is_help(args[i])) {
			*cmd = CLI_HELP;
			return 0;
		}
		ret = collect_one(n, args, &i, opts, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int apply_pass(const struct cli_run_opts *opts, bool early, struct vm_config *cfg, char *err,
		      size_t errlen)
{
	for (size_t i = 0; i < opts->n; i++) {
		const struct cli_flag *f = opts->seen[i].flag;
		const char *arg = opts->seen[i].arg;
		int ret;

		if (f->early != early)
			continue;
		if (f->apply)
			ret = f->apply(cfg, f, arg, err, errlen);
		else
			ret = config_set_flag(cfg, f->key, f->name, arg, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int cli_run_apply(const struct cli_run_opts *opts, struct vm_config *cfg, char *err, size_t errlen)
{
	int ret = apply_pass(opts, true, cfg, err, errlen);

	if (ret == 0)
		ret = apply_pass(opts, false, cfg, err, errlen);
	return ret;
}

static int parse_run(int n, char **args, enum cli_command *cmd, struct vm_config *cfg, char *err,
		     size_t errlen)
{
	struct cli_run_opts opts;
	int ret;

	ret = cli_run_collect(n, args, &opts, cmd, err, errlen);
	if (ret || *cmd != CLI_RUN)
		return ret;
	ret = cli_run_apply(&opts, cfg, err, errlen);
	if (ret == 0)
		ret = config_validate(cfg, err, errlen);
	/* an unreadable --config is a usage error too: the caller exits 2 */
	return ret ? -EINVAL : 0;
}

static int parse_no_args(int n, char **args, enum cli_command *cmd, struct vm_config *cfg,
			 char *err, size_t errlen)
{
	char shown[64];

	(void)cmd;
	(void)cfg;
	if (n > 0)
		return usage_fail(err, errlen, "vmm: unexpected argument '%s'",
				  toml_printable(args[0], shown, sizeof(shown)));
	return 0;
}

/* `vmm policy ...`: its verb and arguments are policy_cmd_main()'s to check. */
static int parse_policy(int n, char **args, enum cli_command *cmd, struct vm_config *cfg,
			char *err, size_t errlen)
{
	(void)n;
	(void)args;
	(void)cmd;
	(void)cfg;
	(void)err;
	(void)errlen;
	return 0;
}

static const struct cli_cmd {
	const char *name;
	enum cli_command cmd;
	int (*parse)(int n, char **args, enum cli_command *cmd, struct vm_config *cfg, char *err,
		     size_t errlen);
} commands[] = {
	{"run", CLI_RUN, parse_run},
	{"policy", CLI_POLICY, parse_policy},
	{"help", CLI_HELP, parse_no_args},
	{"--help", CLI_HELP, parse_no_args},
	{"-h", CLI_HELP, parse_no_args},
	{"--version", CLI_VERSION, parse_no_args},
};

int cli_parse(int argc, char **argv, enum cli_command *cmd, struct vm_config *cfg, char *err,
	      size_t errlen)
{
	char shown[64];

	config_init(cfg);
	*cmd = CLI_HELP;
	err[0] = '\0';
	if (argc < 2)
		return usage_fail(err, errlen, "vmm: no command given (try 'vmm --help')");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			*cmd = commands[i].cmd;
			return commands[i].parse(argc - 2, argv + 2, cmd, cfg, err, errlen);
		}
	}
	toml_printable(argv[1], shown, sizeof(shown));
	if (argv[1][0] == '-')
		return usage_fail(err, errlen, "vmm: unknown option '%s' (try 'vmm --help')",
				  shown);
	return usage_fail(err, errlen, "vmm: unknown command '%s' (try 'vmm --help')", shown);
}

void cli_usage(FILE *out)
{
	fprintf(out, "usage: vmm run [--config FILE] [options]\n");
	policy_cmd_synopsis(out, "      ");
	fprintf(out, "       vmm help | --help | -h\n"
		     "       vmm --version\n"
		     "\n"
		     "Runs a KVM virtual machine set up by FILE (vm.toml) and the options.\n"
		     "vmm policy checks and audits the seccomp policies (vmm policy --help).\n"
		     "\n"
		     "run options:\n");
	for (size_t i = 0; i < ARRAY_SIZE(run_flags); i++) {
		const struct cli_flag *f = &run_flags[i];
		char left[96];

		snprintf(left, sizeof(left), "%s%s%s", f->name, f->metavar ? " " : "",
			 f->metavar ? f->metavar : "");
		/* a long one gets its own line, the help under the others' */
		if (strlen(left) > 30)
			fprintf(out, "  %s\n  %-30s %s\n", left, "", f->help);
		else
			fprintf(out, "  %-30s %s\n", left, f->help);
	}
	fprintf(out, "\n"
		     "Relative paths in FILE are taken from FILE's directory, in options from\n"
		     "the current one. Each --disk adds a disk after FILE's [[disk]] tables,\n"
		     "each --net a NIC after its [[net]] tables.\n"
		     "Exit status: 0 ok, 1 VMM failure, 2 usage or configuration error.\n");
}

void cli_version(FILE *out)
{
	fprintf(out, "vmm %s\n", VMM_VERSION);
}
