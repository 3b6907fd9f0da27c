/* vm.toml -> struct vm_config: keys, types, ranges, paths, and the exact error lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cpuid.h"

#define CONFIGS TEST_DATA_DIR "/toml/config"

static char dir[64];
static char path[128];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vmm-config-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.toml", dir);
}

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(config, .init = make_dir, .fini = remove_dir);

static void write_cfg(const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text; returns the result, err filled. */
static int load(struct vm_config *cfg, const char *text, char *err)
{
	config_init(cfg);
	write_cfg(text);
	err[0] = '\0';
	return config_load_file(cfg, path, err, CONFIG_ERR_MAX);
}

static void load_ok(struct vm_config *cfg, const char *text)
{
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(load(cfg, text, err), 0, "%s", err);
}

/* text must fail with "PATH:" + want. */
static void load_err(const char *text, const char *want)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX], full[CONFIG_ERR_MAX];

	snprintf(full, sizeof(full), "%s:%s", path, want);
	cr_assert_eq(load(&cfg, text, err), -EINVAL, "no error for <%s>", text);
	cr_assert_str_eq(err, full, "got <%s>\nwant <%s>", err, full);
	config_free(&cfg);
}

/* Defaults and good files */

Test(config, defaults)
{
	struct vm_config cfg;

	config_init(&cfg);
	cr_assert_str_eq(cfg.name, "vmm");
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(cfg.memory_mib, 256);
	cr_assert_null(cfg.kernel);
	cr_assert_null(cfg.initrd);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 reboot=k panic=1");
	cr_assert_eq(cfg.serial_mode, SERIAL_STDIO);
	cr_assert_null(cfg.serial_path);
	cr_assert_eq(cfg.ncpu_hide, 0);
	cr_assert(cfg.rng_enabled);
	cr_assert_null(cfg.disks);
	cr_assert_eq(cfg.ndisks, 0);
	cr_assert_null(cfg.config_path);
	config_free(&cfg);
	config_free(&cfg);
	cr_assert(cfg.rng_enabled);
}

Test(config, full_file)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/full.toml", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.name, "full");
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_eq(cfg.memory_mib, 1024);
	cr_assert_str_eq(cfg.kernel, "/boot/vmlinuz");
	cr_assert_str_eq(cfg.initrd, "/boot/initrd.img");
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 quiet");
	cr_assert_eq(cfg.serial_mode, SERIAL_FILE);
	cr_assert_str_eq(cfg.serial_path, "/var/log/vm-console.log");
	cr_assert_eq(cfg.ncpu_hide, 3);
	cr_assert_str_eq(cfg.cpu_hide[0], "xsave");
	cr_assert_str_eq(cfg.cpu_hide[2], "rdrand");
	cr_assert_not(cfg.rng_enabled);
	cr_assert_eq(cfg.ndisks, 2);
	cr_assert_str_eq(cfg.disks[0].path, "/var/lib/vm/root.img");
	cr_assert(cfg.disks[0].read_only);
	cr_assert_str_eq(cfg.disks[0].id, "root");
	cr_assert_eq(cfg.disks[0].origin.line, 20);
	cr_assert_eq(cfg.disks[0].origin.col, 3);
	cr_assert_null(cfg.disks[0].origin.flag);
	cr_assert_str_eq(cfg.disks[1].path, "/var/lib/vm/data.img");
	cr_assert_not(cfg.disks[1].read_only);
	cr_assert_null(cfg.disks[1].id);
	cr_assert_str_eq(cfg.config_path, CONFIGS "/full.toml");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	config_free(&cfg);
	cr_assert_null(cfg.kernel);
	cr_assert_str_eq(cfg.name, "vmm");
}

Test(config, minimal_file_keeps_defaults)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/minimal.toml", err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.name, "vmm");
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(cfg.memory_mib, 256);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0 reboot=k panic=1");
	cr_assert_eq(cfg.serial_mode, SERIAL_STDIO);
	cr_assert(cfg.rng_enabled);
	cr_assert_eq(cfg.ndisks, 0);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	config_free(&cfg);
}

Test(config, serial_modes_and_empty_lists)
{
	struct vm_config cfg;

	load_ok(&cfg, "[serial]\nmode = 'none'\n[cpu]\nhide = []\n");
	cr_assert_eq(cfg.serial_mode, SERIAL_NONE);
	cr_assert_eq(cfg.ncpu_hide, 0);
	config_free(&cfg);
	load_ok(&cfg, "[serial]\nmode = 'stdio'\n[vm]\ncmdline = ''\n");
	cr_assert_eq(cfg.serial_mode, SERIAL_STDIO);
	cr_assert_str_eq(cfg.cmdline, "");
	config_free(&cfg);
}

