#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid.h"
#include "layout.h"
#include "toml.h"
#include "util.h"

enum key_kind { KIND_STRING, KIND_PATH, KIND_UINT, KIND_U64, KIND_BOOL, KIND_ENUM, KIND_LIST };

/*
 * One vm.toml key: `[section] name`, stored at `off` in struct vm_config, or in one element
 * of an array of tables (struct config_array).
 */
struct config_key {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off;
	int64_t min, max;		     /* integers: the range; strings: the length in bytes */
	const char *(*check)(const char *s); /* strings: NULL, or what is wrong with s */
	bool required;			     /* in an array's element: each must set it */
	bool unique;			     /* in an array's element: no two may share it */
	const char *const *choices;	     /* KIND_ENUM: names by value, NULL-terminated */
	size_t count_off;		     /* KIND_LIST: where the element count goes */
	bool (*known)(const char *s);	     /* KIND_LIST: accepts one element */
	const char *(*known_names)(void);    /* KIND_LIST: for the error */
	const char *noun;		     /* KIND_LIST: what one element is */
};

struct key_table {
	const struct config_key *rows;
	size_t n;
};

/*
 * An array of tables ([[disk]]): each table is one element of `size` bytes in an array of
 * `max` slots at `off` in struct vm_config (count at `count_off`), with keys of its own.
 * Elements start zeroed.
 */
struct config_array {
	const char *section;
	const char *plural; /* "disks", for the flags' error */
	struct key_table keys;
	size_t off, count_off;
	size_t size, origin_off; /* of one element; its struct config_origin */
	size_t max;
};

static const char *const seccomp_modes[] = {
	[JAIL_SECCOMP_KILL] = "kill", [JAIL_SECCOMP_LOG] = "log", NULL,
};

static const char *const serial_modes[] = {
	[SERIAL_STDIO] = "stdio", [SERIAL_FILE] = "file", [SERIAL_NONE] = "none", NULL,
};

#define OFF(field) offsetof(struct vm_config, field)

/* virtio-blk's serial ends up in the guest's /dev/disk/by-id names: no control or 8-bit bytes */
static const char *check_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return "must be printable ASCII";
	return NULL;
}

/* A Linux interface name: what the kernel's dev_valid_name() accepts. */
static const char *check_ifname(const char *s)
{
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return "is not an interface name";
	for (; *s; s++)
		if (*s == '/' || *s == ':' || (unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return "is not an interface name (no '/', ':', spaces or control bytes)";
	return NULL;
}

static const char *check_mac(const char *s)
{
	unsigned int b[6];
	char end;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &end) != 6)
		return "must be six hex bytes like \"52:54:00:12:34:56\"";
	for (int i = 0; i < 6; i++)
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]))
			return "must be six hex bytes like \"52:54:00:12:34:56\"";
	if (b[0] & 1)
		return "is a multicast address (the first byte must be even)";
	if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0)
		return "must not be all zeros";
	return NULL;
}

/* "169.254.100.1/24": an IPv4 address and a prefix length. */
static const char *check_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET_ADDRSTRLEN], *end;
	struct in_addr in;
	long len;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return "must be an IPv4 address with a prefix length, like \"169.254.100.1/24\"";
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &in) != 1 || !isdigit((unsigned char)slash[1]) || *end ||
	    errno || len < 1 || len > 32)
		return "must be an IPv4 address with a prefix length, like \"169.254.100.1/24\"";
	return NULL;
}

