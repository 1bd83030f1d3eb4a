/*
 * emberctl: a fleet of ember VMs on one host. Each VM is its own ember process under a
 * small supervisor (emberctl, forked); emberctl talks to ember only through its API socket
 * and console socket, and keeps what it knows in a state directory that it treats as
 * untrusted (half-written, stale or hand-edited folders are reported, never a crash).
 */
#ifndef EMBER_CTL_CTL_H
#define EMBER_CTL_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define CTL_NAME_MAX	 64	    /* a VM or switch name: 1-64 of [A-Za-z0-9_-] */
#define CTL_CPUS_MAX	 1024	    /* host CPUs a cpu list may name */
#define CTL_CPULIST_MAX	 256	    /* the text of a cpu list */
#define CTL_CONFIG_MAX	 (1 << 20)  /* config.json, as given */
#define CTL_STATE_MAX	 (64 << 10) /* status.json, pid files: small, or not ours */
#define CTL_WHY		 512
#define CTL_TEMP_STALE_S 60 /* a temporary file of a dead writer, this old, is removed */
#define CTL_DEFAULT_DIR	 "/run/ember"
#define CTL_VERSION	 "0.1.0" /* released with ember, whose version it is */

/* The exit status of the whole command. */
#define CTL_EXIT_OK	0
#define CTL_EXIT_FAILED 1
#define CTL_EXIT_USAGE	2

/* What a command needs from the command line and the environment. */
struct ctl {
	char state_dir[PATH_MAX];
	char ember[PATH_MAX]; /* ember, or "" for next to our own executable */
	char self[PATH_MAX];  /* /proc/self/exe as it was when we started */
	int lock_fd;	      /* DIR/lock while held, else -1 */
	char why[CTL_WHY];    /* the reason of the last failure, for the one-line message */
};

enum ctl_restart {
	RESTART_NO,
	RESTART_ON_FAILURE,
	RESTART_ALWAYS,
};

/* The "emberctl" block of a VM's config.json. */
struct ctl_vm_block {
	char name[CTL_NAME_MAX + 1];
	char cpus[CTL_CPULIST_MAX]; /* "" for no pinning */
	bool realtime;
	enum ctl_restart restart;
	bool jail;
	bool share_cpus;
};

/* A set of host CPUs. */
struct ctl_cpuset {
	uint64_t bits[CTL_CPUS_MAX / 64];
};

/* A process we started, as its pid file names it: the pid and its start time (jiffies). */
struct ctl_pid {
	pid_t pid;
	unsigned long long start;
};

/* status.json, written by the supervisor. */
struct ctl_status {
	char state[16]; /* "starting", "running", "restarting", "exited" */
	pid_t pid;	/* the last ember's */
	bool exited;	/* the last ember's exit was recorded */
	int exit_code;	/* when exited: the code, or -1 if killed by a signal */
	int signal;	/* when exited: the signal, or 0 */
	bool unknown;	/* exited, and nobody could see how */
	unsigned int restarts;
	bool stop_requested; /* vm stop / vm kill: not restarted */
	long long started;   /* wall clock (s) of the last ember's start */
};

/* Everything `vm list` and `vm info` show about one VM folder. */
struct ctl_vm_view {
	char name[CTL_NAME_MAX + 1];
	char broken[CTL_WHY + 64]; /* non-empty: the folder is not usable, and why */
	struct ctl_vm_block blk;   /* valid unless broken */
	unsigned int vcpus;	   /* 0 if unknown (a snapshot-load config) */
	uint64_t mem_mib;
	struct ctl_pid ember, supervisor;
	bool ember_alive, supervisor_alive;
	bool have_status;
	struct ctl_status status;
	char state[48];		   /* Running, Paused, Not started, Stopped, Dead, ... */
	char exit_status[32];	   /* "exit 1", "signal 9", "unknown"; "" for none */
	long long uptime_s;	   /* -1 unless running */
	char id[CTL_NAME_MAX + 1]; /* the instance id ember reports, or "" */
};

/* --- parse.c: parsers of untrusted bytes (state files, cpu lists, names); fuzzed --- */

