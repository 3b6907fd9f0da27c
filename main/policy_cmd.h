/*
 * `vmm policy VERB ...`: the seccomp policies seen from the command line.
 *
 *   vmm policy check FILE...        parse and compile each file (never load it); warnings and
 *                                   errors as FILE:LINE:COL on stderr, "FILE: ok (N syscalls)"
 *   vmm policy audit [DEVICE...]    each device's effective allow-list, includes resolved: a
 *        [--json] [--policy-dir DIR]  table (or one JSON document) of syscall, condition, where
 *                                   it is defined and the comment that justifies it
 *   vmm policy learn --config F     runs the VM with every device's syscalls shown to main
 *        [--seconds N] [run flags]    and reports what its policy lacks or never needed
 */
#ifndef VMM_MAIN_POLICY_CMD_H
#define VMM_MAIN_POLICY_CMD_H

#include <stdio.h>

/*
 * Runs `vmm policy` with args[0..n) the words after "policy" (args[0] the verb). Returns the
 * exit status: 0 ok, 1 a policy with an error or a missing one, 2 a usage error.
 */
int policy_cmd_main(int n, char **args);

/* The `vmm policy --help` text. */
void policy_cmd_usage(FILE *out);
/* One line "PREFIX vmm policy VERB ARGS" per verb, "usage:" or "      " as first's PREFIX. */
void policy_cmd_synopsis(FILE *out, const char *first);

#endif