/* Adding a key to vm.toml is adding a row here (and its field in struct vm_config). */
/* clang-format off */
static const struct config_key keys[] = {
	{.section = "vm", .name = "name", .kind = KIND_STRING, .off = OFF(name),
	 .min = 1, .max = 255},
	/* checked against KVM's limit later */
	{.section = "vm", .name = "cpus", .kind = KIND_UINT, .off = OFF(cpus),
	 .min = 1, .max = 255},
	/* the top keeps MiB -> bytes from overflowing; the host's limit is checked later */
	{.section = "vm", .name = "memory_mib", .kind = KIND_U64, .off = OFF(memory_mib),
	 .min = MEM_MIN_MIB, .max = (int64_t)(UINT64_MAX >> 20)},
	{.section = "vm", .name = "kernel", .kind = KIND_PATH, .off = OFF(kernel),
	 .min = 1, .max = PATH_MAX - 1},
	{.section = "vm", .name = "initrd", .kind = KIND_PATH, .off = OFF(initrd),
	 .min = 1, .max = PATH_MAX - 1},
	{.section = "vm", .name = "cmdline", .kind = KIND_STRING, .off = OFF(cmdline),
	 .min = 0, .max = BOOT_CMDLINE_MAX - 1},
	/* a sockaddr_un path */
	{.section = "vm", .name = "control_socket", .kind = KIND_PATH, .off = OFF(control_socket),
	 .min = 1, .max = 107},
	{.section = "serial", .name = "mode", .kind = KIND_ENUM, .off = OFF(serial_mode),
	 .choices = serial_modes},
	{.section = "serial", .name = "path", .kind = KIND_PATH, .off = OFF(serial_path),
	 .min = 1, .max = PATH_MAX - 1},
	{.section = "cpu", .name = "hide", .kind = KIND_LIST, .off = OFF(cpu_hide),
	 .count_off = OFF(ncpu_hide), .known = cpuid_feature_known,
	 .known_names = cpuid_feature_names, .noun = "CPU feature"},
	{.section = "rng", .name = "enabled", .kind = KIND_BOOL, .off = OFF(rng_enabled)},
	{.section = "balloon", .name = "enabled", .kind = KIND_BOOL, .off = OFF(balloon_enabled)},
	{.section = "balloon", .name = "deflate_on_oom", .kind = KIND_BOOL,
	 .off = OFF(balloon_deflate_on_oom)},
	{.section = "balloon", .name = "stats_interval_s", .kind = KIND_UINT,
	 .off = OFF(balloon_stats_interval_s), .min = 0, .max = 3600},
	{.section = "pci", .name = "hotplug_slots", .kind = KIND_UINT, .off = OFF(hotplug_slots),
	 .min = 0, .max = CONFIG_HOTPLUG_SLOTS_MAX},
	{.section = "jail", .name = "enabled", .kind = KIND_BOOL, .off = OFF(jail.enabled)},
	{.section = "jail", .name = "uid", .kind = KIND_UINT, .off = OFF(jail.uid),
	 .min = 1, .max = UINT32_MAX - 1},
	{.section = "jail", .name = "gid", .kind = KIND_UINT, .off = OFF(jail.gid),
	 .min = 1, .max = UINT32_MAX - 1},
	{.section = "jail", .name = "policy_dir", .kind = KIND_PATH, .off = OFF(jail.policy_dir),
	 .min = 1, .max = PATH_MAX - 1},
	{.section = "jail", .name = "seccomp", .kind = KIND_ENUM, .off = OFF(jail.seccomp),
	 .choices = seccomp_modes},
};

#define DISK(field) offsetof(struct disk_config, field)

static const struct config_key disk_keys[] = {
	{.section = "disk", .name = "path", .kind = KIND_PATH, .off = DISK(path),
	 .min = 1, .max = PATH_MAX - 1, .required = true},
	{.section = "disk", .name = "read_only", .kind = KIND_BOOL, .off = DISK(read_only)},
	{.section = "disk", .name = "id", .kind = KIND_STRING, .off = DISK(id),
	 .min = 1, .max = CONFIG_DISK_ID_MAX, .check = check_printable, .unique = true},
};

#define NET(field) offsetof(struct net_config, field)