bool ctl_name_valid(const char *name);
/* "0-3,8,10-11" into (set); 0 or -EINVAL with the reason in (why). */
int ctl_cpulist_parse(const char *text, struct ctl_cpuset *set, char *why, size_t why_len);
bool ctl_cpuset_overlap(const struct ctl_cpuset *a, const struct ctl_cpuset *b);
/* A pid file: "PID START\n". 0 or -EINVAL. */
int ctl_pid_parse(const char *text, size_t len, struct ctl_pid *out);
/* status.json. 0 or -EINVAL with the reason in (why). */
int ctl_status_parse(const char *text, size_t len, struct ctl_status *out, char *why,
		     size_t why_len);
/* "exit 1", "signal 9", "unknown" or "" for (st). */
void ctl_status_describe(const struct ctl_status *st, char *out, size_t out_len);
/* The emberctl block (v); 0 or -EINVAL with the field named in (why). */
int ctl_block_parse(json_t *v, struct ctl_vm_block *out, char *why, size_t why_len);
const char *ctl_restart_name(enum ctl_restart r);
/* The start time (jiffies since boot) and state letter of /proc/PID/stat's text. */
int ctl_proc_stat_parse(const char *text, size_t len, unsigned long long *start, char *state);

/* Every byte of (text) that is not part of a valid UTF-8 sequence (one cut short by a
 * bounded copy, say) turned into '?', so that JSON takes it. */
void ctl_utf8_fix(char *text);
/* json_string() of (text) after ctl_utf8_fix(): never NULL but when out of memory. */
json_t *ctl_json_text(const char *text);

/* --- state.c: the state directory --- */

