/* `vmm policy`: checks and audits seccomp policy files. See policy_cmd.h. */
#include "policy_cmd.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "jail.h"
#include "json.h"
#include "log.h"
#include "policy.h"
#include "seccomp.h"
#include "toml.h"
#include "util.h"
#include "vm.h"

struct policy_verb {
	const char *name;
	const char *args; /* its synopsis after the verb */
	const char *help;
	int (*run)(int n, char **args); /* args: the words after the verb; returns the status */
};

static int cmd_check(int n, char **args);
static int cmd_audit(int n, char **args);
static int cmd_learn(int n, char **args);

/* Adding a verb is adding a row here. */
/* clang-format off */
static const struct policy_verb verbs[] = {
	{"check", "FILE...", "parse and compile each policy file (never load it)", cmd_check},
	{"audit", "[DEVICE...] [--json] [--policy-dir DIR]",
	 "each device's effective allow-list, includes resolved", cmd_audit},
	{"learn", "--config vm.toml [--seconds N] [run flags]",
	 "run the VM; report what each device did against its policy", cmd_learn},
};
/* clang-format on */

/* Policy files that are only added to others, never a device of their own. */
static const char *const not_devices[] = {"common_device", "sanitizer"};

#define POLICY_SUFFIX ".policy"

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VMM_EXIT_USAGE;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

void policy_cmd_synopsis(FILE *out, const char *first)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(out, "%s vmm policy %s %s\n", i ? "      " : first, verbs[i].name,
			verbs[i].args);
}

void policy_cmd_usage(FILE *out)
{
	policy_cmd_synopsis(out, "usage:");
	fprintf(out, "       vmm policy --help\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(out, "  %-6s %s\n", verbs[i].name, verbs[i].help);
	fprintf(out, "\n"
		     "check prints warnings and errors as FILE:LINE:COL: on stderr and\n"
		     "\"FILE: ok (N syscalls)\" for each good file.\n"
		     "A DEVICE is a policy file's name without .policy (block, rng, vmm, vcpu);\n"
		     "audit shows every one by default. The policy directory is --policy-dir,\n"
		     "else $VMM_POLICY_DIR, else the installed share/vmm/policies/x86_64, else\n"
		     "the source tree's policies/x86_64.\n"
		     "Exit status: 0 ok, 1 a policy has an error or is missing, 2 usage error.\n");
}

int policy_cmd_main(int n, char **args)
{
	char shown[64];

	if (n < 1) {
		fprintf(stderr, "vmm: policy: no verb given\n");
		policy_cmd_usage(stderr);
		return VMM_EXIT_USAGE;
	}
	if (is_help(args[0]) || strcmp(args[0], "help") == 0) {
		policy_cmd_usage(stdout);
		return VMM_EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strcmp(args[0], verbs[i].name) == 0)
			return verbs[i].run(n - 1, args + 1);
	}
	toml_printable(args[0], shown, sizeof(shown));
	if (args[0][0] == '-')
		return usage_error("vmm: policy: unknown option '%s' (try 'vmm policy --help')",
				   shown);
	return usage_error("vmm: policy: unknown verb '%s' (try 'vmm policy --help')", shown);
}

/*
 * `vmm policy learn [--seconds N] RUN FLAGS...`: the VM of `vmm run RUN FLAGS...`, jailed with
 * every device's syscalls shown to main (SECCOMP_MODE_LEARN), until it stops or N seconds have
 * passed; device_host.c prints the report. Exit 0 when no device lacked anything.
 */