Test(config, second_file_overrides_the_first)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/full.toml", err, sizeof(err)), 0);
	write_cfg("[vm]\nkernel = 'k'\n[cpu]\nhide = ['avx']\n");
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ncpu_hide, 1);
	cr_assert_str_eq(cfg.cpu_hide[0], "avx");
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_str_eq(cfg.config_path, path);
	config_free(&cfg);
}

/* Paths */

Test(config, relative_paths_from_the_config_dir)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/paths.toml", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.kernel, CONFIGS "/bzImage");
	cr_assert_str_eq(cfg.initrd, CONFIGS "/../initrd.img");
	cr_assert_str_eq(cfg.serial_path, CONFIGS "/logs/console.log");
	config_free(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/absolute.toml", err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.kernel, "/abs/bzImage");
	config_free(&cfg);
}

Test(config, config_in_the_cwd_keeps_paths_relative)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	write_cfg("[vm]\nkernel = 'bzImage'\n");
	cr_assert_eq(chdir(dir), 0);
	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, "vm.toml", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.kernel, "bzImage");
	config_free(&cfg);
	cr_assert_eq(config_load_file(&cfg, "./vm.toml", err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.kernel, "./bzImage");
	config_free(&cfg);
}

/* Errors: structure */

Test(config, unknown_key)
{
	load_err(
	    "[vm]\ncpus = 2\ncolour = \"blue\"\n",
	    "3:1: unknown key 'colour' in [vm] (known: name, cpus, memory_mib, kernel, initrd, "
	    "cmdline, control_socket)");
	load_err("[serial]\nmod = 'file'\n",
		 "2:1: unknown key 'mod' in [serial] (known: mode, path)");
	load_err("[vm.extra]\n", "1:5: unknown key 'extra' in [vm] (known: name, cpus, memory_mib, "
				 "kernel, initrd, cmdline, control_socket)");
}

Test(config, unknown_section)
{
	load_err("[vm]\ncpus = 1\n\n[network]\n",
		 "4:2: unknown table [network] (known: vm, serial, cpu, rng, balloon, pci, jail, disk, net)");
	load_err("[[nic]]\npath = 'x'\n",
		 "1:3: unknown table [nic] (known: vm, serial, cpu, rng, balloon, pci, jail, disk, net)");
}

Test(config, key_outside_a_table)
{
	load_err("cpus = 2\n[vm]\n",
		 "1:1: key 'cpus' must be in a table (known: vm, serial, cpu, rng, balloon, pci, jail, disk, net)");
}

Test(config, section_not_a_table)
{
	load_err("vm = 1\n", "1:1: [vm] must be a table, not an integer");
	load_err("[[vm]]\n", "1:3: [vm] must be a table, not an array of tables");
	load_err("[[rng]]\n", "1:3: [rng] must be a table, not an array of tables");
}

Test(config, toml_errors_pass_through)
{
	load_err("[vm\n", "1:4: expected ']' to close the table header, found end of line");
	load_err("[vm]\ncpus = 2\ncpus = 3\n", "3:1: duplicate key 'cpus' (first defined at 2:1)");
	load_err("[vm]\nmemory_mib = 1.5\n", "2:14: floats are not supported");
}

/* Errors: types */

Test(config, wrong_types)
{
	load_err("[vm]\ncpus = 2\nmemory_mib = \"lots\"\n",
		 "3:14: [vm] memory_mib: must be an integer, not a string");
	load_err("[vm]\nkernel = 5\n", "2:10: [vm] kernel: must be a string, not an integer");
	load_err("[vm]\ncpus = true\n", "2:8: [vm] cpus: must be an integer, not a boolean");
	load_err("[vm]\nname = ['a']\n", "2:8: [vm] name: must be a string, not an array");
	load_err("[serial]\nmode = 1\n", "2:8: [serial] mode: must be a string, not an integer");
	load_err("[cpu]\nhide = \"xsave\"\n", "2:8: [cpu] hide: must be an array, not a string");
	load_err("[cpu]\nhide = [\n  'xsave',\n  1,\n]\n",
		 "4:3: [cpu] hide: elements must be strings, not an integer");
	load_err("[cpu]\nhide = [['xsave']]\n",
		 "2:9: [cpu] hide: elements must be strings, not an array");
	load_err("[rng]\nenabled = \"yes\"\n",
		 "2:11: [rng] enabled: must be a boolean, not a string");
	load_err("[rng]\nenabled = 1\n", "2:11: [rng] enabled: must be a boolean, not an integer");
	load_err("[[disk]]\npath = 'a'\nread_only = 'true'\n",
		 "3:13: [[disk]] read_only: must be a boolean, not a string");
	load_err("[[disk]]\npath = 5\n", "2:8: [[disk]] path: must be a string, not an integer");
	load_err("[[disk]]\npath = 'a'\nid = 7\n",
		 "3:6: [[disk]] id: must be a string, not an integer");
}