/* DIR/<rel> into (out); -ENAMETOOLONG if it does not fit. */
int ctl_path(const struct ctl *c, char *out, size_t out_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Make DIR, DIR/vms and DIR/switches. */
int ctl_state_init(struct ctl *c);
/* Take DIR/lock, shared or exclusive; ctl_unlock() gives it back. */
int ctl_lock(struct ctl *c, bool exclusive);
void ctl_unlock(struct ctl *c);
/* Write (len) bytes to (path) through a temporary file and rename. */
int ctl_write_atomic(const char *path, const void *buf, size_t len);
/* Open a log for writing (O_TRUNC or O_APPEND in (flags)): a regular file only, -EINVAL for
 * anything else (a FIFO, a symlink, a device); the fd, or -errno. */
int ctl_open_log(const char *path, int flags);
/* Read a small file (at most (max) bytes) NUL-terminated into a malloc'd buffer. */
int ctl_read_small(const char *path, size_t max, char **buf, size_t *len);
int ctl_pid_read(const char *path, struct ctl_pid *out);
int ctl_pid_write(const char *path, pid_t pid);
/* Whether (p) is still the process that was started then (not gone, reused, or a zombie). */
bool ctl_pid_alive(const struct ctl_pid *p);
/* /proc/PID/stat's start time, 0 or -errno. */
int ctl_proc_start(pid_t pid, unsigned long long *start);
/* Seconds since (p) started, -1 if unknown. */
long long ctl_pid_uptime(const struct ctl_pid *p);
/* Remove (dir) and everything below it, following no symlink or mount. */
int ctl_rmtree(const char *dir);
/* Wait until (p) is gone, at most (timeout_ms); 0 or -ETIMEDOUT. */
int ctl_wait_gone(const struct ctl_pid *p, int timeout_ms);
void ctl_sleep_ms(int ms);
long long ctl_now_s(void);

/* --- vm_view.c: reading a VM folder --- */

/* Fill (v) for the folder of VM (name); never fails: what is wrong goes into v->broken. */
void ctl_vm_view(struct ctl *c, const char *name, struct ctl_vm_view *v, bool ask_api);
/* Whether the VM has a live ember or supervisor. */
bool ctl_vm_active(const struct ctl_vm_view *v);
/* The names of the folders in DIR/<sub> (vms, switches), sorted; free with ctl_names_free. */
int ctl_list_names(struct ctl *c, const char *sub, char ***names, size_t *count);
void ctl_names_free(char **names, size_t count);
/* The VM's config.json, parsed; NULL with the reason in (why). */
json_t *ctl_vm_load_config(struct ctl *c, const char *name, char *why, size_t why_len);

/* --- vm_config.c --- */

/*
 * Check a VM's config document in full (the emberctl block, then ember's own parser on the
 * generated ember.json) and give back the block and the ember.json text (malloc'd).
 */
int ctl_config_check(struct ctl *c, json_t *root, struct ctl_vm_block *blk, char **ember_json,
		     char *why, size_t why_len);
int cmd_vm_config(struct ctl *c, const char *file);

/* --- supervisor.c --- */

/* Fork the supervisor of VM (name) and return once ember is up (or has died). */
int ctl_supervise(struct ctl *c, const char *name, const struct ctl_vm_block *blk);
/* Where ember, ember-switch, ember-jailer are: next to ours unless --ember said. */
int ctl_find_program(const struct ctl *c, const char *prog, char *out, size_t out_len);

/* --- jail.c --- */

#define CTL_JAIL_LINKS_MAX 16

/* A jail's layout and what goes in it, planned at `vm boot`, made before every start. */
struct ctl_jail {
	char base[PATH_MAX]; /* DIR/jail: the jailer's --chroot-base-dir */
	char dir[PATH_MAX];  /* DIR/jail/<exec>/<NAME> */
	char root[PATH_MAX]; /* ... /root */
	uid_t uid;
	gid_t gid;
	struct {
		char src[PATH_MAX];
		char leaf[32];
	} links[CTL_JAIL_LINKS_MAX];
	unsigned int nr_links;
	char ember_json[64 << 10]; /* ember.json with the paths inside the jail */
};

int ctl_jail_plan(struct ctl *c, const char *name, const char *exec_name, struct ctl_jail *j,
		  char *why, size_t why_len);
/* Remove the jail and make it again: the root, the links, /ember.json. */
int ctl_jail_reset(const struct ctl_jail *j, char *why, size_t why_len);

/* --- api_client.c --- */

struct ctl_api_reply {
	int status;
	char *body; /* malloc'd, NUL-terminated; NULL when empty */
	size_t body_len;
};

/* Connect to the stream socket at (path) without ever blocking (a full backlog is tried
 * again until (deadline), now_us()'s clock): the fd, non-blocking, or -errno. */
int ctl_unix_connect(const char *path, uint64_t deadline);
int ctl_api_call(const char *sock, const char *method, const char *path, const char *body,
		 int timeout_ms, struct ctl_api_reply *reply, char *why, size_t why_len);
void ctl_api_reply_free(struct ctl_api_reply *r);
/* Parse a whole HTTP/1.1 response in (buf, len); -EAGAIN while incomplete. */
int ctl_api_parse_reply(const char *buf, size_t len, bool eof, struct ctl_api_reply *reply,
			char *why, size_t why_len);
/* GET /: the state word into (state), the instance id into (id). */
int ctl_api_get_state(const char *sock, int timeout_ms, char *state, size_t state_len, char *id,
		      size_t id_len, char *why, size_t why_len);

/* --- commands --- */

int cmd_vm_boot(struct ctl *c, const char *name, bool share_cpus);
int cmd_vm_list(struct ctl *c, bool json);
int cmd_vm_info(struct ctl *c, const char *name, bool json);
int cmd_vm_pause(struct ctl *c, const char *name, bool pause);
int cmd_vm_stop(struct ctl *c, const char *name, int timeout_s);
int cmd_vm_kill(struct ctl *c, const char *name);
int cmd_vm_rm(struct ctl *c, const char *name, bool force);
int cmd_vm_console(struct ctl *c, const char *name);
int cmd_switch_create(struct ctl *c, const char *name);
int cmd_switch_show(struct ctl *c, const char *name, bool json);
int cmd_switch_rm(struct ctl *c, const char *name);
int cmd_switch_list(struct ctl *c, bool json);
/* Whether switch (name) is running; its socket path into (sock) either way. */
bool ctl_switch_running(struct ctl *c, const char *name);

/* Set c->why and return (err). */
int ctl_fail(struct ctl *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