static const struct config_key net_keys[] = {
	{.section = "net", .name = "tap", .kind = KIND_STRING, .off = NET(tap),
	 .min = 1, .max = CONFIG_IFNAME_MAX, .check = check_ifname, .required = true,
	 .unique = true},
	{.section = "net", .name = "create", .kind = KIND_BOOL, .off = NET(create)},
	{.section = "net", .name = "mac", .kind = KIND_STRING, .off = NET(mac),
	 .min = 1, .max = 17, .check = check_mac, .unique = true},
	{.section = "net", .name = "host_ip", .kind = KIND_STRING, .off = NET(host_ip),
	 .min = 1, .max = 18, .check = check_cidr},
	{.section = "net", .name = "mtu", .kind = KIND_UINT, .off = NET(mtu),
	 .min = 68, .max = 65535},
};

/* Adding an array of tables is adding its key rows above and a row here. */
static const struct config_array arrays[] = {
	{.section = "disk", .plural = "disks", .keys = {disk_keys, ARRAY_SIZE(disk_keys)},
	 .off = OFF(disks), .count_off = OFF(ndisks), .size = sizeof(struct disk_config),
	 .origin_off = DISK(origin), .max = CONFIG_DISKS_MAX},
	{.section = "net", .plural = "NICs", .keys = {net_keys, ARRAY_SIZE(net_keys)},
	 .off = OFF(nets), .count_off = OFF(nnets), .size = sizeof(struct net_config),
	 .origin_off = NET(origin), .max = CONFIG_NETS_MAX},
};
/* clang-format on */

static const struct key_table top_keys = {keys, ARRAY_SIZE(keys)};

_Static_assert(ARRAY_SIZE(keys) <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");
_Static_assert(sizeof(enum serial_mode) == sizeof(int), "KIND_ENUM stores an int");

static const char default_name[] = "vmm";
static const char default_cmdline[] = "console=ttyS0 reboot=k panic=1";

/* Setting one key, from the file or from a flag. */
struct setter {
	struct vm_config *cfg;
	const struct config_key *key;
	void *base;			  /* what key->off is in: cfg, or an element */
	const struct config_array *array; /* base's array, or NULL */
	char *elems;			  /* base's array: base is elems[nelems] */
	size_t nelems;
	struct config_origin at; /* the value's position, or the flag */
	const char *dir;	 /* the config's directory with its '/', or NULL */
	char *err;
	size_t errlen;
};

/* Fields */

static void *field(void *base, size_t off)
{
	return (char *)base + off;
}

static void free_str(char *s)
{
	if (s != default_name && s != default_cmdline)
		free(s);
}

static void replace_str(void *base, size_t off, char *s)
{
	char **p = field(base, off);

	free_str(*p);
	*p = s;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

static void free_fields(void *base, const struct key_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct config_key *k = &t->rows[i];

		if (k->kind == KIND_STRING || k->kind == KIND_PATH)
			free_str(*(char **)field(base, k->off));
		else if (k->kind == KIND_LIST)
			free_list(*(char ***)field(base, k->off),
				  *(size_t *)field(base, k->count_off));
	}
}

/* Frees elements [0, n) of a's array and the array. */
static void free_elems(const struct config_array *a, char *elems, size_t n)
{
	for (size_t i = 0; elems && i < n; i++)
		free_fields(elems + i * a->size, &a->keys);
	free(elems);
}

/* Errors */

/* "[vm]", or "[[disk]]" for an array's element. */
static const char *section_name(const struct config_array *a, const char *section, char *buf,
				size_t len)
{
	snprintf(buf, len, a ? "[[%s]]" : "[%s]", section);
	return buf;
}

/*
 * "file:line:col: [sec] key: msg" at v (or at the key's origin), or "vmm: --flag: msg"
 * ("vmm: --flag: key: msg" in an array's element, whose flag sets several keys).
 */
__attribute__((format(printf, 3, 4))) static int
key_fail(const struct setter *s, const struct toml_value *v, const char *fmt, ...)
{
	struct config_origin o = s->at;
	char msg[CONFIG_ERR_MAX], sec[48];
	const char *name = s->key->name;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v) {
		o.line = v->line;
		o.col = v->col;
	}
	section_name(s->array, s->key->section, sec, sizeof(sec));
	if (o.flag && s->array)
		snprintf(s->err, s->errlen, "vmm: %s: %s: %s", o.flag, name, msg);
	else if (o.flag)
		snprintf(s->err, s->errlen, "vmm: %s: %s", o.flag, msg);
	else if (o.line && s->cfg->config_path)
		snprintf(s->err, s->errlen, "%s:%d:%d: %s %s: %s", s->cfg->config_path, o.line,
			 o.col, sec, name, msg);
	else
		snprintf(s->err, s->errlen, "vmm: %s %s: %s", sec, name, msg);
	return -EINVAL;
}

