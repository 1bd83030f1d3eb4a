/* virtio-net (VIRTIO 1.2, section 5.1) on a host TAP device. */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "throttle.h"
#include "../util/log.h"
#include "../config/devices.h"

struct guest_mem;
struct virtio_dev;
struct virtio_net;


/* What the device counts; nothing the guest sends is dropped without a count here. */
struct net_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped;
	uint64_t tx_frames, tx_bytes, tx_dropped;
	/* Frames that had to wait for the rate limiter's tokens (each wait counts once). */
	uint64_t rx_rate_limiter_throttled, tx_rate_limiter_throttled;
};


/*
 * Open the TAP of (cfg), which must outlive the device, and create the device over (mem),
 * served on (loop). 0, or -errno with the reason in (why, why_len) when it is the TAP's.
 * The device writes cfg->rx_limit and tx_limit when virtio_net_update_limits changes them,
 * so (cfg) always says what is in force.
 */
int virtio_net_create(const struct guest_mem *mem, struct event_loop *loop,
		      struct logger *log, struct net_config *cfg, struct virtio_net **out,
		      char *why, size_t why_len);

/* The device as its transport sees it. */
struct virtio_dev *virtio_net_dev(struct virtio_net *net);
void virtio_net_destroy(struct virtio_net *net);

/* A snapshot of the device's counters: cumulative since the device was created. */
void virtio_net_stats(struct virtio_net *net, struct net_stats *out);

/*
 * Firecracker's PATCH /network-interfaces/{id}, on the event loop thread: replace the rx
 * and/or tx token buckets (NULL keeps that direction's; see throttle_update for what
 * happens to a bucket's state). A direction waiting for tokens is re-evaluated at once
 * under the new limits. Both are checked before either changes: 0, or -EINVAL with
 * nothing changed. The config the device was created with records the new limits.
 */
int virtio_net_update_limits(struct virtio_net *net, const struct throttle_config *rx,
			     const struct throttle_config *tx);

/*
 * A responder inside the device's data path (the MMDS network stack, wired by the machine):
 * it sees every frame the guest sends before the backend does, keeps the ones it wants
 * (they never reach the backend), and whenever the guest has a receive buffer it is asked
 * for a frame before the backend is read. All calls come with the device's lock held: on
 * the event loop thread, but for reset, which comes on the vCPU thread that reset the
 * device. Frames here are bare Ethernet: the virtio header is the device's.
 */
struct net_detour_ops {
	/* Whether the frame is the detour's, from its first min(len, peek) bytes. */
	bool (*wants)(void *opaque, const uint8_t *head, size_t len);
	/* A whole frame it wanted; (csum_partial): the guest left the L4 checksum to the device. */
	void (*take)(void *opaque, const uint8_t *frame, size_t len, bool csum_partial);
	/* Write its next frame for the guest into (buf, size): the length, or 0 for none. */
	size_t (*next)(void *opaque, uint8_t *buf, size_t size);
	/* The driver reset the device: whatever the detour had in flight is void. */
	void (*reset)(void *opaque);
	/* virtio_net_detour_kick is about to ask for frames (or find the device stopped). */
	void (*kick)(void *opaque);
	/* The device is going away (virtio_net_destroy): free (opaque). */
	void (*destroy)(void *opaque);
	size_t peek; /* how many bytes wants() needs to see */
};

/*
 * Put (ops, opaque) in the data path, before the guest runs. 0, and the device then owns
 * (opaque); or -ENOMEM with nothing changed.
 */
int virtio_net_set_detour(struct virtio_net *net, const struct net_detour_ops *ops,
			   void *opaque);

/* The detour has a frame for the guest without having been asked (a timer fired). */
void virtio_net_detour_kick(struct virtio_net *net);

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots: the rx and tx rate limiters' tokens, as fields of a section the caller opened.
 * The TAP is configuration (a load may name another one); a frame read from it and not yet
 * delivered is not saved, lost as a network may lose any frame. Restore reads them into a
 * device just created from the configuration, as untrusted input: 0, or -EINVAL with why
 * and the cursor marked bad.
 */
int virtio_net_save(struct virtio_net *net, struct snap_writer *w);
int virtio_net_restore(struct virtio_net *net, struct snap_cursor *c, char *why,
		       size_t why_len);

#endif
