/* The default control socket path (ctl_path.h). */
#include "ctl_path.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg_vm.h"

static bool name_ok(const char *name)
{
	return name[0] && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

int ctl_socket_path(uid_t uid, const char *xdg, const char *name, char *out, size_t len)
{
	int n;

	if (!name_ok(name))
		return -EINVAL;
	if (uid == 0)
		n = snprintf(out, len, "/run/vmm/%s.sock", name);
	/* a relative XDG_RUNTIME_DIR is invalid by the spec: ignored, as the spec asks */
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, len, "%s/vmm/%s.sock", xdg, name);
	else
		n = snprintf(out, len, "/tmp/vmm-%u/%s.sock", (unsigned int)uid, name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= MSG_VM_SOCKET_PATH)
		return -ENAMETOOLONG;
	return 0;
}

int ctl_default_socket(const char *name, char *out, size_t len)
{
	return ctl_socket_path(geteuid(), getenv("XDG_RUNTIME_DIR"), name, out, len);
}
