/* The command line: commands, flags over vm.toml, and the exact usage error lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

#define CONFIGS TEST_DATA_DIR "/toml/config"

struct result {
	int ret;
	enum cli_command cmd;
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];
};

/* Runs cli_parse on {"vmm", args..., NULL}. */
static void parse(struct result *r, const char *const *args)
{
	char *argv[32] = {"vmm"};
	int argc = 1;

	for (; args[argc - 1]; argc++) {
		cr_assert_lt(argc, 31);
		argv[argc] = (char *)args[argc - 1];
	}
	memset(r, 0, sizeof(*r));
	config_init(&r->cfg);
	r->ret = cli_parse(argc, argv, &r->cmd, &r->cfg, r->err, sizeof(r->err));
}

#define PARSE(r, ...) parse((r), (const char *const[]){__VA_ARGS__, NULL})

static void expect_err(struct result *r, const char *want)
{
	cr_assert_eq(r->ret, -EINVAL, "no error, want <%s>", want);
	cr_assert_str_eq(r->err, want, "got <%s>\nwant <%s>", r->err, want);
	config_free(&r->cfg);
}

/* Commands */

Test(cli, help_forms)
{
	static const char *const forms[][3] = {
	    {"--help"},
	    {"-h"},
	    {"help"},
	    {"run", "--help"},
	};
	struct result r;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		parse(&r, forms[i]);
		cr_assert_eq(r.ret, 0, "%s: %s", forms[i][0], r.err);
		cr_assert_eq(r.cmd, CLI_HELP, "%s", forms[i][0]);
		config_free(&r.cfg);
	}
	PARSE(&r, "run", "--cpus", "2", "-h");
	cr_assert_eq(r.ret, 0);
	cr_assert_eq(r.cmd, CLI_HELP);
	config_free(&r.cfg);
}

Test(cli, version)
{
	struct result r;

	PARSE(&r, "--version");
	cr_assert_eq(r.ret, 0);
	cr_assert_eq(r.cmd, CLI_VERSION);
	config_free(&r.cfg);
}

Test(cli, bad_commands)
{
	struct result r;

	parse(&r, (const char *const[]){NULL});
	expect_err(&r, "vmm: no command given (try 'vmm --help')");
	PARSE(&r, "frob");
	expect_err(&r, "vmm: unknown command 'frob' (try 'vmm --help')");
	PARSE(&r, "--frob");
	expect_err(&r, "vmm: unknown option '--frob' (try 'vmm --help')");
	PARSE(&r, "--version", "x");
	expect_err(&r, "vmm: unexpected argument 'x'");
	PARSE(&r, "help", "run");
	expect_err(&r, "vmm: unexpected argument 'run'");
	PARSE(&r, "Run");
	expect_err(&r, "vmm: unknown command 'Run' (try 'vmm --help')");
}

/* run */

Test(cli, run_flags_only)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "bzImage", "--cpus", "2", "--memory", "512", "--initrd",
	      "rel/initrd.img", "--cmdline", "console=ttyS0 quiet", "--serial", "none");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cmd, CLI_RUN);
	cr_assert_str_eq(r.cfg.kernel, "bzImage");
	cr_assert_eq(r.cfg.cpus, 2);
	cr_assert_eq(r.cfg.memory_mib, 512);
	cr_assert_str_eq(r.cfg.initrd, "rel/initrd.img");
	cr_assert_str_eq(r.cfg.cmdline, "console=ttyS0 quiet");
	cr_assert_eq(r.cfg.serial_mode, SERIAL_NONE);
	cr_assert_null(r.cfg.config_path);
	config_free(&r.cfg);
}

Test(cli, equals_form)
{
	struct result r;

	PARSE(&r, "run", "--kernel=/k", "--cpus=3", "--cmdline=a=b c");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_str_eq(r.cfg.kernel, "/k");
	cr_assert_eq(r.cfg.cpus, 3);
	cr_assert_str_eq(r.cfg.cmdline, "a=b c");
	config_free(&r.cfg);
	PARSE(&r, "run", "--kernel=/k", "--cpus=");
	expect_err(&r, "vmm: --cpus: '' is not a number");
}