/* Errors: values */

Test(config, cpus_range)
{
	load_err("[vm]\ncpus = 0\n", "2:8: [vm] cpus: must be at least 1, got 0");
	load_err("[vm]\ncpus = -3\n", "2:8: [vm] cpus: must be at least 1, got -3");
	load_err("[vm]\ncpus = 256\n", "2:8: [vm] cpus: must be at most 255, got 256");
}

Test(config, cpus_edges)
{
	struct vm_config cfg;

	load_ok(&cfg, "[vm]\ncpus = 255\n");
	cr_assert_eq(cfg.cpus, 255);
	config_free(&cfg);
}

Test(config, memory_too_small_or_large)
{
	struct vm_config cfg;

	load_err("[vm]\nmemory_mib = 63\n", "2:14: [vm] memory_mib: must be at least 64, got 63");
	load_err("[vm]\nmemory_mib = 0x1000_0000_0000\n",
		 "2:14: [vm] memory_mib: must be at most 17592186044415, got 17592186044416");
	load_ok(&cfg, "[vm]\nmemory_mib = 64\n");
	cr_assert_eq(cfg.memory_mib, 64);
	config_free(&cfg);
}

Test(config, cpu_hide_unknown_name)
{
	char want[CONFIG_ERR_MAX];

	snprintf(want, sizeof(want), "2:18: [cpu] hide: unknown CPU feature 'bogus' (known: %s)",
		 cpuid_feature_names());
	load_err("[cpu]\nhide = ['xsave', 'bogus']\n", want);
	snprintf(want, sizeof(want), "2:9: [cpu] hide: unknown CPU feature 'XSAVE' (known: %s)",
		 cpuid_feature_names());
	load_err("[cpu]\nhide = ['XSAVE']\n", want);
}

Test(config, serial_mode_unknown)
{
	load_err("[serial]\nmode = \"tcp\"\n",
		 "2:8: [serial] mode: must be one of \"stdio\", \"file\", \"none\", got \"tcp\"");
}

Test(config, empty_and_long_strings)
{
	char *text = malloc(70000);

	load_err("[vm]\nkernel = ''\n", "2:10: [vm] kernel: must not be empty");
	load_err("[vm]\nname = \"\"\n", "2:8: [vm] name: must not be empty");
	load_err("[serial]\npath = ''\n", "2:8: [serial] path: must not be empty");
	cr_assert_not_null(text);
	strcpy(text, "[vm]\ncmdline = '");
	memset(text + strlen(text), 'x', 65536);
	strcpy(text + 16 + 65536, "'\n");
	load_err(text, "2:11: [vm] cmdline: longer than 65535 bytes");
	free(text);
}

/* [[disk]] and [rng] */

Test(config, disks_in_order_with_paths_from_the_config_dir)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/disks.toml", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ndisks, 3);
	cr_assert_str_eq(cfg.disks[0].path, CONFIGS "/root.img");
	cr_assert_not(cfg.disks[0].read_only);
	cr_assert_str_eq(cfg.disks[0].id, "root");
	cr_assert_eq(cfg.disks[0].origin.line, 5);
	cr_assert_eq(cfg.disks[0].origin.col, 3);
	cr_assert_str_eq(cfg.disks[1].path, "/abs/data.img");
	cr_assert(cfg.disks[1].read_only);
	cr_assert_null(cfg.disks[1].id);
	cr_assert_eq(cfg.disks[1].origin.line, 9);
	cr_assert_str_eq(cfg.disks[2].path, CONFIGS "/../images/scratch.img");
	cr_assert_not(cfg.disks[2].read_only);
	cr_assert_str_eq(cfg.disks[2].id, "scratch-0");
	cr_assert_eq(cfg.disks[2].origin.line, 16);
	cr_assert(cfg.rng_enabled);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	config_free(&cfg);
	cr_assert_null(cfg.disks);
	cr_assert_eq(cfg.ndisks, 0);
}

