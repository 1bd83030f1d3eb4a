/*
 * What to build: one VM's whole configuration, whichever way it arrived (command line,
 * --config-file, or the API before InstanceStart). The VMM reads it; it never reads JSON.
 */
#ifndef EMBER_CONFIG_VM_CONFIG_H
#define EMBER_CONFIG_VM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch_defs.h"

#include "devices.h"
#include "../util/log.h"
#include "../util/util.h"

#define VM_MAX_DISKS	8
#define VM_MAX_NETS	4
#define VM_MAX_MEM_MIB	(1024 * 1024) /* --memory and machine-config.mem_size_mib */

enum boot_protocol {
	BOOT_PROTO_AUTO,  /* chosen from the image's contents */
	BOOT_PROTO_LINUX, /* the arch's native Linux boot protocol */
	BOOT_PROTO_PVH,	  /* x86 PVH direct boot (Xen HVM start info) */
};

/* Firecracker's logger section; the sink itself is util/log's. */
struct logger_config {
	bool set;
	char path[PATH_MAX];
	enum log_level level;
	bool show_level;
	bool show_origin;
};

struct metrics_config {
	bool set;
	char path[PATH_MAX];
	bool emit_id;
	char *properties; /* the "properties" object as compact JSON, owned; NULL for none */
};

struct mmds_config {
	bool set;
	unsigned int version; /* 1 or 2 */
	char ipv4[16];	      /* dotted quad */
	bool imds_compat;
	char ifaces[VM_MAX_NETS][CONFIG_ID_MAX + 1];
	unsigned int nr_ifaces;
};

/*
 * A snapshot to load instead of booting (PUT /snapshot/load's SnapshotLoadParams, the
 * config file's "snapshot-load", --restore).
 */
struct restore_config {
	bool set;
	char state_path[PATH_MAX];
	char mem_path[PATH_MAX]; /* the memory file, or with (uffd) the handler's socket */
	bool uffd;
	bool track_dirty_pages;
	bool resume;
	struct {
		char iface_id[CONFIG_ID_MAX + 1];
		char tap[NET_TAP_NAME_MAX];
	} nets[VM_MAX_NETS];
	unsigned int nr_nets;
	char vsock_uds[VSOCK_PATH_MAX + 1]; /* a new vsock socket path, or "" */
};

struct vm_config {
	char *kernel_path; /* owned; NULL until a kernel is given */
	char *initrd_path; /* owned; NULL: none */
	char *boot_args;   /* owned; NULL: the default */
	/* Opened when the API configured them, as Firecracker does; -1: open the paths at boot. */
	int kernel_fd, initrd_fd;
	unsigned int vcpus;
	uint64_t mem_mib;
	/* KVM logs the guest's writes and ember marks its own, for Diff snapshots. */
	bool track_dirty_pages;
	bool boot_timer;
	bool rng;
	struct throttle_config rng_limit;
	/* The root drive, if any, is first: vda, and the kernel gets root=/dev/vda. */
	struct disk_config disks[VM_MAX_DISKS];
	unsigned int nr_disks;
	struct net_config nets[VM_MAX_NETS];
	unsigned int nr_nets;
	bool balloon;
	struct balloon_config balloon_cfg;
	bool vsock;
	struct vsock_config vsock_cfg;
	struct logger_config logger;
	struct metrics_config metrics;
	struct mmds_config mmds;
	enum boot_protocol boot_proto;
	/*
	 * x86: ACPI tables for the guest (--no-acpi, "acpi": false leave them out), and
	 * whether the virtio-mmio devices also go on the kernel command line
	 * (--virtio-mmio-cmdline; they always do without ACPI). The device-tree arches have
	 * no ACPI and take neither.
	 */
	bool acpi;
	bool virtio_mmio_cmdline;
	struct arch_config arch; /* the arch's own knobs (arch_config_option) */
	struct restore_config restore; /* a snapshot to load at start (config file, CLI) */
	int console_in;	 /* fd read for guest serial input, -1 for none */
	int console_out; /* fd that guest serial output goes to */
	/*
	 * --console-sock: the socket its viewers connect to, and the read end of the pipe
	 * whose write end is console_out (console_sock.h). -1 for the console on stdio.
	 */
	int console_listen;
	int console_pipe;
	bool realtime; /* --realtime: the vCPU threads ask for SCHED_FIFO */
};

/*
 * --restore STATE,MEM[,uffd][,paused][,track_dirty_pages]: a snapshot's state file and its
 * memory file (or, with uffd, the page-fault handler's socket); it runs at once unless
 * paused. 0 or -EINVAL (snapshot_load.c).
 */
int restore_option_parse(const char *arg, struct restore_config *out);

/* The defaults: 1 vCPU, 128 MiB, nothing else; console on stdin/stdout, no socket. */
void vm_config_init(struct vm_config *cfg);

/* Free what (cfg) owns and leave it as vm_config_init() does. */
void vm_config_free(struct vm_config *cfg);

/*
 * Replace the boot source with copies of (kernel), (initrd) and (args) (both may be NULL).
 * 0 or -ENOMEM, and then (cfg) is unchanged.
 */
int vm_config_set_boot(struct vm_config *cfg, const char *kernel, const char *initrd,
		       const char *args);

/*
 * Add (d), or replace the drive with its id. A root drive goes first, the others keep
 * their order. 0, or -EINVAL / -ENOSPC with the reason in (why, why_len).
 */
int vm_config_put_drive(struct vm_config *cfg, const struct disk_config *d, char *why,
			size_t why_len);

/* Add (n), or replace the interface with its id; TAPs and MACs must be unique. As above. */
int vm_config_put_net(struct vm_config *cfg, const struct net_config *n, char *why,
		      size_t why_len);

/* The index of the drive / interface called (id), or -1. */
int vm_config_find_drive(const struct vm_config *cfg, const char *id);
int vm_config_find_net(const struct vm_config *cfg, const char *id);

/* Firecracker's ids: drive_id and iface_id are 1-64 of [A-Za-z0-9_]; --id also takes '-'. */
bool device_id_valid(const char *id);
bool instance_id_valid(const char *id);

#endif