static int cmd_learn(int n, char **args)
{
	char **argv = calloc((size_t)n + 3, sizeof(*argv));
	char err[CONFIG_ERR_MAX], *end;
	struct vm_config cfg;
	enum cli_command cmd;
	unsigned long seconds = 0;
	int argc = 0, code;

	if (!argv)
		return VMM_EXIT_FAILURE;
	argv[argc++] = "vmm";
	argv[argc++] = "run";
	for (int i = 0; i < n; i++) {
		if (strcmp(args[i], "--seconds") != 0) {
			argv[argc++] = args[i];
			continue;
		}
		errno = 0;
		seconds = i + 1 < n ? strtoul(args[i + 1], &end, 10) : 0;
		if (i + 1 >= n || errno || *end || end == args[i + 1] || seconds == 0 ||
		    seconds > 86400) {
			free(argv);
			return usage_error("vmm: policy learn: --seconds takes 1..86400");
		}
		i++;
	}
	if (cli_parse(argc, argv, &cmd, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		config_free(&cfg);
		free(argv);
		return VMM_EXIT_USAGE;
	}
	free(argv);
	if (!cfg.jail.enabled)
		fprintf(stderr, "vmm: policy learn: learning needs the jail: --no-jail ignored\n");
	cfg.jail.enabled = true;
	cfg.jail.seccomp = JAIL_SECCOMP_LEARN;
	cfg.run_seconds = (unsigned int)seconds;
	log_set_name(cfg.name ? cfg.name : "vmm");
	code = vm_run(&cfg);
	config_free(&cfg);
	return code;
}

/* ---- check ---- */

/* Where the message starts in "FILE:LINE:COL: message" (after the ": "), or NULL. */
static const char *after_position(const char *s)
{
	for (const char *c = strchr(s, ':'); c; c = strchr(c + 1, ':')) {
		const char *p = c + 1;

		if (!isdigit((unsigned char)*p))
			continue;
		while (isdigit((unsigned char)*p))
			p++;
		if (p[0] != ':' || !isdigit((unsigned char)p[1]))
			continue;
		p++;
		while (isdigit((unsigned char)*p))
			p++;
		if (p[0] == ':' && p[1] == ' ')
			return p + 2;
	}
	return NULL;
}

/* Each warning as "FILE:LINE:COL: warning: message". */
static void print_warnings(const struct policy *p)
{
	for (size_t i = 0; i < p->nwarnings; i++) {
		const char *w = p->warnings[i], *msg = after_position(w);

		if (msg)
			fprintf(stderr, "%.*swarning: %s\n", (int)(msg - w), w, msg);
		else
			fprintf(stderr, "warning: %s\n", w);
	}
}

/* Loads and compiles path; prints its warnings and errors, or that it is ok. 0 or -errno. */
static int check_file(const char *path)
{
	char err[PATH_MAX + 256];
	struct policy p;
	scmp_filter_ctx ctx;
	int ret;

	ret = policy_load(path, &p, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "%s\n", err);
		return ret;
	}
	print_warnings(&p);
	/* compile only: the filter is built, checked by libseccomp and thrown away */
	ret = seccomp_compile(&p, SECCOMP_MODE_KILL, &ctx);
	if (ret < 0) {
		fprintf(stderr, "%s: libseccomp cannot compile it: %s\n", path, strerror(-ret));
	} else {
		seccomp_release(ctx);
		printf("%s: ok (%zu syscall%s)\n", path, p.nrules, plural(p.nrules));
	}
	policy_free(&p);
	return ret;
}

static int cmd_check(int n, char **args)
{
	bool options = true; /* until "--" */
	int nfiles = 0, status = VMM_EXIT_OK;
	char shown[64];

	for (int i = 0; i < n; i++) {
		if (options && strcmp(args[i], "--") == 0) {
			options = false;
		} else if (options && is_help(args[i])) {
			policy_cmd_usage(stdout);
			return VMM_EXIT_OK;
		} else if (options && args[i][0] == '-' && args[i][1]) {
			return usage_error("vmm: policy check: unknown option '%s' (try 'vmm "
					   "policy --help')",
					   toml_printable(args[i], shown, sizeof(shown)));
		} else {
			nfiles++;
		}
	}
	if (nfiles == 0)
		return usage_error("vmm: policy check: no files given (vmm policy check FILE...)");
	options = true;
	for (int i = 0; i < n; i++) {
		if (options && strcmp(args[i], "--") == 0) {
			options = false;
			continue;
		}
		if (check_file(args[i]) < 0)
			status = VMM_EXIT_FAILURE;
	}
	return status;
}

/* ---- audit: what the rules say ---- */

/* One syscall of a device's effective allow-list, as shown. */
struct audit_row {
	const struct policy_rule *rule;
	char *condition;  /* "arg1 == 0x5401 || arg1 == 0x5402", "always", "return EPERM" */
	char *defined_at; /* "common_device.policy:12" */
	char *why;	  /* the comment's lines joined by " / ", or NULL */
};