Test(config, disk_defaults_and_rng_off)
{
	struct vm_config cfg;

	load_ok(&cfg, "[rng]\nenabled = false\n[[disk]]\npath = 'd.img'\n");
	cr_assert_not(cfg.rng_enabled);
	cr_assert_eq(cfg.ndisks, 1);
	cr_assert_not_null(strstr(cfg.disks[0].path, "/d.img"));
	cr_assert_not(cfg.disks[0].read_only);
	cr_assert_null(cfg.disks[0].id);
	config_free(&cfg);
	load_ok(&cfg, "[rng]\nenabled = true\n");
	cr_assert(cfg.rng_enabled);
	cr_assert_eq(cfg.ndisks, 0);
	config_free(&cfg);
}

Test(config, disk_path_relative_to_the_config_dir)
{
	struct vm_config cfg;
	char want[256];

	load_ok(&cfg, "[[disk]]\npath = 'd.img'\n[[disk]]\npath = '/abs/e.img'\n");
	snprintf(want, sizeof(want), "%s/d.img", dir);
	cr_assert_str_eq(cfg.disks[0].path, want);
	cr_assert_str_eq(cfg.disks[1].path, "/abs/e.img");
	config_free(&cfg);
}

Test(config, disk_id_edges)
{
	struct vm_config cfg;

	load_ok(
	    &cfg,
	    "[[disk]]\npath = 'a'\nid = '12345678901234567890'\n"
	    "[[disk]]\npath = 'b'\nid = ' ~x-_.:/'\n[[disk]]\npath = 'c'\n[[disk]]\npath = 'd'\n");
	cr_assert_eq(cfg.ndisks, 4);
	cr_assert_str_eq(cfg.disks[0].id, "12345678901234567890");
	cr_assert_str_eq(cfg.disks[1].id, " ~x-_.:/");
	/* two disks without an id do not clash */
	cr_assert_null(cfg.disks[2].id);
	cr_assert_null(cfg.disks[3].id);
	config_free(&cfg);
}

/* n [[disk]] tables of two lines each: the k-th header is at line 2k - 1, column 3. */
static char *many_disks(int n)
{
	char *text = malloc((size_t)n * 32 + 1), *p = text;

	cr_assert_not_null(text);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "[[disk]]\npath = 'd%d.img'\n", i);
	*p = '\0';
	return text;
}

Test(config, sixteen_disks_but_not_seventeen)
{
	struct vm_config cfg;
	char *text = many_disks(CONFIG_DISKS_MAX);

	load_ok(&cfg, text);
	cr_assert_eq(cfg.ndisks, 16);
	cr_assert(strstr(cfg.disks[15].path, "/d15.img"));
	config_free(&cfg);
	free(text);
	text = many_disks(CONFIG_DISKS_MAX + 1);
	load_err(text, "33:3: too many [[disk]] tables (at most 16)");
	free(text);
}

Test(config, disk_without_a_path)
{
	load_err("[[disk]]\nid = 'x'\n", "1:3: [[disk]] needs a path");
	load_err("[[disk]]\npath = 'a'\n\n  [[ disk ]]\nread_only = true\n",
		 "4:6: [[disk]] needs a path");
	load_err("[[disk]]\n", "1:3: [[disk]] needs a path");
}

Test(config, disk_unknown_key)
{
	load_err("[[disk]]\npath = 'a'\nsize = 1\n",
		 "3:1: unknown key 'size' in [[disk]] (known: path, read_only, id)");
	load_err("[[disk]]\npath = 'a'\n[[disk]]\npath = 'b'\nreadonly = true\n",
		 "5:1: unknown key 'readonly' in [[disk]] (known: path, read_only, id)");
	load_err("[[disk]]\npath = 'a'\n[disk.opts]\n",
		 "3:7: unknown key 'opts' in [[disk]] (known: path, read_only, id)");
	load_err("[rng]\nenable = true\n", "2:1: unknown key 'enable' in [rng] (known: enabled)");
}