static int nomem(const struct setter *s)
{
	snprintf(s->err, s->errlen, "vmm: out of memory");
	return -ENOMEM;
}

/* Setters by kind */

static int check_len(const struct setter *s, const struct toml_value *v)
{
	size_t n = strlen(v->u.str);
	const char *wrong;

	if (n < (size_t)s->key->min)
		return key_fail(s, v, "must not be empty");
	if (n > (size_t)s->key->max)
		return key_fail(s, v, "longer than %lld bytes", (long long)s->key->max);
	wrong = s->key->check ? s->key->check(v->u.str) : NULL;
	if (wrong)
		return key_fail(s, v, "%s", wrong);
	return 0;
}

static int set_string(struct setter *s, const struct toml_value *v)
{
	int ret = check_len(s, v);
	char *dup;

	if (ret)
		return ret;
	dup = strdup(v->u.str);
	if (!dup)
		return nomem(s);
	replace_str(s->base, s->key->off, dup);
	return 0;
}

/* Relative paths in the file are relative to the file's directory, not to the cwd. */
static int set_path(struct setter *s, const struct toml_value *v)
{
	int ret = check_len(s, v);
	char *path;

	if (ret)
		return ret;
	if (s->dir && v->u.str[0] != '/')
		ret = asprintf(&path, "%s%s", s->dir, v->u.str);
	else
		ret = (path = strdup(v->u.str)) ? 0 : -1;
	if (ret < 0)
		return nomem(s);
	replace_str(s->base, s->key->off, path);
	return 0;
}

static int set_int(struct setter *s, const struct toml_value *v)
{
	const struct config_key *k = s->key;
	int64_t x = v->u.i;

	if (x < k->min)
		return key_fail(s, v, "must be at least %lld, got %lld", (long long)k->min,
				(long long)x);
	if (x > k->max)
		return key_fail(s, v, "must be at most %lld, got %lld", (long long)k->max,
				(long long)x);
	if (k->kind == KIND_UINT)
		*(unsigned int *)field(s->base, k->off) = (unsigned int)x;
	else
		*(uint64_t *)field(s->base, k->off) = (uint64_t)x;
	return 0;
}

static int set_bool(struct setter *s, const struct toml_value *v)
{
	*(bool *)field(s->base, s->key->off) = v->u.b;
	return 0;
}

static int set_enum(struct setter *s, const struct toml_value *v)
{
	const char *const *c = s->key->choices;
	char list[128] = "", shown[64];
	size_t off = 0;

	for (int i = 0; c[i]; i++) {
		if (strcmp(c[i], v->u.str) == 0) {
			memcpy(field(s->base, s->key->off), &i, sizeof(i));
			return 0;
		}
		if (off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
						i ? ", " : "", c[i]);
	}
	return key_fail(s, v, "must be one of %s, got \"%s\"", list,
			toml_printable(v->u.str, shown, sizeof(shown)));
}

static int check_element(const struct setter *s, const struct toml_value *e)
{
	const struct config_key *k = s->key;
	char shown[64];

	if (e->type != TOML_STRING)
		return key_fail(s, e, "elements must be strings, not %s", toml_type_name(e));
	if (!k->known(e->u.str))
		return key_fail(s, e, "unknown %s '%s' (known: %s)", k->noun,
				toml_printable(e->u.str, shown, sizeof(shown)), k->known_names());
	return 0;
}

