/* ctl: vmm-ctl's size parser, its text and JSON rendering (exact output), the default socket. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_format.h"
#include "json.h"
#include "ctl_path.h"
#include "util.h"

TestSuite(ctl);

/* ---- sizes ---- */

static uint64_t size_ok(const char *s, uint64_t bare_unit, uint64_t align)
{
	uint64_t v = 12345;

	cr_assert_eq(ctl_parse_size(s, bare_unit, align, &v), 0, "'%s' refused", s);
	return v;
}

static void size_bad(const char *s, uint64_t bare_unit, uint64_t align, int want)
{
	uint64_t v = 12345;

	cr_assert_eq(ctl_parse_size(s, bare_unit, align, &v), want, "'%s': want %d", s, want);
	cr_assert_eq(v, 12345, "'%s': out written on failure", s);
}

Test(ctl, size_suffixes)
{
	cr_assert_eq(size_ok("0", 1, 0), 0);
	cr_assert_eq(size_ok("1", 1, 0), 1);
	cr_assert_eq(size_ok("1K", 1, 0), 1024);
	cr_assert_eq(size_ok("4k", 1, 0), 4096);
	cr_assert_eq(size_ok("3M", 1, 0), MIB(3));
	cr_assert_eq(size_ok("3m", 1, 0), MIB(3));
	cr_assert_eq(size_ok("2G", 1, 0), GIB(2));
	cr_assert_eq(size_ok("2g", 1, 0), GIB(2));
	cr_assert_eq(size_ok("007", 1, 0), 7);
}

Test(ctl, size_bare_unit)
{
	/* balloon set: a bare number is MiB, a suffix still counts as written */
	cr_assert_eq(size_ok("512", MIB(1), 4096), MIB(512));
	cr_assert_eq(size_ok("512K", MIB(1), 4096), KIB(512));
	cr_assert_eq(size_ok("0", MIB(1), 4096), 0);
}

Test(ctl, size_edges)
{
	cr_assert_eq(size_ok("18446744073709551615", 1, 0), UINT64_MAX);
	size_bad("18446744073709551616", 1, 0, -ERANGE);
	size_bad("99999999999999999999999", 1, 0, -ERANGE);
	/* 2^34 G is 2^64 bytes: one too many */
	cr_assert_eq(size_ok("17179869183G", 1, 0), GIB(17179869183ULL));
	size_bad("17179869184G", 1, 0, -ERANGE);
	/* 2^44 MiB, bare */
	cr_assert_eq(size_ok("17592186044415", MIB(1), 0), MIB(17592186044415ULL));
	size_bad("17592186044416", MIB(1), 0, -ERANGE);
	size_bad("18014398509481984K", 1, 0, -ERANGE);
}

Test(ctl, size_alignment)
{
	cr_assert_eq(size_ok("4K", 1, 4096), 4096);
	size_bad("1K", 1, 4096, -EDOM);
	size_bad("4097", 1, 4096, -EDOM);
	cr_assert_eq(size_ok("512", 1, 512), 512);
	size_bad("513", 1, 512, -EDOM);
	size_bad("100", 1, 512, -EDOM);
	/* align 1 and 0 take anything */
	cr_assert_eq(size_ok("513", 1, 1), 513);
}