Test(config, disk_as_a_plain_table)
{
	load_err("[disk]\npath = 'a'\n", "1:2: [disk] must be an array of tables: write [[disk]]");
	load_err("[vm]\nkernel = 'k'\n[disk.x]\n",
		 "3:2: [disk] must be an array of tables: write [[disk]]");
	load_err("disk = 'a.img'\n", "1:1: [disk] must be an array of tables: write [[disk]]");
	load_err("disk = []\n", "1:1: [disk] must be an array of tables: write [[disk]]");
}

Test(config, disk_duplicate_id)
{
	load_err("[[disk]]\npath = 'a'\nid = 'data'\n\n[[disk]]\npath = 'b'\nid = 'data'\n",
		 "7:6: [[disk]] id: 'data' is already the id of the [[disk]] at 1:3");
	load_err("[[disk]]\npath = 'a'\nid = 'x'\n[[disk]]\npath = 'b'\nid = 'y'\n"
		 "[[disk]]\nid = 'y'\npath = 'c'\n",
		 "8:6: [[disk]] id: 'y' is already the id of the [[disk]] at 4:3");
}

Test(config, disk_bad_values)
{
	load_err("[[disk]]\npath = ''\n", "2:8: [[disk]] path: must not be empty");
	load_err("[[disk]]\npath = 'a'\nid = ''\n", "3:6: [[disk]] id: must not be empty");
	load_err("[[disk]]\npath = 'a'\nid = '123456789012345678901'\n",
		 "3:6: [[disk]] id: longer than 20 bytes");
	load_err("[[disk]]\npath = 'a'\nid = \"a\\tb\"\n",
		 "3:6: [[disk]] id: must be printable ASCII");
	load_err("[[disk]]\npath = 'a'\nid = \"d\\u00e9\"\n",
		 "3:6: [[disk]] id: must be printable ASCII");
	load_err("[[disk]]\npath = 'a'\nid = \"a\\u007fb\"\n",
		 "3:6: [[disk]] id: must be printable ASCII");
}

Test(config, second_file_replaces_the_disks)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, CONFIGS "/disks.toml", err, sizeof(err)), 0, "%s", err);
	write_cfg("[vm]\ncpus = 2\n");
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ndisks, 3);
	write_cfg("[[disk]]\npath = '/x.img'\nid = 'root'\n");
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ndisks, 1);
	cr_assert_str_eq(cfg.disks[0].path, "/x.img");
	/* a failing file leaves the disks it had */
	write_cfg("[[disk]]\npath = '/y.img'\nid = 'data'\n[[disk]]\n");
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg.ndisks, 1);
	cr_assert_str_eq(cfg.disks[0].path, "/x.img");
	config_free(&cfg);
}

/* Errors: the file itself */

Test(config, missing_file)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	snprintf(want, sizeof(want), "%s/nope.toml: No such file or directory", dir);
	config_init(&cfg);
	snprintf(path, sizeof(path), "%s/nope.toml", dir);
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, want);
	cr_assert_null(cfg.config_path);
	config_free(&cfg);
}

Test(config, directory_is_not_a_config)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, dir, err, sizeof(err)), -ENODEV);
	cr_assert_str_eq(err, want);
	config_free(&cfg);
}

Test(config, error_buffer_is_truncated_not_overrun)
{
	struct vm_config cfg;
	char err[16];

	config_init(&cfg);
	write_cfg("[vm]\ncpus = 0\n");
	cr_assert_eq(config_load_file(&cfg, path, err, sizeof(err)), -EINVAL);
	cr_assert_eq(strlen(err), sizeof(err) - 1);
	config_free(&cfg);
}

/* After the merge */

Test(config, missing_kernel)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	load_ok(&cfg, "[vm]\ncpus = 2\n");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: no kernel: set [vm] kernel or --kernel");
	config_free(&cfg);
}

Test(config, serial_file_without_path)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	load_ok(&cfg, "[vm]\nkernel = '/k'\n[serial]\nmode = \"file\"\n");
	snprintf(want, sizeof(want),
		 "%s:4:8: [serial] mode: \"file\" needs a path: set [serial] path", path);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, want);
	config_free(&cfg);
}

Test(config, serial_file_without_path_not_from_a_file)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_set_flag(&cfg, "vm.kernel", "--kernel", "k", err, sizeof(err)), 0);
	cr_assert_eq(config_set_flag(&cfg, "serial.mode", "--serial", "file", err, sizeof(err)), 0);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --serial: \"file\" needs a path: set [serial] path");
	config_free(&cfg);
}