static int set_list(struct setter *s, const struct toml_value *v)
{
	const struct toml_array *a = &v->u.arr;
	char **list = calloc(a->n + 1, sizeof(*list));
	size_t n;
	int ret;

	if (!list)
		return nomem(s);
	for (n = 0; n < a->n; n++) {
		ret = check_element(s, &a->items[n]);
		if (ret)
			goto err_free_list;
		list[n] = strdup(a->items[n].u.str);
		if (!list[n]) {
			ret = nomem(s);
			goto err_free_list;
		}
	}
	free_list(*(char ***)field(s->base, s->key->off),
		  *(size_t *)field(s->base, s->key->count_off));
	*(char ***)field(s->base, s->key->off) = list;
	*(size_t *)field(s->base, s->key->count_off) = n;
	return 0;
err_free_list:
	free_list(list, n);
	return ret;
}

static const struct kind_ops {
	enum toml_type type;
	const char *type_name;
	int (*set)(struct setter *s, const struct toml_value *v);
} kinds[] = {
	[KIND_STRING] = {TOML_STRING, "a string", set_string},
	[KIND_PATH] = {TOML_STRING, "a string", set_path},
	[KIND_UINT] = {TOML_INT, "an integer", set_int},
	[KIND_U64] = {TOML_INT, "an integer", set_int},
	[KIND_BOOL] = {TOML_BOOL, "a boolean", set_bool},
	[KIND_ENUM] = {TOML_STRING, "a string", set_enum},
	[KIND_LIST] = {TOML_ARRAY, "an array", set_list},
};

/* "the [[disk]] at 1:3" (at path:1:3 seen from a flag), or "an earlier --disk". */
static const char *origin_name(const struct setter *s, const struct config_origin *o, char *buf,
			       size_t len)
{
	if (o->flag)
		snprintf(buf, len, "an earlier %s", o->flag);
	else if (s->at.flag)
		snprintf(buf, len, "the [[%s]] at %s:%d:%d", s->array->section, s->cfg->config_path,
			 o->line, o->col);
	else
		snprintf(buf, len, "the [[%s]] at %d:%d", s->array->section, o->line, o->col);
	return buf;
}

/* A unique key's string must differ from the one in each earlier element. */
static int check_unique(const struct setter *s, const struct toml_value *v)
{
	const struct config_array *a = s->array;
	char shown[64], where[CONFIG_ERR_MAX / 2];

	for (size_t i = 0; i < s->nelems; i++) {
		char *e = s->elems + i * a->size;
		const char *other = *(char **)field(e, s->key->off);

		if (other && strcmp(other, v->u.str) == 0)
			return key_fail(
			    s, v, "'%s' is already the %s of %s",
			    toml_printable(v->u.str, shown, sizeof(shown)), s->key->name,
			    origin_name(s, field(e, a->origin_off), where, sizeof(where)));
	}
	return 0;
}

static int set_value(struct setter *s, const struct toml_value *v)
{
	const struct kind_ops *ops = &kinds[s->key->kind];
	int ret;

	if (v->type != ops->type || v->table_array)
		return key_fail(s, v, "must be %s, not %s", ops->type_name, toml_type_name(v));
	ret = s->key->unique ? check_unique(s, v) : 0;
	if (ret == 0)
		ret = ops->set(s, v);
	/* an element has one origin, its header or flag */
	if (ret == 0 && !s->array)
		s->cfg->origin[s->key - keys] = s->at;
	return ret;
}

/* Lookups */

static const struct config_key *key_find(const struct key_table *t, const char *section,
					 const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->rows[i].section, section) == 0 && strcmp(t->rows[i].name, name) == 0)
			return &t->rows[i];
	return NULL;
}

