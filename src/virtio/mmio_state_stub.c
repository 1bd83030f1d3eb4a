/* Placeholder until the virtio state lands (issue 14): refuses to save or restore. */
#include <errno.h>
#include <stdio.h>

#include "mmio.h"

int virtio_mmio_save(struct virtio_mmio *mmio, struct snap_writer *w)
{
	(void)mmio;
	(void)w;
	return -EOPNOTSUPP;
}

int virtio_mmio_restore(struct virtio_mmio *mmio, struct snap_cursor *c, char *why,
			size_t why_len)
{
	(void)mmio;
	(void)c;
	snprintf(why, why_len, "virtio devices cannot be restored yet");
	return -EOPNOTSUPP;
}
