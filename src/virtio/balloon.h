/* virtio-balloon (VIRTIO 1.2, section 5.5): guest pages handed back to the host. */
#ifndef EMBER_VIRTIO_BALLOON_H
#define EMBER_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct virtio_balloon;

struct balloon_config {
	uint64_t target_mib;	   /* how much memory the guest should give back */
	bool deflate_on_oom;	   /* the guest may take pages back under memory pressure */
	unsigned int stats_period; /* seconds between statistics requests; 0: no stats queue */
};

/* The guest's latest memory statistics, by VIRTIO_BALLOON_S_* tag (0-15). */
struct balloon_stats {
	uint64_t value[16];
	uint16_t valid;	      /* bit n: value[n] was reported */
	uint32_t actual_pages; /* pages the guest says are in the balloon */
	uint64_t inflated_pages, deflated_pages; /* counted by the device */
};

/* Parse "MIB[,deflate_on_oom][,stats=SECONDS]". 0 or -EINVAL. */
int balloon_config_parse(const char *arg, struct balloon_config *cfg);

/* Create the device on (vm)'s MMIO bus. 0 or -errno. */
int virtio_balloon_create(struct vm *vm, const struct balloon_config *cfg,
			  struct virtio_balloon **out);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* Change the target, in MiB, and tell the guest. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint64_t mib);

void virtio_balloon_stats(struct virtio_balloon *b, struct balloon_stats *out);

#endif