static const struct config_array *array_find(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++)
		if (strcmp(arrays[i].section, section) == 0)
			return &arrays[i];
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* "vm, serial, cpu, ..." (section NULL: every table, then every array) or a section's keys. */
static const char *known_list(const struct key_table *t, const char *section, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->n && off < len; i++) {
		const char *name = section ? t->rows[i].name : t->rows[i].section;

		if (section ? strcmp(t->rows[i].section, section) != 0
			    : (i && strcmp(t->rows[i - 1].section, name) == 0))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", name);
	}
	for (size_t i = 0; !section && i < ARRAY_SIZE(arrays) && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, ", %s", arrays[i].section);
	return buf;
}

/* The file */

__attribute__((format(printf, 6, 7))) static int
file_fail(char *err, size_t errlen, const char *path, int line, int col, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d:%d: %s", path, line, col, msg);
	return -EINVAL;
}

/* The keys of one table: [vm], or one [[disk]] (s->array set). */
static int apply_section(struct setter *s, const struct key_table *kt, const char *section,
			 const struct toml_table *t)
{
	char name[64], known[256], sec[48];

	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->kv[i];
		int ret;

		s->key = key_find(kt, section, kv->key);
		if (!s->key)
			return file_fail(s->err, s->errlen, s->cfg->config_path, kv->line, kv->col,
					 "unknown key '%s' in %s (known: %s)",
					 toml_printable(kv->key, name, sizeof(name)),
					 section_name(s->array, section, sec, sizeof(sec)),
					 known_list(kt, section, known, sizeof(known)));
		s->at = (struct config_origin){.line = kv->val.line, .col = kv->val.col};
		ret = set_value(s, &kv->val);
		if (ret)
			return ret;
	}
	return 0;
}

static int apply_table(struct setter *s, const struct toml_kv *kv)
{
	const char *path = s->cfg->config_path;
	char name[64], known[256];
	bool table = kv->val.type == TOML_TABLE || kv->val.table_array;
	bool found = section_known(kv->key);

	known_list(&top_keys, NULL, known, sizeof(known));
	toml_printable(kv->key, name, sizeof(name));
	if (!found && table)
		return file_fail(s->err, s->errlen, path, kv->line, kv->col,
				 "unknown table [%s] (known: %s)", name, known);
	if (!found)
		return file_fail(s->err, s->errlen, path, kv->line, kv->col,
				 "key '%s' must be in a table (known: %s)", name, known);
	if (kv->val.type != TOML_TABLE)
		return file_fail(s->err, s->errlen, path, kv->line, kv->col,
				 "[%s] must be a table, not %s", name, toml_type_name(&kv->val));
	return apply_section(s, &top_keys, kv->key, kv->val.u.table);
}

/* One [[name]] table into elems[n]; its origin is its header. */
static int apply_element(struct setter *s, const struct config_array *a, char *elems, size_t n,
			 const struct toml_value *t)
{
	char *e = elems + n * a->size;
	struct config_origin *o = field(e, a->origin_off);
	int ret;

	*o = (struct config_origin){.line = t->line, .col = t->col};
	s->base = e;
	s->array = a;
	s->elems = elems;
	s->nelems = n;
	ret = apply_section(s, &a->keys, a->section, t->u.table);
	s->base = s->cfg;
	s->array = NULL;
	for (size_t i = 0; ret == 0 && i < a->keys.n; i++) {
		const struct config_key *k = &a->keys.rows[i];

		if (k->required && !*(char **)field(e, k->off))
			ret = file_fail(s->err, s->errlen, s->cfg->config_path, t->line, t->col,
					"[[%s]] needs a %s", a->section, k->name);
	}
	return ret;
}