/* clang-format off */
static const char *const op_text[] = {
	[POLICY_OP_EQ] = "==", [POLICY_OP_NE] = "!=", [POLICY_OP_LT] = "<", [POLICY_OP_LE] = "<=",
	[POLICY_OP_GT] = ">", [POLICY_OP_GE] = ">=", [POLICY_OP_BITS_SET] = "&",
	[POLICY_OP_IN] = "in",
};
/* clang-format on */

static void render_and(FILE *f, const struct policy_and *a)
{
	for (size_t i = 0; i < a->nconds; i++) {
		const struct policy_cond *c = &a->conds[i];

		fprintf(f, "%sarg%u %s ", i ? " && " : "", c->arg, op_text[c->op]);
		/* hex from 10 on: masks and ioctl numbers read better that way */
		fprintf(f, c->value > 9 ? "%#llx" : "%llu", (unsigned long long)c->value);
	}
}

/* The rule's condition as policy text; NULL when out of memory. */
static char *render_condition(const struct policy_rule *r)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (r->action == POLICY_ERRNO) {
		const char *name = strerrorname_np(r->errno_value);

		if (name)
			fprintf(f, "return %s", name);
		else
			fprintf(f, "return %d", r->errno_value);
	} else if (r->nalts == 0) {
		fputs("always", f);
	}
	for (size_t i = 0; r->action == POLICY_ALLOW && i < r->nalts; i++) {
		fputs(i ? " || " : "", f);
		render_and(f, &r->alts[i]);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The comment's lines joined by " / "; NULL for none (or out of memory: then *oom). */
static char *render_why(const char *comment, bool *oom)
{
	char *out, *o;

	if (!comment)
		return NULL;
	out = malloc(strlen(comment) * 3 + 1);
	if (!out) {
		*oom = true;
		return NULL;
	}
	o = out;
	for (const char *c = comment; *c; c++) {
		if (*c == '\n') {
			memcpy(o, " / ", 3);
			o += 3;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	return out;
}

static int row_fill(struct audit_row *row, const struct policy_rule *r)
{
	const char *slash = strrchr(r->file, '/');
	bool oom = false;

	row->rule = r;
	row->condition = render_condition(r);
	if (asprintf(&row->defined_at, "%s:%d", slash ? slash + 1 : r->file, r->line) < 0)
		row->defined_at = NULL;
	row->why = render_why(r->comment, &oom);
	return row->condition && row->defined_at && !oom ? 0 : -ENOMEM;
}

static void rows_free(struct audit_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].condition);
		free(rows[i].defined_at);
		free(rows[i].why);
	}
	free(rows);
}

static int row_cmp(const void *a, const void *b)
{
	const struct audit_row *x = a, *y = b;

	return strcmp(x->rule->name, y->rule->name);
}

/* p's rules as rows sorted by syscall name, into *out (p->nrules of them). 0 or -ENOMEM. */
static int rows_build(const struct policy *p, struct audit_row **out)
{
	struct audit_row *rows = calloc(p->nrules ? p->nrules : 1, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < p->nrules; i++) {
		if (row_fill(&rows[i], &p->rules[i]) < 0) {
			rows_free(rows, p->nrules);
			return -ENOMEM;
		}
	}
	qsort(rows, p->nrules, sizeof(*rows), row_cmp);
	*out = rows;
	return 0;
}

/* ---- audit: output ---- */

struct audit_device {
	char *name;
	char *path;
	struct policy pol;
	struct audit_row *rows; /* pol.nrules of them */
};

static void table_print(const struct audit_device *d)
{
	int wname = (int)strlen("SYSCALL"), wcond = (int)strlen("CONDITION");
	int wdef = (int)strlen("DEFINED AT");

	for (size_t i = 0; i < d->pol.nrules; i++) {
		wname = MAX(wname, (int)strlen(d->rows[i].rule->name));
		wcond = MAX(wcond, (int)strlen(d->rows[i].condition));
		wdef = MAX(wdef, (int)strlen(d->rows[i].defined_at));
	}
	printf("%s (%s, %zu syscall%s)\n", d->name, d->path, d->pol.nrules, plural(d->pol.nrules));
	printf("  %-*s  %-*s  %-*s  %s\n", wname, "SYSCALL", wcond, "CONDITION", wdef, "DEFINED AT",
	       "WHY");
	for (size_t i = 0; i < d->pol.nrules; i++) {
		const struct audit_row *r = &d->rows[i];

		printf("  %-*s  %-*s  %-*s  %s\n", wname, r->rule->name, wcond, r->condition, wdef,
		       r->defined_at, r->why ? r->why : "-");
	}
}