Test(cli, a_value_may_look_like_a_flag)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "/k", "--cmdline", "--help");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cmd, CLI_RUN);
	cr_assert_str_eq(r.cfg.cmdline, "--help");
	config_free(&r.cfg);
}

Test(cli, flags_override_the_file)
{
	struct result r;

	PARSE(&r, "run", "--cpus", "2", "--config", CONFIGS "/full.toml", "--serial", "stdio",
	      "--kernel", "my/bzImage");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cfg.cpus, 2);		       /* flag, though before --config */
	cr_assert_eq(r.cfg.memory_mib, 1024);	       /* file */
	cr_assert_str_eq(r.cfg.name, "full");	       /* file */
	cr_assert_str_eq(r.cfg.kernel, "my/bzImage");  /* flag: relative to the cwd */
	cr_assert_eq(r.cfg.serial_mode, SERIAL_STDIO); /* flag */
	cr_assert_eq(r.cfg.ncpu_hide, 3);	       /* file */
	cr_assert_str_eq(r.cfg.config_path, CONFIGS "/full.toml");
	config_free(&r.cfg);
}

Test(cli, file_paths_relative_to_the_file)
{
	struct result r;

	PARSE(&r, "run", "--config", CONFIGS "/paths.toml");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_str_eq(r.cfg.kernel, CONFIGS "/bzImage");
	cr_assert_str_eq(r.cfg.serial_path, CONFIGS "/logs/console.log");
	config_free(&r.cfg);
}

Test(cli, bad_numbers)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "k", "--cpus", "x");
	expect_err(&r, "vmm: --cpus: 'x' is not a number");
	PARSE(&r, "run", "--kernel", "k", "--memory", "12abc");
	expect_err(&r, "vmm: --memory: '12abc' is not a number");
	PARSE(&r, "run", "--kernel", "k", "--memory", "1.5");
	expect_err(&r, "vmm: --memory: '1.5' is not a number");
	PARSE(&r, "run", "--kernel", "k", "--memory", " 64");
	expect_err(&r, "vmm: --memory: ' 64' is not a number");
	PARSE(&r, "run", "--kernel", "k", "--cpus", "0");
	expect_err(&r, "vmm: --cpus: must be at least 1, got 0");
	PARSE(&r, "run", "--kernel", "k", "--cpus", "1000");
	expect_err(&r, "vmm: --cpus: must be at most 255, got 1000");
	PARSE(&r, "run", "--kernel", "k", "--memory", "16");
	expect_err(&r, "vmm: --memory: must be at least 64, got 16");
	PARSE(&r, "run", "--kernel", "k", "--memory", "100000000000000000000");
	expect_err(&r, "vmm: --memory: '100000000000000000000' is out of range");
}

Test(cli, unknown_flags_and_arguments)
{
	struct result r;

	PARSE(&r, "run", "--frobnicate");
	expect_err(&r, "vmm: run: unknown option '--frobnicate' (try 'vmm --help')");
	PARSE(&r, "run", "--cpusx", "2");
	expect_err(&r, "vmm: run: unknown option '--cpusx' (try 'vmm --help')");
	PARSE(&r, "run", "-c", "2");
	expect_err(&r, "vmm: run: unknown option '-c' (try 'vmm --help')");
	PARSE(&r, "run", "vm.toml");
	expect_err(&r, "vmm: run: unexpected argument 'vm.toml'");
	PARSE(&r, "run", "--version");
	expect_err(&r, "vmm: run: unknown option '--version' (try 'vmm --help')");
}

Test(cli, missing_value)
{
	struct result r;

	PARSE(&r, "run", "--kernel");
	expect_err(&r, "vmm: --kernel: missing value (--kernel FILE)");
	PARSE(&r, "run", "--kernel", "k", "--serial");
	expect_err(&r, "vmm: --serial: missing value (--serial stdio|file:PATH|none)");
	PARSE(&r, "run", "--config");
	expect_err(&r, "vmm: --config: missing value (--config FILE)");
}