Test(ctl, size_malformed)
{
	static const char *const bad[] = {
	    "",	    "-1", "+1",	 " 1",	  "1 ",	   "0x10", "1KB", "1KiB", "1T",
	    "1.5G", "K",  "1e3", "1,000", "1_000", "M1",   "1 G", "1\n",  "\t1",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		size_bad(bad[i], 1, 0, -EINVAL);
}

Test(ctl, format_bytes)
{
	static const struct {
		uint64_t bytes;
		const char *want;
	} cases[] = {
	    {0, "0 B"},
	    {1023, "1023 B"},
	    {1024, "1 KiB"},
	    {1536, "1536 B"},
	    {KIB(1536) + 512, "1.5 MiB"},
	    {KIB(1023) + 1000, "1048552 B"},
	    {MIB(1) + 1, "1.0 MiB"},
	    {MIB(2) - 1, "2.0 MiB"},
	    {MIB(256), "256 MiB"},
	    {MIB(1536), "1536 MiB"},
	    {GIB(2) - MIB(200) + KIB(300), "1.8 GiB"},
	    {GIB(3), "3 GiB"},
	    {GIB(1024), "1 TiB"},
	    {UINT64_MAX, "16.0 EiB"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ctl_format_bytes(cases[i].bytes, buf, sizeof(buf));
		cr_assert_str_eq(buf, cases[i].want, "%llu", (unsigned long long)cases[i].bytes);
	}
}

/* ---- names ---- */

Test(ctl, names)
{
	cr_assert_str_eq(ctl_state_name(MSG_VM_STATE_RUNNING), "running");
	cr_assert_str_eq(ctl_state_name(MSG_VM_STATE_VCPUS_SUSPENDED), "vcpus-suspended");
	cr_assert_str_eq(ctl_state_name(MSG_VM_STATE_SUSPENDED), "suspended");
	cr_assert_str_eq(ctl_state_name(MSG_VM_STATE_STOPPING), "stopping");
	cr_assert_str_eq(ctl_state_name(4), "unknown");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_BALLOON_RESIZE), "balloon-resize");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_BALLOON_OOM_DEFLATION),
			 "balloon-oom-deflation");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_BALLOON_WS_REPORT), "balloon-ws-report");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_DEVICE_EXIT), "device-exit");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_VM_STATE), "vm-state");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_DISK_RESIZE), "disk-resize");
	cr_assert_str_eq(ctl_event_name(MSG_VM_EVENT_NET_HOTPLUG), "net-hotplug");
	cr_assert_null(ctl_event_name(0));
	cr_assert_null(ctl_event_name(0x3));
	cr_assert_null(ctl_event_name(0x80));
	cr_assert_str_eq(ctl_balloon_stat_name(0), "swap-in");
	cr_assert_str_eq(ctl_balloon_stat_name(9), "hugetlb-failures");
	cr_assert_null(ctl_balloon_stat_name(MSG_VM_BALLOON_NSTATS));
}

/* ---- rendering ---- */

/* Output of the print calls between capture_start() and capture_end(), as a string. */
struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void capture_start(struct capture *c)
{
	c->f = open_memstream(&c->buf, &c->len);
	cr_assert_not_null(c->f);
}

static void capture_check(struct capture *c, const char *want)
{
	cr_assert_eq(fclose(c->f), 0);
	cr_assert_str_eq(c->buf, want);
	free(c->buf);
}

static void json_string_is(const char *in, const char *want)
{
	struct capture c;

	capture_start(&c);
	json_string(c.f, in);
	capture_check(&c, want);
}