static void json_row(const struct audit_row *r)
{
	printf("{\"name\": ");
	json_string(stdout, r->rule->name);
	printf(", \"condition\": ");
	json_string(stdout, r->condition);
	if (r->rule->action == POLICY_ERRNO)
		printf(", \"action\": \"errno\", \"errno\": %d", r->rule->errno_value);
	else
		printf(", \"action\": \"allow\", \"errno\": null");
	printf(", \"defined_at\": ");
	json_string(stdout, r->defined_at);
	printf(", \"why\": ");
	json_string(stdout, r->why);
	printf("}");
}

static void json_print(const struct audit_device *devs, size_t n)
{
	printf("{\"devices\": [");
	for (size_t i = 0; i < n; i++) {
		printf("%s\n  {\"device\": ", i ? "," : "");
		json_string(stdout, devs[i].name);
		printf(", \"file\": ");
		json_string(stdout, devs[i].path);
		printf(", \"syscalls\": [");
		for (size_t j = 0; j < devs[i].pol.nrules; j++) {
			printf("%s\n    ", j ? "," : "");
			json_row(&devs[i].rows[j]);
		}
		printf("%s]}", devs[i].pol.nrules ? "\n  " : "");
	}
	printf("%s]}\n", n ? "\n" : "");
}

/* ---- audit: which devices ---- */

struct audit {
	bool help; /* --help: the usage was shown */
	bool json;
	const char *policy_dir; /* --policy-dir, or NULL */
	char **names;		/* the DEVICE arguments, pointers into argv */
	size_t nnames;
	char dir[PATH_MAX];
	struct audit_device *devs;
	size_t ndevs;
};

/* 0 (a->help set when the usage was shown) or VMM_EXIT_USAGE (reported). */
static int audit_parse(int n, char **args, struct audit *a)
{
	char shown[64];

	a->names = args; /* the DEVICE words are packed to the front of args */
	for (int i = 0; i < n; i++) {
		const char *arg = args[i];

		if (is_help(arg)) {
			policy_cmd_usage(stdout);
			a->help = true;
			return 0;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = true;
		} else if (strncmp(arg, "--policy-dir=", strlen("--policy-dir=")) == 0) {
			a->policy_dir = arg + strlen("--policy-dir=");
		} else if (strcmp(arg, "--policy-dir") == 0) {
			if (i + 1 >= n)
				return usage_error("vmm: policy audit: --policy-dir: missing value "
						   "(--policy-dir DIR)");
			a->policy_dir = args[++i];
		} else if (arg[0] == '-') {
			return usage_error("vmm: policy audit: unknown option '%s' (try 'vmm "
					   "policy --help')",
					   toml_printable(arg, shown, sizeof(shown)));
		} else {
			args[a->nnames++] = args[i];
		}
	}
	return 0;
}

static bool is_device_file(const char *file, size_t *namelen)
{
	size_t len = strlen(file), slen = strlen(POLICY_SUFFIX);

	if (len <= slen || file[0] == '.' || strcmp(file + len - slen, POLICY_SUFFIX) != 0)
		return false;
	*namelen = len - slen;
	for (size_t i = 0; i < ARRAY_SIZE(not_devices); i++) {
		if (strlen(not_devices[i]) == *namelen &&
		    strncmp(file, not_devices[i], *namelen) == 0)
			return false;
	}
	return true;
}