Test(cli, flag_given_twice)
{
	struct result r;

	PARSE(&r, "run", "--cpus", "1", "--kernel", "k", "--cpus=2");
	expect_err(&r, "vmm: --cpus: given twice");
}

Test(cli, serial_forms)
{
	static const struct {
		const char *arg;
		enum serial_mode mode;
		const char *path;
	} ok[] = {
	    {"stdio", SERIAL_STDIO, NULL},
	    {"none", SERIAL_NONE, NULL},
	    {"file:/tmp/console.log", SERIAL_FILE, "/tmp/console.log"},
	    {"file:rel/console.log", SERIAL_FILE, "rel/console.log"},
	    {"file:file:x", SERIAL_FILE, "file:x"},
	};
	struct result r;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		PARSE(&r, "run", "--kernel", "k", "--serial", ok[i].arg);
		cr_assert_eq(r.ret, 0, "%s: %s", ok[i].arg, r.err);
		cr_assert_eq(r.cfg.serial_mode, ok[i].mode, "%s", ok[i].arg);
		if (ok[i].path)
			cr_assert_str_eq(r.cfg.serial_path, ok[i].path);
		else
			cr_assert_null(r.cfg.serial_path);
		config_free(&r.cfg);
	}
	PARSE(&r, "run", "--kernel", "k", "--serial", "file:");
	expect_err(&r, "vmm: --serial: file: needs a path (file:PATH)");
	PARSE(&r, "run", "--kernel", "k", "--serial", "tcp");
	expect_err(&r, "vmm: --serial: 'tcp' is not stdio, file:PATH or none");
	PARSE(&r, "run", "--kernel", "k", "--serial", "file");
	expect_err(&r, "vmm: --serial: 'file' is not stdio, file:PATH or none");
	PARSE(&r, "run", "--kernel", "k", "--serial", "STDIO");
	expect_err(&r, "vmm: --serial: 'STDIO' is not stdio, file:PATH or none");
}

Test(cli, missing_kernel)
{
	struct result r;

	PARSE(&r, "run", "--memory", "64");
	expect_err(&r, "vmm: no kernel: set [vm] kernel or --kernel");
}

/* --disk and --no-rng */

Test(cli, disk_forms)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img", "--disk", "/b.img,ro", "--disk",
	      "c.img,id=data", "--disk=d.img,ro,id=x y", "--disk", "e.img,id=e,ro");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cfg.ndisks, 5);
	cr_assert_str_eq(r.cfg.disks[0].path, "a.img");
	cr_assert_not(r.cfg.disks[0].read_only);
	cr_assert_null(r.cfg.disks[0].id);
	cr_assert_str_eq(r.cfg.disks[0].origin.flag, "--disk");
	cr_assert_str_eq(r.cfg.disks[1].path, "/b.img");
	cr_assert(r.cfg.disks[1].read_only);
	cr_assert_null(r.cfg.disks[1].id);
	cr_assert_str_eq(r.cfg.disks[2].path, "c.img");
	cr_assert_not(r.cfg.disks[2].read_only);
	cr_assert_str_eq(r.cfg.disks[2].id, "data");
	cr_assert_str_eq(r.cfg.disks[3].path, "d.img");
	cr_assert(r.cfg.disks[3].read_only);
	cr_assert_str_eq(r.cfg.disks[3].id, "x y");
	cr_assert_str_eq(r.cfg.disks[4].path, "e.img");
	cr_assert(r.cfg.disks[4].read_only);
	cr_assert_str_eq(r.cfg.disks[4].id, "e");
	cr_assert(r.cfg.rng_enabled);
	config_free(&r.cfg);
}

