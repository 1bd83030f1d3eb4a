/* virtio-balloon (VIRTIO 1.2, section 5.5): guest pages handed back to the host. */
#ifndef EMBER_VIRTIO_BALLOON_H
#define EMBER_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "../config/devices.h"
#include "../util/log.h"

struct event_loop;
struct guest_mem;
struct virtio_balloon;
struct virtio_dev;


/*
 * The statistics tags (VIRTIO 1.2 section 5.5.6.3, and Linux's additions up to 15), in the
 * order and with the names of Firecracker's BalloonStats fields (balloon_stat_name).
 */
enum balloon_stat_tag {
	BALLOON_S_SWAP_IN,	   /* bytes */
	BALLOON_S_SWAP_OUT,	   /* bytes */
	BALLOON_S_MAJFLT,	   /* major_faults */
	BALLOON_S_MINFLT,	   /* minor_faults */
	BALLOON_S_MEMFREE,	   /* free_memory, bytes */
	BALLOON_S_MEMTOT,	   /* total_memory, bytes */
	BALLOON_S_AVAIL,	   /* available_memory, bytes */
	BALLOON_S_CACHES,	   /* disk_caches, bytes */
	BALLOON_S_HTLB_PGALLOC,	   /* hugetlb_allocations */
	BALLOON_S_HTLB_PGFAIL,	   /* hugetlb_failures */
	BALLOON_S_OOM_KILL,	   /* oom_kill */
	BALLOON_S_ALLOC_STALL,	   /* alloc_stall */
	BALLOON_S_ASYNC_SCAN,	   /* async_scan */
	BALLOON_S_DIRECT_SCAN,	   /* direct_scan */
	BALLOON_S_ASYNC_RECLAIM,   /* async_reclaim */
	BALLOON_S_DIRECT_RECLAIM,  /* direct_reclaim */
	BALLOON_S_NR
};

/*
 * Everything Firecracker's BalloonStats answer holds. target_* and actual_* are always
 * there; value[tag] only when bit (tag) of (valid) is set: the guest reported that tag at
 * least once (leave the others out of the answer; a guest reports what its kernel knows,
 * and nothing before its first stats buffer or when stats are disabled).
 */
struct balloon_stats {
	uint64_t value[BALLOON_S_NR];
	uint16_t valid;	       /* bit n: value[n] was reported */
	uint32_t target_pages; /* 4 KiB pages the host asks for (config space num_pages) */
	uint32_t actual_pages; /* pages the guest says are in the balloon (config "actual") */
	uint64_t target_mib, actual_mib; /* the same in MiB, rounded down */
	uint64_t inflated_pages, deflated_pages; /* counted by the device */
};

/* Firecracker's JSON name of statistics tag (tag), e.g. "swap_in"; NULL past the last. */
const char *balloon_stat_name(unsigned int tag);

/* Fill the target_* and actual_mib fields of (s) from (target_pages) and s->actual_pages. */
void balloon_stats_finish(struct balloon_stats *s, uint32_t target_pages);

/*
 * The rule for changing the statistics period from (cur) to (want) seconds: 0 (the same,
 * nothing to do), 1 (change it) or -EINVAL (stats cannot be turned on or off after boot).
 */
int balloon_stats_period_check(unsigned int cur, unsigned int want);


/*
 * Create the device for (cfg), which must outlive it, over (mem), its statistics timer on
 * (loop). 0 or -errno. The device writes cfg->target_mib and cfg->stats_period when
 * virtio_balloon_set_target and virtio_balloon_set_stats_period change them.
 */
int virtio_balloon_create(const struct guest_mem *mem, struct event_loop *loop,
			  struct logger *log, struct balloon_config *cfg,
			  struct virtio_balloon **out);

/* The device as its transport sees it. */
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);
void virtio_balloon_destroy(struct virtio_balloon *b);

/*
 * Change the target, in MiB (PATCH /balloon), and tell the guest: the config space's
 * num_pages changes and, once the driver is up, a configuration-change interrupt asks it
 * to inflate or deflate. 0, or -EINVAL (nothing changed) for more than the guest's RAM.
 */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t mib);

/* A snapshot of the statistics and the target/actual sizes, on any thread. */
void virtio_balloon_stats(struct virtio_balloon *b, struct balloon_stats *out);

/*
 * PATCH /balloon/statistics: poll the guest's statistics every (seconds) from now on,
 * with one request at once (as Firecracker does). Statistics cannot be turned on or off
 * after the device is created: -EINVAL for 0 -> n or n -> 0 (nothing changed); the same
 * period again is a no-op. Event loop thread. 0 or -errno.
 */
int virtio_balloon_set_stats_period(struct virtio_balloon *b, unsigned int seconds);

/* The statistics polling interval in seconds; 0: statistics are disabled. */
unsigned int virtio_balloon_stats_period(const struct virtio_balloon *b);

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots: the size the guest reports (actual), the statistics it last sent and the
 * device's page counts, and the statistics buffer the device holds (by its descriptor
 * index, all it needs to hand it back), as fields of a section the caller opened. The
 * target and the statistics period are configuration. Restore reads them into a device
 * just created from the configuration, as untrusted input: 0, or -EINVAL with why and the
 * cursor marked bad. GET /balloon and its statistics answer as before the snapshot.
 */
int virtio_balloon_save(struct virtio_balloon *b, struct snap_writer *w);
int virtio_balloon_restore(struct virtio_balloon *b, struct snap_cursor *c, char *why,
			   size_t why_len);

#endif
