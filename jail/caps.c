/* Capabilities, through libcap-ng. See jail.h. */
#include "jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <sys/prctl.h>

int caps_drop_bounding(void)
{
	/* Needs CAP_SETPCAP: done before the uid change takes it away. */
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOUNDS);
	return capng_apply(CAPNG_SELECT_BOUNDS) < 0 ? -EPERM : 0;
}

int caps_clear_all(void)
{
	capng_clear(CAPNG_SELECT_CAPS);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	/* Check what the kernel now says, bounding set included. */
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		return -EPERM;
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0)
			return -EPERM;
	return 0;
}

int caps_keep_only(const int *keep, size_t n)
{
	capng_clear(CAPNG_SELECT_ALL);
	for (size_t i = 0; i < n; i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned int)keep[i]) < 0)
			return -EINVAL;
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return -EPERM;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