Test(cli, net_forms)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "k", "--net", "tap0", "--net",
	      "tap1,create,mac=52:54:00:00:00:01,host_ip=169.254.7.1/24,mtu=9000");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cfg.nnets, 2);
	cr_assert_str_eq(r.cfg.nets[0].tap, "tap0");
	cr_assert_not(r.cfg.nets[0].create);
	cr_assert_null(r.cfg.nets[0].mac);
	cr_assert_str_eq(r.cfg.nets[0].origin.flag, "--net");
	cr_assert_str_eq(r.cfg.nets[1].tap, "tap1");
	cr_assert(r.cfg.nets[1].create);
	cr_assert_str_eq(r.cfg.nets[1].mac, "52:54:00:00:00:01");
	cr_assert_str_eq(r.cfg.nets[1].host_ip, "169.254.7.1/24");
	cr_assert_eq(r.cfg.nets[1].mtu, 9000);
	config_free(&r.cfg);

	PARSE(&r, "run", "--kernel", "k", "--net", ",mtu=1500");
	expect_err(&r, "vmm: --net: needs a tap (--net TAP[,create][,mac=MAC][,host_ip=CIDR][,mtu=N])");
	PARSE(&r, "run", "--kernel", "k", "--net", "tap0,speed=10");
	expect_err(&r, "vmm: --net: unknown option 'speed=10'");
	PARSE(&r, "run", "--kernel", "k", "--net", "tap0", "--net", "tap0");
	expect_err(&r, "vmm: --net: tap: 'tap0' is already the tap of an earlier --net");
	PARSE(&r, "run", "--kernel", "k", "--net", "tap0,mac=ff:ff:ff:ff:ff:ff");
	expect_err(&r, "vmm: --net: mac: is a multicast address (the first byte must be even)");
}

Test(cli, disks_from_flags_follow_the_files)
{
	struct result r;

	PARSE(&r, "run", "--disk", "extra.img,ro", "--config", CONFIGS "/disks.toml", "--disk",
	      "last.img");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cfg.ndisks, 5);
	cr_assert_str_eq(r.cfg.disks[0].path, CONFIGS "/root.img");
	cr_assert_str_eq(r.cfg.disks[2].path, CONFIGS "/../images/scratch.img");
	cr_assert_str_eq(r.cfg.disks[3].path, "extra.img"); /* from the cwd */
	cr_assert(r.cfg.disks[3].read_only);
	cr_assert_str_eq(r.cfg.disks[4].path, "last.img");
	config_free(&r.cfg);
}

Test(cli, disk_errors)
{
	struct result r;
	char want[CONFIG_ERR_MAX];

	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,rw");
	expect_err(&r, "vmm: --disk: unknown option 'rw'");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,ro=1");
	expect_err(&r, "vmm: --disk: unknown option 'ro=1'");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,ID=x");
	expect_err(&r, "vmm: --disk: unknown option 'ID=x'");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,");
	expect_err(&r, "vmm: --disk: unknown option ''");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,,ro");
	expect_err(&r, "vmm: --disk: unknown option ''");
	PARSE(&r, "run", "--kernel", "k", "--disk", ",ro");
	expect_err(&r, "vmm: --disk: needs a path (--disk PATH[,ro][,id=NAME])");
	PARSE(&r, "run", "--kernel", "k", "--disk=");
	expect_err(&r, "vmm: --disk: needs a path (--disk PATH[,ro][,id=NAME])");
	PARSE(&r, "run", "--kernel", "k", "--disk");
	expect_err(&r, "vmm: --disk: missing value (--disk PATH[,ro][,id=NAME])");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,id=");
	expect_err(&r, "vmm: --disk: id: must not be empty");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,id=123456789012345678901");
	expect_err(&r, "vmm: --disk: id: longer than 20 bytes");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,id=a\tb");
	expect_err(&r, "vmm: --disk: id: must be printable ASCII");
	PARSE(&r, "run", "--kernel", "k", "--disk", "a.img,id=x", "--disk", "b.img,id=x");
	expect_err(&r, "vmm: --disk: id: 'x' is already the id of an earlier --disk");
	PARSE(&r, "run", "--config", CONFIGS "/disks.toml", "--disk", "b.img,ro,id=root");
	snprintf(want, sizeof(want),
		 "vmm: --disk: id: 'root' is already the id of the [[disk]] at %s:5:3",
		 CONFIGS "/disks.toml");
	expect_err(&r, want);
	PARSE(&r, "run", "--config", CONFIGS "/disk_table.toml");
	snprintf(want, sizeof(want), "%s:2:2: [disk] must be an array of tables: write [[disk]]",
		 CONFIGS "/disk_table.toml");
	expect_err(&r, want);
}

