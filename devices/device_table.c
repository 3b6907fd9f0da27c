/* Every device vmm-device can be: one row each. */
#include <string.h>

#include "util.h"
#include "vdev.h"

extern const struct vdev_ops rng_ops;
extern const struct vdev_ops blk_ops;
extern const struct vdev_ops balloon_ops;
extern const struct vdev_ops net_ops;

static const struct vdev_ops *const devices[] = {
	&rng_ops,
	&blk_ops,
	&balloon_ops,
	&net_ops,
};

const struct vdev_ops *device_table_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
		if (strcmp(devices[i]->name, name) == 0)
			return devices[i];
	return NULL;
}
