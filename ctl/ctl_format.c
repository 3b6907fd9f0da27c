/* vmm-ctl: sizes in, answers out (ctl_format.h). */
#include "ctl_format.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "json.h"
#include "util.h"

int ctl_parse_size(const char *s, uint64_t bare_unit, uint64_t align, uint64_t *out)
{
	static const struct {
		char suffix;
		uint64_t unit;
	} units[] = {{'K', KIB(1)}, {'M', MIB(1)}, {'G', GIB(1)}};
	uint64_t n = 0, unit = bare_unit;
	const char *p = s;

	/* by hand, not strtoull: it would take a sign, spaces and "0x" */
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		unit = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (toupper((unsigned char)*p) == units[i].suffix)
				unit = units[i].unit;
		if (!unit || p[1])
			return -EINVAL;
	}
	if (unit && n > UINT64_MAX / unit)
		return -ERANGE;
	n *= unit;
	if (align > 1 && n % align)
		return -EDOM;
	*out = n;
	return 0;
}

void ctl_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned int i = 0;
	uint64_t unit = 1, whole, tenths;

	while (i + 1 < ARRAY_SIZE(names) && bytes >= unit << 10) {
		unit <<= 10;
		i++;
	}
	whole = bytes / unit;
	if (bytes % unit == 0) {
		snprintf(buf, len, "%" PRIu64 " %s", whole, names[i]);
		return;
	}
	/* 1536 MiB rather than 1.5 GiB: exact beats short while it stays readable */
	if (i > 0 && bytes % (unit >> 10) == 0) {
		snprintf(buf, len, "%" PRIu64 " %s", bytes / (unit >> 10), names[i - 1]);
		return;
	}
	/* the remainder is below 2^60, so ten of it still fits */
	tenths = ((bytes % unit) * 10 + unit / 2) / unit;
	if (tenths == 10) {
		whole++;
		tenths = 0;
	}
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", whole, tenths, names[i]);
}

const char *ctl_state_name(uint32_t state)
{
	static const char *const names[] = {
	    [MSG_VM_STATE_RUNNING] = "running",
	    [MSG_VM_STATE_VCPUS_SUSPENDED] = "vcpus-suspended",
	    [MSG_VM_STATE_SUSPENDED] = "suspended",
	    [MSG_VM_STATE_STOPPING] = "stopping",
	};

	return state < ARRAY_SIZE(names) ? names[state] : "unknown";
}

/* What an event's value and pid/status mean, for the text form. */
enum event_detail {
	DETAIL_VALUE,
	DETAIL_BYTES,
	DETAIL_EXIT,
	DETAIL_STATE,
	DETAIL_PLUG,
};

/* clang-format off */
static const struct event_kind {
	uint32_t bit;
	const char *name;
	enum event_detail detail;
} event_kinds[] = {
	{MSG_VM_EVENT_BALLOON_RESIZE, "balloon-resize", DETAIL_BYTES},
	{MSG_VM_EVENT_BALLOON_OOM_DEFLATION, "balloon-oom-deflation", DETAIL_VALUE},
	{MSG_VM_EVENT_BALLOON_WS_REPORT, "balloon-ws-report", DETAIL_VALUE},
	{MSG_VM_EVENT_DEVICE_EXIT, "device-exit", DETAIL_EXIT},
	{MSG_VM_EVENT_VM_STATE, "vm-state", DETAIL_STATE},
	{MSG_VM_EVENT_DISK_RESIZE, "disk-resize", DETAIL_BYTES},
	{MSG_VM_EVENT_NET_HOTPLUG, "net-hotplug", DETAIL_PLUG},
};
/* clang-format on */

static const struct event_kind *event_kind(uint32_t event)
{
	for (size_t i = 0; i < ARRAY_SIZE(event_kinds); i++)
		if (event_kinds[i].bit == event)
			return &event_kinds[i];
	return NULL;
}

const char *ctl_event_name(uint32_t event)
{
	const struct event_kind *k = event_kind(event);

	return k ? k->name : NULL;
}

/* virtio 1.2, 5.5.6.3: VIRTIO_BALLOON_S_SWAP_IN (0) to VIRTIO_BALLOON_S_HTLB_PGFAIL (9) */
static const struct balloon_stat {
	const char *name;
	bool bytes; /* else a count */
} balloon_stats[MSG_VM_BALLOON_NSTATS] = {
    {"swap-in", true},		 {"swap-out", true},	{"major-faults", false},
    {"minor-faults", false},	 {"free-memory", true}, {"total-memory", true},
    {"available-memory", true},	 {"disk-caches", true}, {"hugetlb-allocations", false},
    {"hugetlb-failures", false},
};