Test(cli, at_most_sixteen_disks)
{
	const char *args[40] = {"run", "--kernel", "k"};
	struct result r;
	int n = 3;

	for (int i = 0; i < CONFIG_DISKS_MAX; i++)
		args[n++] = "--disk=d.img";
	parse(&r, args);
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_eq(r.cfg.ndisks, 16);
	config_free(&r.cfg);
	args[n++] = "--disk=d.img";
	parse(&r, args);
	expect_err(&r, "vmm: --disk: too many disks (at most 16)");
}

Test(cli, too_many_options)
{
	char *args[CLI_RUN_SEEN_MAX + 1];
	struct cli_run_opts opts;
	enum cli_command cmd;
	char err[CONFIG_ERR_MAX];

	for (int i = 0; i <= CLI_RUN_SEEN_MAX; i++)
		args[i] = "--disk=d.img";
	cr_assert_eq(cli_run_collect(CLI_RUN_SEEN_MAX, args, &opts, &cmd, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(opts.n, CLI_RUN_SEEN_MAX);
	cr_assert_eq(cli_run_collect(CLI_RUN_SEEN_MAX + 1, args, &opts, &cmd, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: run: more than 64 options");
}

Test(cli, no_rng)
{
	struct result r;

	/* takes no value: the next argument is a flag of its own */
	PARSE(&r, "run", "--kernel", "k", "--no-rng", "--cpus", "2");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_not(r.cfg.rng_enabled);
	cr_assert_eq(r.cfg.cpus, 2);
	config_free(&r.cfg);
	PARSE(&r, "run", "--config", CONFIGS "/disks.toml", "--no-rng");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_not(r.cfg.rng_enabled);
	config_free(&r.cfg);
	PARSE(&r, "run", "--config", CONFIGS "/full.toml");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_not(r.cfg.rng_enabled); /* the file's [rng] enabled = false */
	config_free(&r.cfg);
	PARSE(&r, "run", "--kernel", "k", "--no-rng=yes");
	expect_err(&r, "vmm: --no-rng: takes no value");
	PARSE(&r, "run", "--kernel", "k", "--no-rng=");
	expect_err(&r, "vmm: --no-rng: takes no value");
	PARSE(&r, "run", "--kernel", "k", "--no-rng", "--no-rng");
	expect_err(&r, "vmm: --no-rng: given twice");
	PARSE(&r, "run", "--kernel", "k", "--no-rngx");
	expect_err(&r, "vmm: run: unknown option '--no-rngx' (try 'vmm --help')");
}

/* --config errors: the file's line alone; an unreadable file with the flag's name */

static char cfg_path[64];

static void write_tmp(const char *text)
{
	int fd;

	snprintf(cfg_path, sizeof(cfg_path), "/tmp/vmm-cli-test.XXXXXX");
	fd = mkstemp(cfg_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(cli, config_errors)
{
	struct result r;
	char want[CONFIG_ERR_MAX];

	write_tmp("[vm]\ncpus = 2\nmemory_mib = \"lots\"\n");
	PARSE(&r, "run", "--config", cfg_path);
	snprintf(want, sizeof(want), "%s:3:14: [vm] memory_mib: must be an integer, not a string",
		 cfg_path);
	expect_err(&r, want);
	unlink(cfg_path);

	write_tmp("[serial]\nmode = 'file'\n[vm]\nkernel = '/k'\n");
	PARSE(&r, "run", "--config", cfg_path);
	snprintf(want, sizeof(want),
		 "%s:2:8: [serial] mode: \"file\" needs a path: set [serial] path", cfg_path);
	expect_err(&r, want);
	/* the flag supplies what the file lacks */
	PARSE(&r, "run", "--config", cfg_path, "--serial", "file:out.log");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_str_eq(r.cfg.serial_path, "out.log");
	config_free(&r.cfg);
	unlink(cfg_path);

	PARSE(&r, "run", "--config", "/nonexistent/vm.toml");
	expect_err(&r, "vmm: --config: /nonexistent/vm.toml: No such file or directory");
	PARSE(&r, "run", "--config", "/");
	expect_err(&r, "vmm: --config: /: not a regular file");
}

Test(cli, config_error_before_flag_errors)
{
	struct result r;

	/* flags are checked for syntax first, then the file is read, then flag values */
	PARSE(&r, "run", "--cpus", "x", "--config", "/nonexistent/vm.toml");
	expect_err(&r, "vmm: --config: /nonexistent/vm.toml: No such file or directory");
	PARSE(&r, "run", "--cpus", "x", "--bogus");
	expect_err(&r, "vmm: run: unknown option '--bogus' (try 'vmm --help')");
}

/* Help and version text */

Test(cli, usage_lists_every_flag)
{
	static const char *const words[] = {
	    "usage: vmm run",
	    "--help",
	    "--version",
	    "--config FILE",
	    "--cpus N",
	    "--memory MIB",
	    "--kernel FILE",
	    "--initrd FILE",
	    "--cmdline STRING",
	    "--serial stdio|file:PATH|none",
	    "--disk PATH[,ro][,id=NAME]",
	    "--no-rng ",
	    "--jail ",
	    "--no-jail ",
	    "Exit status: 0 ok, 1 VMM failure, 2 usage or configuration error",
	};
	char *text = NULL, *line, *save;
	size_t len;
	FILE *out = open_memstream(&text, &len);

	cli_usage(out);
	fclose(out);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		cr_assert_not_null(strstr(text, words[i]), "no '%s' in:\n%s", words[i], text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_assert_leq(strlen(line), 80, "too long: %s", line);
	free(text);
}

Test(cli, version_text)
{
	char *text = NULL;
	size_t len;
	FILE *out = open_memstream(&text, &len);

	cli_version(out);
	fclose(out);
	cr_assert_str_eq(text, "vmm " VMM_VERSION "\n");
	free(text);
}

/* The lower-level pieces main.c could use on its own. */
Test(cli, collect_then_apply)
{
	char *args[] = {"--kernel", "/k", "--config", CONFIGS "/minimal.toml", "--cpus", "5"};
	struct cli_run_opts opts;
	enum cli_command cmd;
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(cli_run_collect(6, args, &opts, &cmd, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cmd, CLI_RUN);
	cr_assert_eq(opts.n, 3);
	cr_assert_str_eq(opts.seen[1].arg, CONFIGS "/minimal.toml");
	config_init(&cfg);
	cr_assert_eq(cli_run_apply(&opts, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.kernel, "/k");
	cr_assert_eq(cfg.cpus, 5);
	config_free(&cfg);
}

Test(cli, jail_flags)
{
	struct result r;

	PARSE(&r, "run", "--kernel", "k");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert(r.cfg.jail.enabled); /* the default */
	config_free(&r.cfg);
	PARSE(&r, "run", "--kernel", "k", "--no-jail");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert_not(r.cfg.jail.enabled);
	config_free(&r.cfg);
	PARSE(&r, "run", "--kernel", "k", "--jail");
	cr_assert_eq(r.ret, 0, "%s", r.err);
	cr_assert(r.cfg.jail.enabled);
	config_free(&r.cfg);
	PARSE(&r, "run", "--kernel", "k", "--no-jail=yes");
	expect_err(&r, "vmm: --no-jail: takes no value");
}
