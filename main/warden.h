/*
 * The jail warden: a small child that main forks while it still has its privileges, before
 * its lockdown, to create the namespaces of every jailed device from then on, hot-plugged ones
 * included, when main itself can no longer (it keeps CAP_KILL at most, and vmm.policy refuses
 * clone with namespace flags). As crosvm's jail warden, in a few hundred lines.
 *
 * Main sends argv and the device's other starting fds over a SOCK_SEQPACKET socketpair; the
 * warden makes the device's two tubes (ctrl and mem: so main, locked down, never creates a
 * socket), clones the device with jail_clone_sibling() (CLONE_PARENT: main stays the device's
 * parent, reaps it and hears SIGCHLD, exactly as for a device it cloned itself), runs the
 * caller's exec function in it, and answers with the pid or -errno and main's ends of the
 * tubes.
 *
 * What the warden keeps: its socket, /dev/null, stderr (vmm's: the devices log there), and (when vmm runs as root) only the
 * capabilities a device needs to jail itself after exec (CAP_SYS_ADMIN for namespaces, mounts
 * and pivot_root; CAP_SETUID/CAP_SETGID to become nobody; CAP_SETPCAP to empty the bounding
 * set), also as its bounding set. It refuses an argv whose first option is not --jail, so a compromised main
 * cannot use it to start an unjailed privileged process. It dies with main (PDEATHSIG) and
 * when main closes the socket.
 */
#ifndef VMM_MAIN_WARDEN_H
#define VMM_MAIN_WARDEN_H

#include <stdbool.h>
#include <sys/types.h>

#define WARDEN_FDS 5	       /* a device's starting fds, -1 for an absent one */
#define WARDEN_FD_CTRL 0       /* ... of which the warden makes these two, the tubes */
#define WARDEN_FD_MEM 1
#define WARDEN_ARGS_MAX 2048   /* argv, NUL-separated */

/* Runs in the new device process (only async-signal-safe calls); must not return. */
typedef void (*warden_exec_fn)(void *ctx, const int *fds, char *const *argv);

struct warden {
	pid_t pid; /* -1: not running */
	int fd;	   /* main's end */
};

/*
 * Forks the warden. userns: devices also get a user namespace (vmm is not root). keep_fd
 * (e.g. /dev/null) stays open in the warden for exec. 0 or -errno.
 */
int warden_start(struct warden *w, bool userns, int keep_fd, warden_exec_fn exec, void *ctx);
/*
 * Starts one device with fds (those at WARDEN_FD_CTRL and WARDEN_FD_MEM are ignored: the warden
 * makes the tubes) and argv: its pid (main's child) and main's ends of its ctrl and mem tubes
 * (CLOEXEC), or -errno. Main side, any thread.
 */
pid_t warden_spawn(struct warden *w, const int fds[WARDEN_FDS], char *const *argv, int *ctrl,
		   int *mem);
/* Ends the warden and reaps it (bounded). */
void warden_stop(struct warden *w);

#endif