/* Every [[name]] table of the file: they replace the array's elements. */
static int apply_array(struct setter *s, const struct config_array *a, const struct toml_kv *kv)
{
	const struct toml_array *tables = &kv->val.u.arr;
	char *elems, **old = field(s->cfg, a->off);
	size_t *count = field(s->cfg, a->count_off), n;
	int ret = 0;

	if (!kv->val.table_array)
		return file_fail(s->err, s->errlen, s->cfg->config_path, kv->line, kv->col,
				 "[%s] must be an array of tables: write [[%s]]", a->section,
				 a->section);
	elems = calloc(a->max, a->size);
	if (!elems)
		return nomem(s);
	for (n = 0; ret == 0 && n < tables->n; n++) {
		const struct toml_value *t = &tables->items[n];

		if (n == a->max)
			ret = file_fail(s->err, s->errlen, s->cfg->config_path, t->line, t->col,
					"too many [[%s]] tables (at most %zu)", a->section, a->max);
		else
			ret = apply_element(s, a, elems, n, t);
	}
	if (ret) {
		/* the failed element may hold some strings already */
		free_elems(a, elems, MIN(n, a->max));
		return ret;
	}
	free_elems(a, *old, *count);
	*old = elems;
	*count = n;
	return 0;
}

static int apply_root(struct setter *s, const struct toml_table *root)
{
	for (size_t i = 0; i < root->n; i++) {
		const struct toml_kv *kv = &root->kv[i];
		const struct config_array *a = array_find(kv->key);
		int ret = a ? apply_array(s, a, kv) : apply_table(s, kv);

		if (ret)
			return ret;
	}
	return 0;
}

/* Reads and parses path; on error fills err. */
static int parse_file(const char *path, struct toml_table **root, char *err, size_t errlen)
{
	struct toml_error terr;
	uint8_t *text;
	size_t len;
	int ret;

	ret = read_file(path, &text, &len);
	if (ret == -EINVAL) {
		/* read_file's answer for a directory or a device; -EINVAL means a parse error */
		snprintf(err, errlen, "%s: not a regular file", path);
		return -ENODEV;
	}
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = toml_parse((const char *)text, len, root, &terr);
	free(text);
	if (ret)
		snprintf(err, errlen, "%s:%d:%d: %s", path, terr.line, terr.col, terr.msg);
	return ret;
}

int config_load_file(struct vm_config *cfg, const char *path, char *err, size_t errlen)
{
	struct setter s = {.cfg = cfg, .base = cfg, .err = err, .errlen = errlen};
	const char *slash = strrchr(path, '/');
	struct toml_table *root;
	char *dir = NULL, *copy;
	int ret;

	ret = parse_file(path, &root, err, errlen);
	if (ret)
		return ret;
	copy = strdup(path);
	if (slash)
		dir = strndup(path, (size_t)(slash - path) + 1);
	if (!copy || (slash && !dir)) {
		ret = nomem(&s);
		free(copy);
		goto out;
	}
	free(cfg->config_path);
	cfg->config_path = copy;
	s.dir = dir;
	ret = apply_root(&s, root);
out:
	free(dir);
	toml_free(root);
	return ret;
}

/* Flags */

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A flag's argument as the TOML value the key's kind takes. */
static int arg_value(const struct setter *s, const char *arg, struct toml_value *v)
{
	char shown[64];

	v->type = kinds[s->key->kind].type;
	if (v->type == TOML_STRING) {
		v->u.str = (char *)arg; /* only read */
		return 0;
	}
	toml_printable(arg, shown, sizeof(shown));
	if (v->type == TOML_BOOL) {
		v->u.b = strcmp(arg, "true") == 0;
		if (!v->u.b && strcmp(arg, "false") != 0)
			return key_fail(s, NULL, "'%s' is not true or false", shown);
		return 0;
	}
	if (v->type != TOML_INT)
		return key_fail(s, NULL, "cannot be set from the command line");
	if (!is_number(arg))
		return key_fail(s, NULL, "'%s' is not a number", shown);
	errno = 0;
	v->u.i = strtoll(arg, NULL, 10);
	if (errno == ERANGE)
		return key_fail(s, NULL, "'%s' is out of range", shown);
	return 0;
}

