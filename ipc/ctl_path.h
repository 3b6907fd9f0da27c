/*
 * Where a VM's control socket lives by default (issue 5): vmm creates it there and vmm-ctl
 * --name finds it there, so the rule is written once, here.
 *
 *   root:                       /run/vmm/NAME.sock
 *   others, XDG_RUNTIME_DIR set: $XDG_RUNTIME_DIR/vmm/NAME.sock
 *   others:                     /tmp/vmm-UID/NAME.sock
 *
 * The server makes the folder (mode 0700) when it is missing.
 */
#ifndef VMM_IPC_CTL_PATH_H
#define VMM_IPC_CTL_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* The name when none is given: [vm] name's default too. */
#define CTL_DEFAULT_NAME "vmm"

/*
 * The rule above for uid and xdg (the value of XDG_RUNTIME_DIR; NULL or "" when unset; only an
 * absolute one counts). Writes the path to out[0..len). 0, -EINVAL for a name that is empty,
 * ".", ".." or holds a '/', or -ENAMETOOLONG when the path does not fit out or a sun_path.
 */
int ctl_socket_path(uid_t uid, const char *xdg, const char *name, char *out, size_t len);
/* ctl_socket_path() for this process: its effective uid and environment. */
int ctl_default_socket(const char *name, char *out, size_t len);

#endif