Test(ctl, json_string_escapes)
{
	json_string_is("", "\"\"");
	json_string_is("blk0", "\"blk0\"");
	json_string_is("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_string_is("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	json_string_is("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	json_string_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac "
								    "\xf0\x9f\x98\x80\"");
	/* not UTF-8: a lone byte, an overlong form, a surrogate, a cut sequence */
	json_string_is("\xff", "\"\\ufffd\"");
	json_string_is("\xc0\x80", "\"\\ufffd\\ufffd\"");
	json_string_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	json_string_is("x\xe2\x82", "\"x\\ufffd\\ufffd\"");
}

static void set(char *dst, size_t size, const char *s)
{
	cr_assert_eq(msg_set_str(dst, size, s), 0);
}

static void sample_status(struct msg_vm_status *s)
{
	memset(s, 0, sizeof(*s));
	set(s->name, sizeof(s->name), "web");
	s->state = MSG_VM_STATE_VCPUS_SUSPENDED;
	s->pid = 4121;
	s->uptime_ms = 3723456;
	s->memory_bytes = MIB(1536);
	s->nvcpus = 2;
	s->ndevices = 2;
	set(s->devices[0].name, MSG_VM_DEVICE_NAME, "blk0");
	set(s->devices[0].type, MSG_VM_DEVICE_NAME, "block");
	s->devices[0].pid = 4122;
	s->devices[0].flags = MSG_VM_DEV_JAILED | MSG_VM_DEV_ALIVE | MSG_VM_DEV_DRIVER_OK;
	s->devices[0].features = 0x130000044ULL;
	s->devices[0].pci_addr = MSG_VM_PCI_ADDR(0, 2);
	s->devices[0].virtio_type = 2;
	set(s->devices[1].name, MSG_VM_DEVICE_NAME, "rng0");
	set(s->devices[1].type, MSG_VM_DEVICE_NAME, "entropy");
	s->devices[1].flags = MSG_VM_DEV_NEEDS_RESET;
	s->devices[1].features = 0xffffffffffffffffULL;
	s->devices[1].pci_addr = MSG_VM_PCI_ADDR(1, 0);
	snprintf(s->devices[1].backend, sizeof(s->devices[1].backend), "tap7");
	s->devices[1].virtio_type = 4;
}

Test(ctl, status_text)
{
	struct msg_vm_status s;
	struct capture c;

	sample_status(&s);
	capture_start(&c);
	ctl_print_status(c.f, &s, false);
	capture_check(&c, "name:    web\n"
			  "state:   vcpus-suspended\n"
			  "pid:     4121\n"
			  "uptime:  1h02m03.456s\n"
			  "vcpus:   2\n"
			  "memory:  1536 MiB\n"
			  "devices: 2\n"
			  "  NAME  TYPE     BACKEND  PID   JAILED  ALIVE  FEATURES            "
			  "DRIVER_OK  NEEDS_RESET  PCI\n"
			  "  blk0  block    -        4122  yes     yes    0x130000044         "
			  "yes        no           00:02.0\n"
			  "  rng0  entropy  tap7     -     no      no     0xffffffffffffffff  "
			  "no         yes          01:00.0\n");
}

Test(ctl, status_text_no_devices_short_uptime)
{
	struct msg_vm_status s;
	struct capture c;

	sample_status(&s);
	memset(s.devices, 0, sizeof(s.devices));
	s.ndevices = 0;
	s.state = MSG_VM_STATE_RUNNING;
	s.uptime_ms = 61005;
	s.memory_bytes = GIB(4);
	/* a name with an escape sequence is shown defused */
	set(s.name, sizeof(s.name), "a\x1b[2Jb");
	capture_start(&c);
	ctl_print_status(c.f, &s, false);
	capture_check(&c, "name:    a?[2Jb\n"
			  "state:   running\n"
			  "pid:     4121\n"
			  "uptime:  1m01.005s\n"
			  "vcpus:   2\n"
			  "memory:  4 GiB\n"
			  "devices: 0\n");
	s.uptime_ms = 999;
	capture_start(&c);
	ctl_print_status(c.f, &s, false);
	cr_assert_eq(fclose(c.f), 0);
	cr_assert_not_null(strstr(c.buf, "uptime:  0.999s\n"));
	free(c.buf);
}

Test(ctl, status_json)
{
	struct msg_vm_status s;
	struct capture c;

	sample_status(&s);
	set(s.name, sizeof(s.name), "we\"b");
	capture_start(&c);
	ctl_print_status(c.f, &s, true);
	capture_check(
	    &c, "{\"name\": \"we\\\"b\", \"state\": \"vcpus-suspended\", \"pid\": 4121, "
		"\"uptime_ms\": 3723456, \"vcpus\": 2, \"memory_bytes\": 1610612736, "
		"\"devices\": ["
		"{\"name\": \"blk0\", \"type\": \"block\", \"pid\": 4122, \"jailed\": true, "
		"\"alive\": true, \"features\": \"0x130000044\", \"driver_ok\": true, "
		"\"needs_reset\": false, \"backend\": null, \"pci\": \"00:02.0\", "
		"\"virtio_type\": 2}, "
		"{\"name\": \"rng0\", \"type\": \"entropy\", \"pid\": null, \"jailed\": false, "
		"\"alive\": false, \"features\": \"0xffffffffffffffff\", \"driver_ok\": false, "
		"\"needs_reset\": true, \"backend\": \"tap7\", \"pci\": \"01:00.0\", "
		"\"virtio_type\": 4}]}\n");
	s.ndevices = 0;
	memset(s.devices, 0, sizeof(s.devices));
	capture_start(&c);
	ctl_print_status(c.f, &s, true);
	cr_assert_eq(fclose(c.f), 0);
	cr_assert_not_null(strstr(c.buf, "\"devices\": []}\n"));
	free(c.buf);
}

Test(ctl, pid_tid)
{
	struct msg_vm_pid_tid p = {.pid = 4121, .nvcpus = 3, .tids = {4123, 4124, 4125}};
	struct capture c;

	capture_start(&c);
	ctl_print_pid_tid(c.f, &p, false);
	capture_check(&c, "pid 4121\nvcpu0 4123\nvcpu1 4124\nvcpu2 4125\n");
	capture_start(&c);
	ctl_print_pid_tid(c.f, &p, true);
	capture_check(&c, "{\"pid\": 4121, \"vcpu_tids\": [4123, 4124, 4125]}\n");
}

static void sample_stats(struct msg_vm_balloon_stats *b)
{
	memset(b, 0, sizeof(*b));
	b->actual = MIB(512) + KIB(4);
	b->valid = 0x37f; /* all but disk-caches (7) */
	b->stats[0] = KIB(8);
	b->stats[2] = 12;
	b->stats[3] = 3456;
	b->stats[4] = MIB(200);
	b->stats[5] = GIB(2);
	b->stats[6] = MIB(300);
	b->stats[8] = 7;
	b->stats[9] = 1;
}

Test(ctl, balloon_stats_text)
{
	struct msg_vm_balloon_stats b;
	struct capture c;

	sample_stats(&b);
	capture_start(&c);
	ctl_print_balloon_stats(c.f, &b, false);
	capture_check(&c, "actual               524292 KiB\n"
			  "swap-in              8 KiB\n"
			  "swap-out             0 B\n"
			  "major-faults         12\n"
			  "minor-faults         3456\n"
			  "free-memory          200 MiB\n"
			  "total-memory         2 GiB\n"
			  "available-memory     300 MiB\n"
			  "disk-caches          -\n"
			  "hugetlb-allocations  7\n"
			  "hugetlb-failures     1\n");
}

Test(ctl, balloon_stats_json)
{
	struct msg_vm_balloon_stats b;
	struct capture c;

	sample_stats(&b);
	capture_start(&c);
	ctl_print_balloon_stats(c.f, &b, true);
	capture_check(&c, "{\"actual\": 536875008, \"stats\": {\"swap-in\": 8192, \"swap-out\": 0, "
			  "\"major-faults\": 12, \"minor-faults\": 3456, "
			  "\"free-memory\": 209715200, \"total-memory\": 2147483648, "
			  "\"available-memory\": 314572800, \"disk-caches\": null, "
			  "\"hugetlb-allocations\": 7, \"hugetlb-failures\": 1}}\n");
}

static void event_is(const struct msg_vm_event *e, const char *text, const char *json)
{
	struct capture c;

	capture_start(&c);
	ctl_print_event(c.f, e, false);
	capture_check(&c, text);
	capture_start(&c);
	ctl_print_event(c.f, e, true);
	capture_check(&c, json);
}

Test(ctl, event_device_exit)
{
	struct msg_vm_event e = {
	    .event = MSG_VM_EVENT_DEVICE_EXIT, .time_ms = 1500, .pid = 4122, .status = -9};

	set(e.device, sizeof(e.device), "blk0");
	set(e.text, sizeof(e.text), "killed by \"SIGKILL\"\n");
	event_is(&e, "1500 device-exit blk0 pid=4122 status=-9 (killed by \"SIGKILL\"?)\n",
		 "{\"event\": \"device-exit\", \"time_ms\": 1500, \"device\": \"blk0\", "
		 "\"pid\": 4122, \"status\": -9, \"value\": 0, "
		 "\"text\": \"killed by \\\"SIGKILL\\\"\\n\"}\n");
}

Test(ctl, event_vm_state)
{
	struct msg_vm_event e = {
	    .event = MSG_VM_EVENT_VM_STATE, .time_ms = 2000, .value = MSG_VM_STATE_STOPPING};

	event_is(&e, "2000 vm-state - state=stopping\n",
		 "{\"event\": \"vm-state\", \"time_ms\": 2000, \"device\": null, \"pid\": 0, "
		 "\"status\": 0, \"value\": 3, \"text\": null}\n");
	e.value = 1ULL << 40;
	event_is(&e, "2000 vm-state - state=unknown\n",
		 "{\"event\": \"vm-state\", \"time_ms\": 2000, \"device\": null, \"pid\": 0, "
		 "\"status\": 0, \"value\": 1099511627776, \"text\": null}\n");
}

Test(ctl, event_sizes_and_plugs)
{
	struct msg_vm_event e = {
	    .event = MSG_VM_EVENT_BALLOON_RESIZE, .time_ms = 7, .value = MIB(512)};

	set(e.device, sizeof(e.device), "balloon0");
	event_is(&e, "7 balloon-resize balloon0 bytes=536870912\n",
		 "{\"event\": \"balloon-resize\", \"time_ms\": 7, \"device\": \"balloon0\", "
		 "\"pid\": 0, \"status\": 0, \"value\": 536870912, \"text\": null}\n");
	e.event = MSG_VM_EVENT_DISK_RESIZE;
	set(e.device, sizeof(e.device), "blk1");
	e.value = GIB(8);
	event_is(&e, "7 disk-resize blk1 bytes=8589934592\n",
		 "{\"event\": \"disk-resize\", \"time_ms\": 7, \"device\": \"blk1\", \"pid\": 0, "
		 "\"status\": 0, \"value\": 8589934592, \"text\": null}\n");
	e.event = MSG_VM_EVENT_NET_HOTPLUG;
	set(e.device, sizeof(e.device), "net0");
	e.value = 1;
	event_is(&e, "7 net-hotplug net0 added\n",
		 "{\"event\": \"net-hotplug\", \"time_ms\": 7, \"device\": \"net0\", \"pid\": 0, "
		 "\"status\": 0, \"value\": 1, \"text\": null}\n");
	e.value = 0;
	event_is(&e, "7 net-hotplug net0 removed\n",
		 "{\"event\": \"net-hotplug\", \"time_ms\": 7, \"device\": \"net0\", \"pid\": 0, "
		 "\"status\": 0, \"value\": 0, \"text\": null}\n");
	e.event = MSG_VM_EVENT_BALLOON_OOM_DEFLATION;
	set(e.device, sizeof(e.device), "");
	e.value = 42;
	event_is(&e, "7 balloon-oom-deflation - value=42\n",
		 "{\"event\": \"balloon-oom-deflation\", \"time_ms\": 7, \"device\": null, "
		 "\"pid\": 0, \"status\": 0, \"value\": 42, \"text\": null}\n");
	e.event = MSG_VM_EVENT_BALLOON_WS_REPORT;
	event_is(&e, "7 balloon-ws-report - value=42\n",
		 "{\"event\": \"balloon-ws-report\", \"time_ms\": 7, \"device\": null, "
		 "\"pid\": 0, \"status\": 0, \"value\": 42, \"text\": null}\n");
}

Test(ctl, ok_and_err)
{
	struct msg_vm_err e = {.error = -ENOENT};
	struct capture c;

	capture_start(&c);
	ctl_print_ok(c.f, "stop", false);
	capture_check(&c, "");
	capture_start(&c);
	ctl_print_ok(c.f, "balloon set", true);
	capture_check(&c, "{\"command\": \"balloon set\", \"ok\": true}\n");
	set(e.message, sizeof(e.message), "no disk 5");
	capture_start(&c);
	ctl_print_err_json(c.f, "disk resize", &e);
	capture_check(&c,
		      "{\"command\": \"disk resize\", \"ok\": false, \"errno\": 2, "
		      "\"error\": \"No such file or directory\", \"message\": \"no disk 5\"}\n");
	e = (struct msg_vm_err){.error = -EBUSY};
	capture_start(&c);
	ctl_print_err_json(c.f, "stop", &e);
	capture_check(&c, "{\"command\": \"stop\", \"ok\": false, \"errno\": 16, "
			  "\"error\": \"Device or resource busy\", \"message\": null}\n");
}

static void hotplug_net_is(const char *device, uint32_t pci, const char *text, const char *json)
{
	struct msg_vm_hotplug_net_done h = {.pci_addr = pci};
	struct capture c;

	set(h.device, sizeof(h.device), device);
	capture_start(&c);
	ctl_print_hotplug_net(c.f, &h, false);
	capture_check(&c, text);
	capture_start(&c);
	ctl_print_hotplug_net(c.f, &h, true);
	capture_check(&c, json);
}

Test(ctl, hotplug_net)
{
	hotplug_net_is("net1", MSG_VM_PCI_ADDR(1, 0), "device: net1\npci:    01:00.0\n",
		       "{\"command\": \"hotplug-net add\", \"device\": \"net1\", "
		       "\"pci\": \"01:00.0\"}\n");
	/* the name comes from the VM: no escape sequence reaches the terminal, JSON stays JSON */
	hotplug_net_is("n\x1b[2J\"\\", MSG_VM_PCI_ADDR(0, 0x1f) | 7,
		       "device: n?[2J\"\\\npci:    00:1f.7\n",
		       "{\"command\": \"hotplug-net add\", \"device\": \"n\\u001b[2J\\\"\\\\\", "
		       "\"pci\": \"00:1f.7\"}\n");
}

/* ---- the default socket ---- */

static void path_is(uid_t uid, const char *xdg, const char *name, const char *want)
{
	char out[MSG_VM_SOCKET_PATH];

	cr_assert_eq(ctl_socket_path(uid, xdg, name, out, sizeof(out)), 0);
	cr_assert_str_eq(out, want);
}

Test(ctl, socket_path_rule)
{
	path_is(0, NULL, "vmm", "/run/vmm/vmm.sock");
	/* root ignores XDG_RUNTIME_DIR: a sudo'ed shell may still carry a user's */
	path_is(0, "/run/user/1000", "web", "/run/vmm/web.sock");
	path_is(1000, "/run/user/1000", "web", "/run/user/1000/vmm/web.sock");
	path_is(1000, NULL, "web", "/tmp/vmm-1000/web.sock");
	path_is(1000, "", "web", "/tmp/vmm-1000/web.sock");
	/* relative: invalid by the XDG spec, so ignored */
	path_is(1000, "run/user", "web", "/tmp/vmm-1000/web.sock");
	path_is(4294967294u, NULL, "a.b-c_d", "/tmp/vmm-4294967294/a.b-c_d.sock");
}

Test(ctl, socket_path_refused)
{
	char out[MSG_VM_SOCKET_PATH], big[200];

	cr_assert_eq(ctl_socket_path(1000, NULL, "", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ctl_socket_path(1000, NULL, ".", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ctl_socket_path(1000, NULL, "..", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ctl_socket_path(1000, NULL, "a/b", out, sizeof(out)), -EINVAL);
	cr_assert_eq(ctl_socket_path(0, NULL, "../etc", out, sizeof(out)), -EINVAL);
	/* longer than a sun_path, even with room in out */
	memset(big, 'x', 93);
	big[93] = '\0';
	cr_assert_eq(ctl_socket_path(0, NULL, big, out, sizeof(out)), 0);
	cr_assert_eq(strlen(out), 107);
	big[93] = 'x';
	big[94] = '\0';
	cr_assert_eq(ctl_socket_path(0, NULL, big, big + 100, 100), -ENAMETOOLONG);
	cr_assert_eq(ctl_socket_path(0, NULL, big, out, sizeof(out)), -ENAMETOOLONG);
	/* too small an out */
	cr_assert_eq(ctl_socket_path(0, NULL, "vmm", out, 17), -ENAMETOOLONG);
	cr_assert_eq(ctl_socket_path(0, NULL, "vmm", out, 18), 0);
}

Test(ctl, default_socket_this_process)
{
	char out[MSG_VM_SOCKET_PATH], want[MSG_VM_SOCKET_PATH];

	cr_assert_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
	cr_assert_eq(ctl_default_socket("web", out, sizeof(out)), 0);
	if (geteuid() == 0)
		snprintf(want, sizeof(want), "/run/vmm/web.sock");
	else
		snprintf(want, sizeof(want), "/run/user/4242/vmm/web.sock");
	cr_assert_str_eq(out, want);
	cr_assert_eq(unsetenv("XDG_RUNTIME_DIR"), 0);
	cr_assert_eq(ctl_default_socket("web", out, sizeof(out)), 0);
	if (geteuid() != 0)
		snprintf(want, sizeof(want), "/tmp/vmm-%u/web.sock", (unsigned int)geteuid());
	cr_assert_str_eq(out, want);
}
