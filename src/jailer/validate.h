/*
 * Checks of single arguments, made before anything on the host changes. Each returns 0 or
 * -errno with the reason in (why, why_len), which does not repeat the flag: the caller
 * prefixes "--flag VALUE: ".
 */
#ifndef EMBER_JAILER_VALIDATE_H
#define EMBER_JAILER_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "jailer.h"

/* --id: 1 to JAIL_ID_MAX letters, digits or '-' (Firecracker's rule). */
int validate_id(const char *id, char *why, size_t why_len);

/*
 * --exec-file: an existing regular, executable, statically linked ELF file (the jail holds
 * nothing else, so a program that needs a loader or libraries could not start there).
 * Fills cfg->exec_path (canonical), cfg->exec_name and the identity of the file checked
 * (cfg->exec_dev, cfg->exec_ino, cfg->exec_ctime).
 */
int validate_exec_file(const char *path, struct jail_config *cfg, char *why, size_t why_len);

/* --uid / --gid: a decimal id below 2^32 - 1 (that one means "no change" to the kernel). */
int parse_id_number(const char *s, uint32_t *out, char *why, size_t why_len);

/*
 * --chroot-base-dir: an existing directory. Fills cfg->base and cfg->jail_root (needs
 * cfg->exec_name and cfg->id) and refuses a jail root that already holds the executable
 * (a jail with this id in use or left behind).
 */
int validate_chroot_base(const char *base, struct jail_config *cfg, char *why, size_t why_len);

/* --netns: a network namespace file, such as /var/run/netns/NAME. */
int validate_netns(const char *path, char *why, size_t why_len);

/* --parent-cgroup: a relative path without empty, "." or ".." components. */
int validate_parent_cgroup(const char *path, char *why, size_t why_len);

/* --resource-limit fsize=N | no-file=N, recorded in (cfg). */
int parse_resource_limit(const char *arg, struct jail_config *cfg, char *why, size_t why_len);

#endif
