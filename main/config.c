#include "config.h"

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

enum key_kind { KIND_STRING, KIND_PATH, KIND_UINT, KIND_U64, KIND_ENUM, KIND_LIST };

/* One vm.toml key: `[section] name`, stored at `off` in struct vm_config. */
struct config_key {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off;
	int64_t min, max;		  /* integers: the range; strings: the length in bytes */
	const char *const *choices;	  /* KIND_ENUM: names by value, NULL-terminated */
	size_t count_off;		  /* KIND_LIST: where the element count goes */
	bool (*known)(const char *s);	  /* KIND_LIST: accepts one element */
	const char *(*known_names)(void); /* KIND_LIST: for the error */
	const char *noun;		  /* KIND_LIST: what one element is */
};

static const char *const serial_modes[] = {
	[SERIAL_STDIO] = "stdio", [SERIAL_FILE] = "file", [SERIAL_NONE] = "none", NULL,
};

#define OFF(field) offsetof(struct vm_config, field)

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
	{.section = "serial", .name = "mode", .kind = KIND_ENUM, .off = OFF(serial_mode),
	 .choices = serial_modes},
	{.section = "serial", .name = "path", .kind = KIND_PATH, .off = OFF(serial_path),
	 .min = 1, .max = PATH_MAX - 1},
	{.section = "cpu", .name = "hide", .kind = KIND_LIST, .off = OFF(cpu_hide),
	 .count_off = OFF(ncpu_hide), .known = cpuid_feature_known,
	 .known_names = cpuid_feature_names, .noun = "CPU feature"},
};
/* clang-format on */

