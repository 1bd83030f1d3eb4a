/*
 * Firecracker's configuration objects read into ember's structs, for the config file and
 * the API alike; and the whole configuration written back out as FullVmConfiguration.
 * Every parser takes the object (v), fills its output only on success, and otherwise
 * returns -EINVAL with one line naming the field in (cf).
 */
#ifndef EMBER_CONFIG_SECTIONS_H
#define EMBER_CONFIG_SECTIONS_H

#include "json_fields.h"
#include "vm_config.h"

/* A Firecracker id (drive_id, iface_id) member into (out), CONFIG_ID_MAX + 1 bytes. */
int cf_id(struct cf *cf, json_t *v, const char *where, const char *key, char *out);

/* BootSource, into (cfg)'s owned strings. */
int cfg_boot_source(struct cf *cf, json_t *v, struct vm_config *cfg);

/* MachineConfiguration; with (partial) (PATCH) no field is required. */
int cfg_machine(struct cf *cf, json_t *v, bool partial, struct vm_config *cfg);

/* A Drive; (where) names it in messages ("drives[1]", "drive"). */
int cfg_drive(struct cf *cf, json_t *v, const char *where, struct disk_config *out);

/* A NetworkInterface. */
int cfg_net(struct cf *cf, json_t *v, const char *where, struct net_config *out);

int cfg_vsock(struct cf *cf, json_t *v, struct vsock_config *out);

/* SnapshotLoadParams (snapshot_load.c). */
int cfg_snapshot_load(struct cf *cf, json_t *v, struct restore_config *out);
int cfg_balloon(struct cf *cf, json_t *v, struct balloon_config *out);

/* BalloonUpdate and BalloonStatsUpdate (PATCH /balloon, PATCH /balloon/statistics). */
int cfg_balloon_update(struct cf *cf, json_t *v, uint64_t *target_mib);
int cfg_balloon_stats_update(struct cf *cf, json_t *v, unsigned int *period);

/* EntropyDevice: its rate limiter. */
int cfg_entropy(struct cf *cf, json_t *v, struct throttle_config *out);

int cfg_logger(struct cf *cf, json_t *v, struct logger_config *out);

/* Metrics; (out)'s old properties string is freed on success. */
int cfg_metrics(struct cf *cf, json_t *v, struct metrics_config *out);

/* MmdsConfig; every interface it names must be in (cfg), unless (cfg) is NULL. */
int cfg_mmds(struct cf *cf, json_t *v, const struct vm_config *cfg, struct mmds_config *out);

/* (cfg) as Firecracker's FullVmConfiguration (GET /vm/config). NULL if out of memory. */
json_t *cfg_to_json(const struct vm_config *cfg);

/* One section of it: "machine-config", "balloon"... NULL if out of memory. */
json_t *cfg_machine_json(const struct vm_config *cfg);
json_t *cfg_balloon_json(const struct balloon_config *b);

#endif