/* "disk.id" is set in the last [[disk]], if there is one. */
static const struct config_key *flag_key(struct setter *s, const char *section, const char *name)
{
	const struct config_array *a = array_find(section);
	size_t n;

	if (!a)
		return key_find(&top_keys, section, name);
	n = *(size_t *)field(s->cfg, a->count_off);
	if (n == 0)
		return NULL;
	s->array = a;
	s->elems = *(char **)field(s->cfg, a->off);
	s->nelems = n - 1;
	s->base = s->elems + (n - 1) * a->size;
	return key_find(&a->keys, section, name);
}

int config_set_flag(struct vm_config *cfg, const char *key, const char *flag, const char *arg,
		    char *err, size_t errlen)
{
	struct setter s = {
	    .cfg = cfg, .base = cfg, .at = {.flag = flag}, .err = err, .errlen = errlen};
	const char *dot = strchr(key, '.');
	struct toml_value v = {0};
	char section[32];
	int ret;

	if (dot && (size_t)(dot - key) < sizeof(section)) {
		memcpy(section, key, (size_t)(dot - key));
		section[dot - key] = '\0';
		s.key = flag_key(&s, section, dot + 1);
	}
	if (!s.key) {
		snprintf(err, errlen, "vmm: %s: no config key '%s'", flag, key);
		return -EINVAL;
	}
	ret = arg_value(&s, arg, &v);
	if (ret == 0)
		ret = set_value(&s, &v);
	return ret;
}

int config_append(struct vm_config *cfg, const char *section, const char *flag, char *err,
		  size_t errlen)
{
	const struct config_array *a = array_find(section);
	char **elems;
	size_t *count;
	struct config_origin *o;

	if (!a) {
		snprintf(err, errlen, "vmm: %s: no config table [[%s]]", flag, section);
		return -EINVAL;
	}
	elems = field(cfg, a->off);
	count = field(cfg, a->count_off);
	if (*count == a->max) {
		snprintf(err, errlen, "vmm: %s: too many %s (at most %zu)", flag, a->plural,
			 a->max);
		return -EINVAL;
	}
	/* always all max slots: appending never moves the elements */
	if (!*elems)
		*elems = calloc(a->max, a->size);
	if (!*elems) {
		snprintf(err, errlen, "vmm: out of memory");
		return -ENOMEM;
	}
	o = field(*elems + *count * a->size, a->origin_off);
	*o = (struct config_origin){.flag = flag};
	(*count)++;
	return 0;
}

/* The whole */

int config_validate(struct vm_config *cfg, char *err, size_t errlen)
{
	struct setter s = {.cfg = cfg, .err = err, .errlen = errlen};

	if (!cfg->kernel) {
		snprintf(err, errlen, "vmm: no kernel: set [vm] kernel or --kernel");
		return -EINVAL;
	}
	if (cfg->serial_mode == SERIAL_FILE && !cfg->serial_path) {
		s.key = key_find(&top_keys, "serial", "mode");
		s.at = cfg->origin[s.key - keys];
		return key_fail(&s, NULL, "\"file\" needs a path: set [serial] path");
	}
	return 0;
}

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->name = (char *)default_name;
	cfg->cpus = 1;
	cfg->memory_mib = 256;
	cfg->cmdline = (char *)default_cmdline;
	cfg->serial_mode = SERIAL_STDIO;
	cfg->rng_enabled = true;
	cfg->jail.enabled = true;
	cfg->jail.uid = JAIL_ID_DEFAULT;
	cfg->jail.gid = JAIL_ID_DEFAULT;
}

void config_free(struct vm_config *cfg)
{
	free_fields(cfg, &top_keys);
	for (size_t i = 0; i < ARRAY_SIZE(arrays); i++)
		free_elems(&arrays[i], *(char **)field(cfg, arrays[i].off),
			   *(size_t *)field(cfg, arrays[i].count_off));
	free(cfg->config_path);
	config_init(cfg);
}