_Static_assert(ARRAY_SIZE(keys) <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");
_Static_assert(sizeof(enum serial_mode) == sizeof(int), "KIND_ENUM stores an int");

static const char default_name[] = "vmm";
static const char default_cmdline[] = "console=ttyS0 reboot=k panic=1";

/* Setting one key, from the file or from a flag. */
struct setter {
	struct vm_config *cfg;
	const struct config_key *key;
	struct config_origin at; /* the value's position, or the flag */
	const char *dir;	 /* the config's directory with its '/', or NULL */
	char *err;
	size_t errlen;
};

/* Fields */

static void *field(struct vm_config *cfg, size_t off)
{
	return (char *)cfg + off;
}

static void free_str(char *s)
{
	if (s != default_name && s != default_cmdline)
		free(s);
}

static void replace_str(struct vm_config *cfg, size_t off, char *s)
{
	char **p = field(cfg, off);

	free_str(*p);
	*p = s;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

/* Errors */

/* "file:line:col: [sec] key: msg" at v (or at the key's origin), or "vmm: --flag: msg". */
__attribute__((format(printf, 3, 4))) static int
key_fail(const struct setter *s, const struct toml_value *v, const char *fmt, ...)
{
	struct config_origin o = s->at;
	char msg[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v) {
		o.line = v->line;
		o.col = v->col;
	}
	if (o.flag)
		snprintf(s->err, s->errlen, "vmm: %s: %s", o.flag, msg);
	else if (o.line && s->cfg->config_path)
		snprintf(s->err, s->errlen, "%s:%d:%d: [%s] %s: %s", s->cfg->config_path, o.line,
			 o.col, s->key->section, s->key->name, msg);
	else
		snprintf(s->err, s->errlen, "vmm: [%s] %s: %s", s->key->section, s->key->name, msg);
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

	if (n < (size_t)s->key->min)
		return key_fail(s, v, "must not be empty");
	if (n > (size_t)s->key->max)
		return key_fail(s, v, "longer than %lld bytes", (long long)s->key->max);
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
	replace_str(s->cfg, s->key->off, dup);
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
	replace_str(s->cfg, s->key->off, path);
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
		*(unsigned int *)field(s->cfg, k->off) = (unsigned int)x;
	else
		*(uint64_t *)field(s->cfg, k->off) = (uint64_t)x;
	return 0;
}

static int set_enum(struct setter *s, const struct toml_value *v)
{
	const char *const *c = s->key->choices;
	char list[128] = "", shown[64];
	size_t off = 0;

	for (int i = 0; c[i]; i++) {
		if (strcmp(c[i], v->u.str) == 0) {
			memcpy(field(s->cfg, s->key->off), &i, sizeof(i));
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
	free_list(*(char ***)field(s->cfg, s->key->off),
		  *(size_t *)field(s->cfg, s->key->count_off));
	*(char ***)field(s->cfg, s->key->off) = list;
	*(size_t *)field(s->cfg, s->key->count_off) = n;
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
	[KIND_ENUM] = {TOML_STRING, "a string", set_enum},
	[KIND_LIST] = {TOML_ARRAY, "an array", set_list},
};

static int set_value(struct setter *s, const struct toml_value *v)
{
	const struct kind_ops *ops = &kinds[s->key->kind];
	int ret;

	if (v->type != ops->type || v->table_array)
		return key_fail(s, v, "must be %s, not %s", ops->type_name, toml_type_name(v));
	ret = ops->set(s, v);
	if (ret == 0)
		s->cfg->origin[s->key - keys] = s->at;
	return ret;
}

/* Lookups */

static const struct config_key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* "vm, serial, cpu" (section NULL) or the keys of a section. */
static const char *known_list(const char *section, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(keys) && off < len; i++) {
		const char *name = section ? keys[i].name : keys[i].section;

		if (section ? strcmp(keys[i].section, section) != 0
			    : (i && strcmp(keys[i - 1].section, name) == 0))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", name);
	}
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

static int apply_section(struct setter *s, const char *section, const struct toml_table *t)
{
	char name[64], known[256];

	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->kv[i];
		int ret;

		s->key = key_find(section, kv->key);
		if (!s->key)
			return file_fail(s->err, s->errlen, s->cfg->config_path, kv->line, kv->col,
					 "unknown key '%s' in [%s] (known: %s)",
					 toml_printable(kv->key, name, sizeof(name)), section,
					 known_list(section, known, sizeof(known)));
		s->at = (struct config_origin){.line = kv->val.line, .col = kv->val.col};
		ret = set_value(s, &kv->val);
		if (ret)
			return ret;
	}
	return 0;
}

static int apply_root(struct setter *s, const struct toml_table *root)
{
	const char *path = s->cfg->config_path;
	char name[64], known[256];

	known_list(NULL, known, sizeof(known));
	for (size_t i = 0; i < root->n; i++) {
		const struct toml_kv *kv = &root->kv[i];
		int ret;

		bool table = kv->val.type == TOML_TABLE || kv->val.table_array;

		toml_printable(kv->key, name, sizeof(name));
		if (!section_known(kv->key) && table)
			return file_fail(s->err, s->errlen, path, kv->line, kv->col,
					 "unknown table [%s] (known: %s)", name, known);
		if (!section_known(kv->key))
			return file_fail(s->err, s->errlen, path, kv->line, kv->col,
					 "key '%s' must be in a table (known: %s)", name, known);
		if (kv->val.type != TOML_TABLE)
			return file_fail(s->err, s->errlen, path, kv->line, kv->col,
					 "[%s] must be a table, not %s", name,
					 toml_type_name(&kv->val));
		ret = apply_section(s, kv->key, kv->val.u.table);
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
	struct setter s = {.cfg = cfg, .err = err, .errlen = errlen};
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
	if (v->type != TOML_INT)
		return key_fail(s, NULL, "cannot be set from the command line");
	toml_printable(arg, shown, sizeof(shown));
	if (!is_number(arg))
		return key_fail(s, NULL, "'%s' is not a number", shown);
	errno = 0;
	v->u.i = strtoll(arg, NULL, 10);
	if (errno == ERANGE)
		return key_fail(s, NULL, "'%s' is out of range", shown);
	return 0;
}

int config_set_flag(struct vm_config *cfg, const char *key, const char *flag, const char *arg,
		    char *err, size_t errlen)
{
	struct setter s = {.cfg = cfg, .at = {.flag = flag}, .err = err, .errlen = errlen};
	const char *dot = strchr(key, '.');
	struct toml_value v = {0};
	char section[32];
	int ret;

	if (dot && (size_t)(dot - key) < sizeof(section)) {
		memcpy(section, key, (size_t)(dot - key));
		section[dot - key] = '\0';
		s.key = key_find(section, dot + 1);
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

/* The whole */

int config_validate(struct vm_config *cfg, char *err, size_t errlen)
{
	struct setter s = {.cfg = cfg, .err = err, .errlen = errlen};

	if (!cfg->kernel) {
		snprintf(err, errlen, "vmm: no kernel: set [vm] kernel or --kernel");
		return -EINVAL;
	}
	if (cfg->serial_mode == SERIAL_FILE && !cfg->serial_path) {
		s.key = key_find("serial", "mode");
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
}

void config_free(struct vm_config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];

		if (k->kind == KIND_STRING || k->kind == KIND_PATH)
			free_str(*(char **)field(cfg, k->off));
		else if (k->kind == KIND_LIST)
			free_list(*(char ***)field(cfg, k->off),
				  *(size_t *)field(cfg, k->count_off));
	}
	free(cfg->config_path);
	config_init(cfg);
}