const char *ctl_balloon_stat_name(unsigned int tag)
{
	return tag < ARRAY_SIZE(balloon_stats) ? balloon_stats[tag].name : NULL;
}

/* A string the VM sent, or null when empty. */
static void json_string_or_null(FILE *out, const char *s)
{
	if (s[0])
		json_string(out, s);
	else
		fputs("null", out);
}

static void json_bool(FILE *out, const char *key, bool v)
{
	fprintf(out, ", \"%s\": %s", key, v ? "true" : "false");
}

/* s for a terminal: control bytes (an escape sequence from the VM) become '?'. */
static void text_copy(char *dst, size_t len, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < len && s[i]; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

static void text_put(FILE *out, const char *s)
{
	char buf[MSG_VM_ERR_MESSAGE];

	text_copy(buf, sizeof(buf), s);
	fputs(buf, out);
}

/* "1h02m03.456s", "2m03.456s" or "3.456s" */
static void format_uptime(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000, h = s / 3600;
	unsigned int m = (unsigned int)(s / 60 % 60), sec = (unsigned int)(s % 60);
	unsigned int frac = (unsigned int)(ms % 1000);

	if (h)
		snprintf(buf, len, "%" PRIu64 "h%02um%02u.%03us", h, m, sec, frac);
	else if (m)
		snprintf(buf, len, "%um%02u.%03us", m, sec, frac);
	else
		snprintf(buf, len, "%u.%03us", sec, frac);
}

/* ---- status ---- */

enum {
	COL_NAME,
	COL_TYPE,
	COL_BACKEND,
	COL_PID,
	COL_JAILED,
	COL_ALIVE,
	COL_FEATURES,
	COL_DRIVER_OK,
	COL_NEEDS_RESET,
	COL_PCI,
	NCOLS,
};

static const char *const col_titles[NCOLS] = {
    "NAME", "TYPE", "BACKEND", "PID", "JAILED", "ALIVE", "FEATURES", "DRIVER_OK", "NEEDS_RESET", "PCI",
};

/* One line of the device table; a cell holds any device name or type (MSG_VM_DEVICE_NAME). */
struct status_row {
	char cell[NCOLS][24];
};

static const char *yes_no(uint32_t flags, uint32_t bit)
{
	return flags & bit ? "yes" : "no";
}

void ctl_format_pci(uint32_t addr, char *buf, size_t len)
{
	snprintf(buf, len, "%02" PRIx32 ":%02" PRIx32 ".%" PRIx32, (addr >> 8) & 0xff,
		 (addr >> 3) & 0x1f, addr & 7);
}

static void device_row(const struct msg_vm_device_status *d, struct status_row *row)
{
	char(*c)[24] = row->cell;
	const size_t n = sizeof(row->cell[0]);

	text_copy(c[COL_NAME], n, d->name);
	text_copy(c[COL_TYPE], n, d->type);
	text_copy(c[COL_BACKEND], n, d->backend[0] ? d->backend : "-");
	if (d->pid)
		snprintf(c[COL_PID], n, "%" PRIu32, d->pid);
	else
		snprintf(c[COL_PID], n, "-");
	snprintf(c[COL_JAILED], n, "%s", yes_no(d->flags, MSG_VM_DEV_JAILED));
	snprintf(c[COL_ALIVE], n, "%s", yes_no(d->flags, MSG_VM_DEV_ALIVE));
	snprintf(c[COL_FEATURES], n, "0x%" PRIx64, d->features);
	snprintf(c[COL_DRIVER_OK], n, "%s", yes_no(d->flags, MSG_VM_DEV_DRIVER_OK));
	snprintf(c[COL_NEEDS_RESET], n, "%s", yes_no(d->flags, MSG_VM_DEV_NEEDS_RESET));
	ctl_format_pci(d->pci_addr, c[COL_PCI], n);
}

/* Columns as wide as their widest cell, two spaces apart, indented by two. */
static void print_rows(FILE *out, const struct status_row *rows, size_t n)
{
	int width[NCOLS] = {0};

	for (size_t r = 0; r < n; r++)
		for (int c = 0; c < NCOLS; c++)
			width[c] = MAX(width[c], (int)strlen(rows[r].cell[c]));
	for (size_t r = 0; r < n; r++) {
		fputs("  ", out);
		for (int c = 0; c < NCOLS - 1; c++)
			fprintf(out, "%-*s  ", width[c], rows[r].cell[c]);
		fprintf(out, "%s\n", rows[r].cell[NCOLS - 1]);
	}
}

static void status_text(FILE *out, const struct msg_vm_status *s)
{
	struct status_row rows[1 + MSG_VM_MAX_DEVICES];
	uint32_t ndev = MIN(s->ndevices, (uint32_t)MSG_VM_MAX_DEVICES);
	char buf[32];

	fputs("name:    ", out);
	text_put(out, s->name);
	fprintf(out, "\nstate:   %s\n", ctl_state_name(s->state));
	fprintf(out, "pid:     %" PRIu32 "\n", s->pid);
	format_uptime(s->uptime_ms, buf, sizeof(buf));
	fprintf(out, "uptime:  %s\n", buf);
	fprintf(out, "vcpus:   %" PRIu32 "\n", s->nvcpus);
	ctl_format_bytes(s->memory_bytes, buf, sizeof(buf));
	fprintf(out, "memory:  %s\n", buf);
	fprintf(out, "devices: %" PRIu32 "\n", ndev);
	if (!ndev)
		return;
	for (int c = 0; c < NCOLS; c++)
		snprintf(rows[0].cell[c], sizeof(rows[0].cell[c]), "%s", col_titles[c]);
	for (uint32_t i = 0; i < ndev; i++)
		device_row(&s->devices[i], &rows[1 + i]);
	print_rows(out, rows, 1 + ndev);
}

static void device_json(FILE *out, const struct msg_vm_device_status *d)
{
	char pci[16];

	fputs("{\"name\": ", out);
	json_string(out, d->name);
	fputs(", \"type\": ", out);
	json_string(out, d->type);
	if (d->pid)
		fprintf(out, ", \"pid\": %" PRIu32, d->pid);
	else
		fputs(", \"pid\": null", out);
	json_bool(out, "jailed", d->flags & MSG_VM_DEV_JAILED);
	json_bool(out, "alive", d->flags & MSG_VM_DEV_ALIVE);
	/* a string: JSON numbers lose bits above 2^53 in many readers */
	fprintf(out, ", \"features\": \"0x%" PRIx64 "\"", d->features);
	json_bool(out, "driver_ok", d->flags & MSG_VM_DEV_DRIVER_OK);
	json_bool(out, "needs_reset", d->flags & MSG_VM_DEV_NEEDS_RESET);
	fputs(", \"backend\": ", out);
	if (d->backend[0])
		json_string(out, d->backend);
	else
		fputs("null", out);
	ctl_format_pci(d->pci_addr, pci, sizeof(pci));
	fprintf(out, ", \"pci\": \"%s\", \"virtio_type\": %" PRIu32 "}", pci, d->virtio_type);
}

static void status_json(FILE *out, const struct msg_vm_status *s)
{
	uint32_t ndev = MIN(s->ndevices, (uint32_t)MSG_VM_MAX_DEVICES);

	fputs("{\"name\": ", out);
	json_string(out, s->name);
	fputs(", \"state\": ", out);
	json_string(out, ctl_state_name(s->state));
	fprintf(out,
		", \"pid\": %" PRIu32 ", \"uptime_ms\": %" PRIu64 ", \"vcpus\": %" PRIu32
		", \"memory_bytes\": %" PRIu64 ", \"devices\": [",
		s->pid, s->uptime_ms, s->nvcpus, s->memory_bytes);
	for (uint32_t i = 0; i < ndev; i++) {
		if (i)
			fputs(", ", out);
		device_json(out, &s->devices[i]);
	}
	fputs("]}\n", out);
}

void ctl_print_status(FILE *out, const struct msg_vm_status *s, bool json)
{
	if (json)
		status_json(out, s);
	else
		status_text(out, s);
}

/* ---- vcpu-pids ---- */

void ctl_print_pid_tid(FILE *out, const struct msg_vm_pid_tid *p, bool json)
{
	uint32_t n = MIN(p->nvcpus, (uint32_t)MSG_VM_MAX_VCPUS);

	if (!json) {
		fprintf(out, "pid %" PRIu32 "\n", p->pid);
		for (uint32_t i = 0; i < n; i++)
			fprintf(out, "vcpu%" PRIu32 " %" PRIu32 "\n", i, p->tids[i]);
		return;
	}
	fprintf(out, "{\"pid\": %" PRIu32 ", \"vcpu_tids\": [", p->pid);
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, "%s%" PRIu32, i ? ", " : "", p->tids[i]);
	fputs("]}\n", out);
}

