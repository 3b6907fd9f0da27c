/*
 * Learning a policy (vmm policy learn): devices run under a filter that shows every syscall to
 * a seccomp listener (SECCOMP_MODE_LEARN), handed to main; a thread here answers each one with
 * "carry on" and records it against the device's policy. The report says, per device, which
 * syscalls it made that its policy lacks (or whose arguments the policy refuses) and which
 * allowed syscalls it never made.
 */
#ifndef VMM_JAIL_LEARN_H
#define VMM_JAIL_LEARN_H

#include <stdio.h>

struct jail_learn;

/* Starts the listener thread. NULL on failure (logged). */
struct jail_learn *jail_learn_start(void);
/*
 * Watches device `name` (policy at policy_path) through its seccomp listener fd, whose
 * ownership passes here, on failure too. 0 or -errno.
 */
int jail_learn_add(struct jail_learn *l, const char *name, const char *policy_path, int listener);
/* Stops the thread and closes the listeners; what was seen stays for the report. */
void jail_learn_stop(struct jail_learn *l);
/* Writes the report; returns how many (device, syscall) pairs its policy lacks. */
int jail_learn_report(struct jail_learn *l, FILE *out);
void jail_learn_free(struct jail_learn *l);

#endif