/* Flags */

Test(config, flags_set_and_check_values)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "8", err, sizeof(err)), 0);
	cr_assert_eq(cfg.cpus, 8);
	cr_assert_eq(config_set_flag(&cfg, "vm.memory_mib", "--memory", "4096", err, sizeof(err)),
		     0);
	cr_assert_eq(cfg.memory_mib, 4096);
	cr_assert_eq(
	    config_set_flag(&cfg, "vm.kernel", "--kernel", "rel/bzImage", err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.kernel, "rel/bzImage");
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "x", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --cpus: 'x' is not a number");
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --cpus: '' is not a number");
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "-1", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --cpus: '-1' is not a number");
	cr_assert_eq(
	    config_set_flag(&cfg, "vm.cpus", "--cpus", "99999999999999999999", err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "vmm: --cpus: '99999999999999999999' is out of range");
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "0", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --cpus: must be at least 1, got 0");
	cr_assert_eq(config_set_flag(&cfg, "vm.memory_mib", "--memory", "16", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: --memory: must be at least 64, got 16");
	cr_assert_eq(cfg.cpus, 8);
	config_free(&cfg);
}

Test(config, flag_for_an_unknown_or_list_key)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	cr_assert_eq(config_set_flag(&cfg, "vm.colour", "--colour", "x", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: --colour: no config key 'vm.colour'");
	cr_assert_eq(config_set_flag(&cfg, "nodot", "--x", "x", err, sizeof(err)), -EINVAL);
	cr_assert_eq(config_set_flag(&cfg, "cpu.hide", "--hide", "avx", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --hide: cannot be set from the command line");
	config_free(&cfg);
}

Test(config, flag_overrides_file)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	load_ok(&cfg, "[vm]\nkernel = '/k'\ncpus = 2\n");
	cr_assert_eq(config_set_flag(&cfg, "vm.cpus", "--cpus", "3", err, sizeof(err)), 0);
	cr_assert_eq(cfg.cpus, 3);
	cr_assert_str_eq(cfg.kernel, "/k");
	config_free(&cfg);
}

Test(config, flags_add_disks_after_the_files)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	load_ok(&cfg, "[[disk]]\npath = '/a.img'\nid = 'data'\n");
	cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_flag(&cfg, "disk.path", "--disk", "rel.img", err, sizeof(err)), 0);
	cr_assert_eq(config_set_flag(&cfg, "disk.read_only", "--disk", "true", err, sizeof(err)),
		     0);
	cr_assert_eq(config_set_flag(&cfg, "disk.id", "--disk", "two", err, sizeof(err)), 0);
	cr_assert_eq(cfg.ndisks, 2);
	cr_assert_str_eq(cfg.disks[0].path, "/a.img");
	cr_assert_str_eq(cfg.disks[1].path, "rel.img"); /* a flag's path: from the cwd */
	cr_assert(cfg.disks[1].read_only);
	cr_assert_str_eq(cfg.disks[1].id, "two");
	cr_assert_str_eq(cfg.disks[1].origin.flag, "--disk");
	cr_assert_eq(cfg.disks[1].origin.line, 0);
	cr_assert_eq(config_set_flag(&cfg, "disk.read_only", "--disk", "false", err, sizeof(err)),
		     0);
	cr_assert_not(cfg.disks[1].read_only);
	cr_assert_not(cfg.disks[0].read_only);
	config_free(&cfg);
}

Test(config, flag_disk_errors)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];

	load_ok(&cfg, "[[disk]]\npath = '/a.img'\nid = 'data'\n");
	cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_flag(&cfg, "disk.id", "--disk", "data", err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "vmm: --disk: id: 'data' is already the id of the [[disk]] at %s:1:3", path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(config_set_flag(&cfg, "disk.id", "--disk", "b", err, sizeof(err)), 0);
	cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_set_flag(&cfg, "disk.id", "--disk", "b", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: id: 'b' is already the id of an earlier --disk");
	cr_assert_eq(config_set_flag(&cfg, "disk.read_only", "--disk", "yes", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: read_only: 'yes' is not true or false");
	cr_assert_eq(
	    config_set_flag(&cfg, "disk.id", "--disk", "012345678901234567890", err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: id: longer than 20 bytes");
	cr_assert_eq(config_set_flag(&cfg, "disk.id", "--disk", "a\x01", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: id: must be printable ASCII");
	cr_assert_eq(config_set_flag(&cfg, "disk.path", "--disk", "", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: path: must not be empty");
	cr_assert_eq(config_set_flag(&cfg, "disk.size", "--disk", "1", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: no config key 'disk.size'");
	config_free(&cfg);
}

Test(config, flag_disk_limits)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	config_init(&cfg);
	/* nothing to set a key in before config_append */
	cr_assert_eq(config_set_flag(&cfg, "disk.path", "--disk", "a", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: no config key 'disk.path'");
	cr_assert_eq(config_append(&cfg, "nic", "--nic", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --nic: no config table [[nic]]");
	for (int i = 0; i < CONFIG_DISKS_MAX; i++) {
		cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(config_set_flag(&cfg, "disk.path", "--disk", "d", err, sizeof(err)),
			     0);
	}
	cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: too many disks (at most 16)");
	cr_assert_eq(cfg.ndisks, 16);
	config_free(&cfg);
}

Test(config, flag_disk_after_a_full_file)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];
	char *text = many_disks(CONFIG_DISKS_MAX);

	load_ok(&cfg, text);
	free(text);
	cr_assert_eq(config_append(&cfg, "disk", "--disk", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "vmm: --disk: too many disks (at most 16)");
	config_free(&cfg);
}

Test(config, flag_rng)
{
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	load_ok(&cfg, "[rng]\nenabled = true\n");
	cr_assert_eq(config_set_flag(&cfg, "rng.enabled", "--no-rng", "false", err, sizeof(err)),
		     0);
	cr_assert_not(cfg.rng_enabled);
	cr_assert_eq(config_set_flag(&cfg, "rng.enabled", "--rng", "TRUE", err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "vmm: --rng: 'TRUE' is not true or false");
	cr_assert_not(cfg.rng_enabled);
	config_free(&cfg);
}

/* The example the project ships, when it is there. */
Test(config, example_vm_toml_loads)
{
	const char *example = TEST_DATA_DIR "/../../examples/vm.toml";
	struct vm_config cfg;
	char err[CONFIG_ERR_MAX];

	cr_assert_eq(access(example, R_OK), 0, "examples/vm.toml is readable");
	config_init(&cfg);
	cr_assert_eq(config_load_file(&cfg, example, err, sizeof(err)), 0, "%s", err);
	config_free(&cfg);
}

/* [jail] */

Test(config, jail_defaults)
{
	struct vm_config cfg;

	load_ok(&cfg, "[vm]\ncpus = 1\n");
	cr_assert(cfg.jail.enabled);
	cr_assert_eq(cfg.jail.uid, 65534);
	cr_assert_eq(cfg.jail.gid, 65534);
	cr_assert_eq(cfg.jail.seccomp, JAIL_SECCOMP_KILL);
	cr_assert_null(cfg.jail.policy_dir);
	config_free(&cfg);
}

Test(config, jail_keys)
{
	struct vm_config cfg;
	char want[256];

	load_ok(&cfg, "[jail]\nenabled = false\nuid = 1000\ngid = 1001\nseccomp = \"log\"\n"
		      "policy_dir = 'pol'\n");
	cr_assert_not(cfg.jail.enabled);
	cr_assert_eq(cfg.jail.uid, 1000);
	cr_assert_eq(cfg.jail.gid, 1001);
	cr_assert_eq(cfg.jail.seccomp, JAIL_SECCOMP_LOG);
	snprintf(want, sizeof(want), "%s/pol", dir);
	cr_assert_str_eq(cfg.jail.policy_dir, want);
	config_free(&cfg);
}

Test(config, jail_bad_values)
{
	/* learning is `vmm policy learn`, not a setting */
	load_err("[jail]\nseccomp = \"learn\"\n",
		 "2:11: [jail] seccomp: must be one of \"kill\", \"log\", got \"learn\"");
	/* root in the jail would keep the host's root's files */
	load_err("[jail]\nuid = 0\n", "2:7: [jail] uid: must be at least 1, got 0");
	load_err("[jail]\ngid = 0\n", "2:7: [jail] gid: must be at least 1, got 0");
	load_err("[jail]\nenabled = 1\n", "2:11: [jail] enabled: must be a boolean, not an integer");
	load_err("[jail]\nroot = '/'\n",
		 "2:1: unknown key 'root' in [jail] (known: enabled, uid, gid, policy_dir, seccomp)");
}

Test(config, balloon_and_control_socket)
{
	struct vm_config cfg;

	load_ok(&cfg, "[vm]\ncpus = 1\n");
	cr_assert_not(cfg.balloon_enabled);
	cr_assert_null(cfg.control_socket);
	config_free(&cfg);
	load_ok(&cfg, "[vm]\ncontrol_socket = '/run/vmm/a.sock'\n[balloon]\nenabled = true\n"
		      "deflate_on_oom = true\nstats_interval_s = 5\n");
	cr_assert(cfg.balloon_enabled);
	cr_assert(cfg.balloon_deflate_on_oom);
	cr_assert_eq(cfg.balloon_stats_interval_s, 5);
	cr_assert_str_eq(cfg.control_socket, "/run/vmm/a.sock");
	config_free(&cfg);
	load_err("[balloon]\nstats_interval_s = 3601\n",
		 "2:20: [balloon] stats_interval_s: must be at most 3600, got 3601");
}

Test(config, nets_and_hotplug_slots)
{
	struct vm_config cfg;
	const char *text = "[pci]\nhotplug_slots = 4\n"
			   "[[net]]\ntap = 'tap0'\nmac = '52:54:00:12:34:56'\n"
			   "host_ip = '169.254.100.1/24'\nmtu = 1500\n"
			   "[[net]]\ntap = 'tap1'\ncreate = true\n";

	config_init(&cfg);
	cr_assert_eq(cfg.hotplug_slots, 0);
	load_ok(&cfg, text);
	cr_assert_eq(cfg.hotplug_slots, 4);
	cr_assert_eq(cfg.nnets, 2);
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert_str_eq(cfg.nets[0].mac, "52:54:00:12:34:56");
	cr_assert_str_eq(cfg.nets[0].host_ip, "169.254.100.1/24");
	cr_assert_eq(cfg.nets[0].mtu, 1500);
	cr_assert_not(cfg.nets[0].create);
	cr_assert_eq(cfg.nets[0].origin.line, 3);
	cr_assert_str_eq(cfg.nets[1].tap, "tap1");
	cr_assert(cfg.nets[1].create);
	cr_assert_null(cfg.nets[1].mac);
	cr_assert_null(cfg.nets[1].host_ip);
	cr_assert_eq(cfg.nets[1].mtu, 0);
	config_free(&cfg);
	cr_assert_null(cfg.nets);
	cr_assert_eq(cfg.nnets, 0);
}

Test(config, net_errors)
{
	load_err("[[net]]\nmac = '52:54:00:12:34:56'\n", "1:3: [[net]] needs a tap");
	load_err("[[net]]\ntap = 'tap0'\n[[net]]\ntap = 'tap0'\n",
		 "4:7: [[net]] tap: 'tap0' is already the tap of the [[net]] at 1:3");
	load_err("[[net]]\ntap = 'a/b'\n",
		 "2:7: [[net]] tap: is not an interface name (no '/', ':', spaces or control bytes)");
	load_err("[[net]]\ntap = 'a-very-long-name0'\n",
		 "2:7: [[net]] tap: longer than 15 bytes");
	load_err("[[net]]\ntap = 't'\nmac = '52:54:00:12:34:5g'\n",
		 "3:7: [[net]] mac: must be six hex bytes like \"52:54:00:12:34:56\"");
	load_err("[[net]]\ntap = 't'\nmac = '01:54:00:12:34:56'\n",
		 "3:7: [[net]] mac: is a multicast address (the first byte must be even)");
	load_err("[[net]]\ntap = 't'\nhost_ip = '169.254.100.1'\n",
		 "3:11: [[net]] host_ip: must be an IPv4 address with a prefix length, like "
		 "\"169.254.100.1/24\"");
	load_err("[[net]]\ntap = 't'\nhost_ip = '169.254.300.1/24'\n",
		 "3:11: [[net]] host_ip: must be an IPv4 address with a prefix length, like "
		 "\"169.254.100.1/24\"");
	load_err("[[net]]\ntap = 't'\nhost_ip = '169.254.100.1/33'\n",
		 "3:11: [[net]] host_ip: must be an IPv4 address with a prefix length, like "
		 "\"169.254.100.1/24\"");
	load_err("[[net]]\ntap = 't'\nmtu = 20\n",
		 "3:7: [[net]] mtu: must be at least 68, got 20");
	load_err("[pci]\nhotplug_slots = 9\n", "2:17: [pci] hotplug_slots: must be at most 8, got 9");
}