/* ---- balloon stats ---- */

static void stats_text(FILE *out, const struct msg_vm_balloon_stats *b)
{
	char buf[32];

	ctl_format_bytes(b->actual, buf, sizeof(buf));
	fprintf(out, "%-19s  %s\n", "actual", buf);
	for (unsigned int i = 0; i < MSG_VM_BALLOON_NSTATS; i++) {
		if (!(b->valid & (1u << i)))
			snprintf(buf, sizeof(buf), "-");
		else if (balloon_stats[i].bytes)
			ctl_format_bytes(b->stats[i], buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%" PRIu64, b->stats[i]);
		fprintf(out, "%-19s  %s\n", balloon_stats[i].name, buf);
	}
}

static void stats_json(FILE *out, const struct msg_vm_balloon_stats *b)
{
	fprintf(out, "{\"actual\": %" PRIu64 ", \"stats\": {", b->actual);
	for (unsigned int i = 0; i < MSG_VM_BALLOON_NSTATS; i++) {
		fprintf(out, "%s\"%s\": ", i ? ", " : "", balloon_stats[i].name);
		if (b->valid & (1u << i))
			fprintf(out, "%" PRIu64, b->stats[i]);
		else
			fputs("null", out);
	}
	fputs("}}\n", out);
}

void ctl_print_balloon_stats(FILE *out, const struct msg_vm_balloon_stats *b, bool json)
{
	if (json)
		stats_json(out, b);
	else
		stats_text(out, b);
}

/* ---- events ---- */

static void event_detail(FILE *out, const struct event_kind *k, const struct msg_vm_event *e)
{
	switch (k ? k->detail : DETAIL_VALUE) {
	case DETAIL_VALUE:
		fprintf(out, " value=%" PRIu64, e->value);
		break;
	case DETAIL_BYTES:
		fprintf(out, " bytes=%" PRIu64, e->value);
		break;
	case DETAIL_EXIT:
		fprintf(out, " pid=%" PRIu32 " status=%" PRId32, e->pid, e->status);
		break;
	case DETAIL_STATE:
		fprintf(out, " state=%s",
			ctl_state_name(e->value > UINT32_MAX ? UINT32_MAX : (uint32_t)e->value));
		break;
	case DETAIL_PLUG:
		fputs(e->value ? " added" : " removed", out);
		break;
	}
}

static void event_text(FILE *out, const struct msg_vm_event *e)
{
	const struct event_kind *k = event_kind(e->event);

	fprintf(out, "%" PRIu64 " %s ", e->time_ms, k ? k->name : "unknown");
	if (e->device[0])
		text_put(out, e->device);
	else
		fputc('-', out);
	event_detail(out, k, e);
	if (e->text[0]) {
		fputs(" (", out);
		text_put(out, e->text);
		fputc(')', out);
	}
	fputc('\n', out);
}

static void event_json(FILE *out, const struct msg_vm_event *e)
{
	const char *name = ctl_event_name(e->event);

	fputs("{\"event\": ", out);
	json_string(out, name ? name : "unknown");
	fprintf(out, ", \"time_ms\": %" PRIu64 ", \"device\": ", e->time_ms);
	json_string_or_null(out, e->device);
	fprintf(out, ", \"pid\": %" PRIu32 ", \"status\": %" PRId32 ", \"value\": %" PRIu64, e->pid,
		e->status, e->value);
	fputs(", \"text\": ", out);
	json_string_or_null(out, e->text);
	fputs("}\n", out);
}

void ctl_print_event(FILE *out, const struct msg_vm_event *e, bool json)
{
	if (json)
		event_json(out, e);
	else
		event_text(out, e);
}

/* ---- plain answers ---- */

void ctl_print_hotplug_net(FILE *out, const struct msg_vm_hotplug_net_done *h, bool json)
{
	char pci[16];

	ctl_format_pci(h->pci_addr, pci, sizeof(pci));
	if (!json) {
		fputs("device: ", out);
		text_put(out, h->device);
		fprintf(out, "\npci:    %s\n", pci);
		return;
	}
	fputs("{\"command\": \"hotplug-net add\", \"device\": ", out);
	json_string(out, h->device);
	fprintf(out, ", \"pci\": \"%s\"}\n", pci);
}

void ctl_print_ok(FILE *out, const char *command, bool json)
{
	if (!json)
		return;
	fputs("{\"command\": ", out);
	json_string(out, command);
	fputs(", \"ok\": true}\n", out);
}

void ctl_print_err_json(FILE *out, const char *command, const struct msg_vm_err *e)
{
	fputs("{\"command\": ", out);
	json_string(out, command);
	fprintf(out, ", \"ok\": false, \"errno\": %" PRId32 ", \"error\": ", -e->error);
	json_string(out, strerror(-e->error));
	fputs(", \"message\": ", out);
	json_string_or_null(out, e->message);
	fputs("}\n", out);
}
