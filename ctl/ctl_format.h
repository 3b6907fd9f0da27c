/*
 * vmm-ctl's pure parts: reading sizes and rendering answers, as text for people or as JSON
 * (one object per line) for programs. Nothing here touches a socket, so the unit tests check
 * the exact output.
 */
#ifndef VMM_CTL_CTL_FORMAT_H
#define VMM_CTL_CTL_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "msg_vm.h"

/*
 * Reads a size: decimal digits, then optionally one suffix K, M or G (binary, either case).
 * Without a suffix the number counts in units of bare_unit bytes (1, or MiB for balloon set).
 * 0, -EINVAL (empty, a sign, a space, anything but digits and one known suffix), -ERANGE (more
 * than 2^64 - 1 bytes) or -EDOM (not a multiple of align; align 0 or 1 takes any size).
 */
int ctl_parse_size(const char *s, uint64_t bare_unit, uint64_t align, uint64_t *out);

/*
 * A byte count for people, exact in the largest unit it reaches or the one below ("2 GiB",
 * "1536 MiB", "123 B"), else rounded to one decimal in the largest ("1.8 GiB").
 */
void ctl_format_bytes(uint64_t bytes, char *buf, size_t len);

/* "running", "vcpus-suspended", "suspended", "stopping" or "unknown". */
const char *ctl_state_name(uint32_t state);
/* "01:00.0" from MSG_VM_PCI_ADDR(). */
void ctl_format_pci(uint32_t addr, char *buf, size_t len);
/* The event's name ("device-exit") or NULL for anything but one known MSG_VM_EVENT_* bit. */
const char *ctl_event_name(uint32_t event);
/* The name of balloon statistic tag i ("swap-in"), NULL from MSG_VM_BALLOON_NSTATS on. */
const char *ctl_balloon_stat_name(unsigned int tag);


/* The answers, each ending in a newline; json: one object on one line. */
void ctl_print_status(FILE *out, const struct msg_vm_status *s, bool json);
void ctl_print_pid_tid(FILE *out, const struct msg_vm_pid_tid *p, bool json);
void ctl_print_balloon_stats(FILE *out, const struct msg_vm_balloon_stats *b, bool json);
void ctl_print_event(FILE *out, const struct msg_vm_event *e, bool json);
/* A command done (RESP_OK): nothing as text, {"command": ..., "ok": true} as JSON. */
void ctl_print_ok(FILE *out, const char *command, bool json);
/* hotplug-net add's answer: the new NIC's device name and PCI address. */
void ctl_print_hotplug_net(FILE *out, const struct msg_vm_hotplug_net_done *h, bool json);
/* A refusal (RESP_ERR) as JSON: {"command", "ok": false, "errno", "error", "message"}. */
void ctl_print_err_json(FILE *out, const char *command, const struct msg_vm_err *e);

#endif
