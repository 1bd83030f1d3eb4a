/*
 * What each device is configured with, whichever way it arrived (command line, config file,
 * API), and the command line's parsers for it (Firecracker's JSON has its own in
 * sections.c). The device models read these structs; the configuration owns them.
 */
#ifndef EMBER_CONFIG_DEVICES_H
#define EMBER_CONFIG_DEVICES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "../util/ratelimit.h"
#include "../util/util.h"

/*
 * The limits for one device queue (the entropy device, a disk, one direction of an
 * interface); a bucket with size 0 is unlimited.
 */
struct throttle_config {
	struct token_bucket_cfg bandwidth;
	struct token_bucket_cfg ops;
};

#define BLK_ID_BYTES 20 /* a GET_ID answer: the serial, NUL-padded (section 5.2.6) */

/* Firecracker's cache_type. */
enum blk_cache {
	BLK_CACHE_UNSAFE,    /* FLUSH is acknowledged without syncing (the default) */
	BLK_CACHE_WRITEBACK, /* FLUSH syncs the image, so acknowledged writes are durable */
};

/* One --disk PATH[,ro][,id=SERIAL][,cache=unsafe|writeback]. */
struct disk_config {
	char id[CONFIG_ID_MAX + 1]; /* drive_id: how the API names it */
	bool root;		    /* is_root_device: vda, and root= on the command line */
	char path[PATH_MAX];
	char serial[BLK_ID_BYTES + 1]; /* "": a default made from the disk's index */
	bool ro;
	enum blk_cache cache;
	struct throttle_config limit; /* bw= (bytes) and ops= (requests) token buckets */
};

#define NET_TAP_NAME_MAX 16 /* IFNAMSIZ, with the NUL */
/* An ember-switch port socket: a whole sun_path, without the NUL. */
#define NET_SWITCH_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* One interface: on a host TAP, or on a port of ember-switch; exactly one is named. */
struct net_config {
	char id[CONFIG_ID_MAX + 1]; /* iface_id: how the API names it */
	char tap[NET_TAP_NAME_MAX]; /* host TAP interface name, or "" */
	char switch_path[NET_SWITCH_PATH_MAX + 1]; /* the switch's SOCK_SEQPACKET socket, or "" */
	uint8_t mac[6];
	bool has_mac;	     /* else the guest picks its own */
	struct throttle_config rx_limit; /* frames to the guest */
	struct throttle_config tx_limit; /* frames from the guest */
};

/* CIDs 0-2 are reserved and 2^32-1 is VMADDR_CID_ANY: guests get one in between. */
#define VSOCK_CID_MIN 3
#define VSOCK_CID_MAX 0xfffffffeULL
/* UDS_PATH must leave room in sun_path for "_<port>" (up to 10 digits) and the NUL. */
#define VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

struct vsock_config {
	uint64_t cid;			/* the guest's context ID */
	char path[VSOCK_PATH_MAX + 1];	/* the host-side listening Unix socket */
};

/* The balloon's target counts 4 KiB pages in a 32-bit field (VIRTIO 1.2, 5.5.4). */
#define BALLOON_MAX_MIB ((UINT32_MAX * 4096ULL) / MiB)

struct balloon_config {
	uint64_t target_mib;	   /* how much memory the guest should give back */
	bool deflate_on_oom;	   /* the guest may take pages back under memory pressure */
	unsigned int stats_period; /* seconds between statistics requests; 0: no stats queue */
};

/*
 * Parse "bw=SIZE:REFILL_MS[:BURST],ops=SIZE:REFILL_MS[:BURST]" (either part optional)
 * from the start of (s) up to (end) or the string's end. 0 or -EINVAL.
 */
int throttle_config_parse(const char *s, struct throttle_config *cfg);

/* Parse one bucket, "SIZE:REFILL_MS[:BURST]". 0 or -EINVAL. */
int throttle_bucket_parse(const char *s, struct token_bucket_cfg *b);

/* Whether (cfg) holds limits the rate limiters accept. 0 or -EINVAL. */
int throttle_config_validate(const struct throttle_config *cfg);

/*
 * Parse the --disk argument (spec) into (cfg). The path runs to the first comma, so a path
 * containing one cannot be given. Returns 0, or -EINVAL with a reason in (why, why_len).
 */
int disk_config_parse(const char *spec, struct disk_config *cfg, char *why, size_t why_len);

/*
 * Parse "TAP[,mac=AA:BB:CC:DD:EE:FF][,rx_bw=B][,rx_ops=B][,tx_bw=B][,tx_ops=B]" into (cfg),
 * each B a token bucket "SIZE:REFILL_MS[:BURST]"; "switch=PATH" in place of TAP puts the
 * interface on ember-switch's socket PATH (which runs to the first comma). 0 or -EINVAL.
 */
int net_config_parse(const char *arg, struct net_config *cfg);

/* Parse "CID,UDS_PATH" into (cfg). 0, -EINVAL (malformed, bad CID) or -ENAMETOOLONG. */
int vsock_config_parse(const char *arg, struct vsock_config *cfg);

/* Parse "MIB[,deflate_on_oom][,stats=SECONDS]". 0 or -EINVAL. */
int balloon_config_parse(const char *arg, struct balloon_config *cfg);

#endif