static int add_device(struct audit *a, const char *name, size_t len)
{
	struct audit_device *n = realloc(a->devs, (a->ndevs + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	a->devs = n;
	n = &a->devs[a->ndevs];
	memset(n, 0, sizeof(*n));
	n->name = strndup(name, len);
	if (!n->name || asprintf(&n->path, "%s/%s" POLICY_SUFFIX, a->dir, n->name) < 0) {
		free(n->name);
		return -ENOMEM;
	}
	a->ndevs++;
	return 0;
}

static int device_cmp(const void *x, const void *y)
{
	const struct audit_device *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* Every device of a->dir, sorted. 0 or -errno (reported). */
static int list_devices(struct audit *a)
{
	DIR *d = opendir(a->dir);
	struct dirent *e;
	int ret = 0;

	if (!d) {
		ret = -errno;
		fprintf(stderr, "vmm: policy audit: %s: %s\n", a->dir, strerror(-ret));
		return ret;
	}
	while (ret == 0 && (e = readdir(d))) {
		size_t len;

		if (is_device_file(e->d_name, &len))
			ret = add_device(a, e->d_name, len);
	}
	closedir(d);
	if (ret == 0 && a->ndevs == 0) {
		fprintf(stderr, "vmm: policy audit: no policies in %s\n", a->dir);
		return -ENOENT;
	}
	qsort(a->devs, a->ndevs, sizeof(*a->devs), device_cmp);
	return ret;
}

/* The devices named on the command line, each with its file. 0 or -errno (reported). */
static int named_devices(struct audit *a)
{
	char shown[64];
	struct stat st;

	for (size_t i = 0; i < a->nnames; i++) {
		const char *name = a->names[i];
		int ret;

		ret = add_device(a, name, strlen(name));
		if (ret < 0)
			return ret;
		if (name[0] && !strchr(name, '/') && stat(a->devs[a->ndevs - 1].path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			continue;
		fprintf(stderr, "vmm: policy audit: no policy for device '%s' in %s\n",
			toml_printable(name, shown, sizeof(shown)), a->dir);
		return -ENOENT;
	}
	return 0;
}

static void audit_no_dir(const struct audit *a)
{
	const char *env = getenv("VMM_POLICY_DIR");

	if (a->policy_dir)
		fprintf(stderr, "vmm: policy audit: --policy-dir %s: not a directory\n",
			a->policy_dir);
	else if (env)
		fprintf(stderr, "vmm: policy audit: VMM_POLICY_DIR=%s: not a directory\n", env);
	else
		fprintf(stderr, "vmm: policy audit: no policy directory found (give "
				"--policy-dir DIR or set VMM_POLICY_DIR)\n");
}

/* Finds the directory and the devices. 0 or -errno (reported). */
static int audit_devices(struct audit *a)
{
	size_t len;
	int ret = jail_policy_dir(a->policy_dir, a->dir, sizeof(a->dir));

	if (ret < 0) {
		audit_no_dir(a);
		return ret;
	}
	len = strlen(a->dir);
	while (len > 1 && a->dir[len - 1] == '/')
		a->dir[--len] = '\0';
	ret = a->nnames ? named_devices(a) : list_devices(a);
	if (ret == -ENOMEM)
		fprintf(stderr, "vmm: policy audit: out of memory\n");
	return ret;
}

/* Loads each device's policy and builds its rows. 0 or -errno (reported). */
static int audit_load(struct audit *a)
{
	char err[PATH_MAX + 256];

	for (size_t i = 0; i < a->ndevs; i++) {
		struct audit_device *d = &a->devs[i];
		int ret = policy_load(d->path, &d->pol, err, sizeof(err));

		if (ret < 0) {
			fprintf(stderr, "%s\n", err);
			return ret;
		}
		print_warnings(&d->pol);
		ret = rows_build(&d->pol, &d->rows);
		if (ret < 0) {
			fprintf(stderr, "vmm: policy audit: out of memory\n");
			return ret;
		}
	}
	return 0;
}

static void audit_free(struct audit *a)
{
	for (size_t i = 0; i < a->ndevs; i++) {
		struct audit_device *d = &a->devs[i];

		if (d->rows)
			rows_free(d->rows, d->pol.nrules);
		policy_free(&d->pol);
		free(d->name);
		free(d->path);
	}
	free(a->devs);
}

static int cmd_audit(int n, char **args)
{
	struct audit a = {0};
	int status = audit_parse(n, args, &a);

	if (status || a.help)
		return status;
	if (audit_devices(&a) < 0 || audit_load(&a) < 0) {
		audit_free(&a);
		return VMM_EXIT_FAILURE;
	}
	if (a.json) {
		json_print(a.devs, a.ndevs);
	} else {
		for (size_t i = 0; i < a.ndevs; i++) {
			if (i)
				putchar('\n');
			table_print(&a.devs[i]);
		}
	}
	audit_free(&a);
	return VMM_EXIT_OK;
}
