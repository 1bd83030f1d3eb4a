/* Firecracker's --config-file JSON (FullVmConfiguration) read into a struct vm_config. */
#ifndef EMBER_CONFIG_CONFIG_FILE_H
#define EMBER_CONFIG_CONFIG_FILE_H

#include <stddef.h>

struct vm_config;

/*
 * Fill (cfg), which holds the defaults, from the JSON file at (path). Returns 0, or
 * -errno with one line naming the file position or field in (err, err_len) and (cfg)
 * unchanged. What (cfg) owns is freed with vm_config_free().
 */
int config_file_load(const char *path, struct vm_config *cfg, char *err, size_t err_len);

/* The same from the JSON document (text, len) (a snapshot's configuration). */
int config_parse(const char *text, size_t len, struct vm_config *cfg, char *err, size_t err_len);

#endif
