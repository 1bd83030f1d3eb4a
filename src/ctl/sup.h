/*
 * The supervisor of one ember (supervisor.c) and the booting side that forks it (boot.c):
 * what the supervisor is given, all of it made before the fork.
 */
#ifndef EMBER_CTL_SUP_H
#define EMBER_CTL_SUP_H

#include "ctl.h"

#define SUP_ARGS_MAX 24

/* Everything the supervisor needs, made before the fork. */
struct sup {
	char dir[PATH_MAX];
	char log[PATH_MAX], status[PATH_MAX], ember_pid[PATH_MAX], api[PATH_MAX];
	char con[PATH_MAX];
	char prog[PATH_MAX];
	char *argv[SUP_ARGS_MAX + 1];
	char args[SUP_ARGS_MAX][PATH_MAX];
	int nargs;
	enum ctl_restart restart;
	bool jailed;
	struct ctl_jail jail;
	int talk; /* the socket to the booting emberctl, -1 once the boot is decided */
	int sigfd;
	struct ctl_status st;
};

/* Write s->st to status.json (whole, or not at all). */
void sup_status_write(struct sup *s);
/* In the forked child: becomes the supervisor, never returns. */
void __attribute__((noreturn)) supervisor_start(struct sup *s, int talk_fd);

#endif
