/* The command line's device options, parsed into the structs of devices.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

int throttle_bucket_parse(const char *s, struct token_bucket_cfg *b)
{
	uint64_t v[3] = { 0, 0, 0 };
	char copy[64], *field, *save = NULL;
	unsigned int n = 0;

	if (strlen(s) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, s);
	for (field = strtok_r(copy, ":", &save); field; field = strtok_r(NULL, ":", &save))
		if (n == 3 || parse_uint(field, 0, UINT64_MAX, &v[n++]))
			return -EINVAL;
	if (n < 2)
		return -EINVAL;
	*b = (struct token_bucket_cfg){ .size = v[0], .refill_time_ms = v[1],
					.one_time_burst = v[2] };
	return token_bucket_cfg_validate(b);
}

int throttle_config_parse(const char *s, struct throttle_config *cfg)
{
	char copy[128], *part, *save = NULL;

	memset(cfg, 0, sizeof(*cfg));
	if (strlen(s) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, s);
	for (part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		if (!strncmp(part, "bw=", 3)) {
			if (throttle_bucket_parse(part + 3, &cfg->bandwidth))
				return -EINVAL;
		} else if (!strncmp(part, "ops=", 4)) {
			if (throttle_bucket_parse(part + 4, &cfg->ops))
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

int throttle_config_validate(const struct throttle_config *cfg)
{
	return token_bucket_cfg_validate(&cfg->bandwidth) ?: token_bucket_cfg_validate(&cfg->ops);
}

/* Does [s, s + n) equal the NUL-terminated (word)? */
static bool token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(s, word, n);
}

/* One ",key[=value]" of --disk: (s, n) is the text between the commas. */
static int blk_parse_key(const char *s, size_t n, struct disk_config *cfg, char *why,
			 size_t why_len)
{
	const char *val;
	size_t i, vlen;

	if (token_is(s, n, "ro")) {
		cfg->ro = true;
		return 0;
	}
	if (n > 3 && !memcmp(s, "id=", 3)) {
		val = s + 3;
		vlen = n - 3;
		if (vlen > BLK_ID_BYTES) {
			snprintf(why, why_len, "id= is longer than %u bytes", BLK_ID_BYTES);
			return -EINVAL;
		}
		/* The serial reaches the guest's sysfs: keep it printable. */
		for (i = 0; i < vlen; i++)
			if (val[i] < 0x20 || val[i] > 0x7e) {
				snprintf(why, why_len, "id= must be printable ASCII");
				return -EINVAL;
			}
		memcpy(cfg->serial, val, vlen);
		cfg->serial[vlen] = '\0';
		return 0;
	}
	if (n >= 6 && !memcmp(s, "cache=", 6)) {
		if (token_is(s + 6, n - 6, "unsafe")) {
			cfg->cache = BLK_CACHE_UNSAFE;
			return 0;
		}
		if (token_is(s + 6, n - 6, "writeback")) {
			cfg->cache = BLK_CACHE_WRITEBACK;
			return 0;
		}
		snprintf(why, why_len, "cache= must be unsafe or writeback");
		return -EINVAL;
	}
	if ((n > 3 && !memcmp(s, "bw=", 3)) || (n > 4 && !memcmp(s, "ops=", 4))) {
		char bucket[64];
		size_t off = s[0] == 'b' ? 3 : 4;

		if (n - off >= sizeof(bucket))
			goto bad_bucket;
		memcpy(bucket, s + off, n - off);
		bucket[n - off] = '\0';
		if (throttle_bucket_parse(bucket, off == 3 ? &cfg->limit.bandwidth :
							     &cfg->limit.ops))
			goto bad_bucket;
		return 0;
	}
	snprintf(why, why_len,
		 "unknown option '%.*s' (ro, id=SERIAL, cache=unsafe|writeback, bw=B, ops=B)",
		 (int)MIN(n, 64), s);
	return -EINVAL;
bad_bucket:
	snprintf(why, why_len, "'%.*s': a token bucket is SIZE:REFILL_MS[:BURST]",
		 (int)MIN(n, 64), s);
	return -EINVAL;
}

int disk_config_parse(const char *spec, struct disk_config *cfg, char *why, size_t why_len)
{
	const char *comma = strchr(spec, ',');
	size_t path_len = comma ? (size_t)(comma - spec) : strlen(spec);
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (path_len == 0) {
		snprintf(why, why_len, "no image path");
		return -EINVAL;
	}
	if (path_len >= sizeof(cfg->path)) {
		snprintf(why, why_len, "path too long");
		return -EINVAL;
	}
	memcpy(cfg->path, spec, path_len);
	while (comma) {
		const char *key = comma + 1;

		comma = strchr(key, ',');
		ret = blk_parse_key(key, comma ? (size_t)(comma - key) : strlen(key), cfg, why,
				    why_len);
		if (ret)
			return ret;
	}
	return 0;
}

int net_config_parse(const char *arg, struct net_config *cfg)
{
	char copy[256], *tap, *opt, *save = NULL;
	unsigned int m[6];

	memset(cfg, 0, sizeof(*cfg));
	if (strlen(arg) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, arg);
	tap = strtok_r(copy, ",", &save);
	if (!tap || arg[0] == ',')
		return -EINVAL;
	if (!strncmp(tap, "switch=", 7)) {
		if (!tap[7] || strlen(tap + 7) > NET_SWITCH_PATH_MAX)
			return -EINVAL;
		strcpy(cfg->switch_path, tap + 7);
	} else if (strlen(tap) < sizeof(cfg->tap)) {
		strcpy(cfg->tap, tap);
	} else {
		return -EINVAL;
	}
	while ((opt = strtok_r(NULL, ",", &save))) {
		char end;
		int i;

		if (!strncmp(opt, "rx_bw=", 6) || !strncmp(opt, "rx_ops=", 7) ||
		    !strncmp(opt, "tx_bw=", 6) || !strncmp(opt, "tx_ops=", 7)) {
			struct throttle_config *t = opt[0] == 'r' ? &cfg->rx_limit : &cfg->tx_limit;
			bool bw = opt[3] == 'b';

			if (throttle_bucket_parse(opt + (bw ? 6 : 7), bw ? &t->bandwidth : &t->ops))
				return -EINVAL;
			continue;
		}
		if (strncmp(opt, "mac=", 4) ||
		    sscanf(opt + 4, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3],
			   &m[4], &m[5], &end) != 6)
			return -EINVAL;
		for (i = 0; i < 6; i++)
			cfg->mac[i] = m[i];
		/* A multicast MAC cannot be a station address. */
		if (cfg->mac[0] & 1)
			return -EINVAL;
		cfg->has_mac = true;
	}
	return 0;
}

int vsock_config_parse(const char *arg, struct vsock_config *cfg)
{
	const char *comma = strchr(arg, ',');
	char cid[24];
	uint64_t v;

	memset(cfg, 0, sizeof(*cfg));
	if (!comma || comma == arg || (size_t)(comma - arg) >= sizeof(cid))
		return -EINVAL;
	memcpy(cid, arg, comma - arg);
	cid[comma - arg] = '\0';
	if (parse_uint(cid, VSOCK_CID_MIN, VSOCK_CID_MAX, &v) || !comma[1])
		return -EINVAL;
	if (strlen(comma + 1) > VSOCK_PATH_MAX)
		return -ENAMETOOLONG;
	cfg->cid = v;
	strcpy(cfg->path, comma + 1);
	return 0;
}

int balloon_config_parse(const char *arg, struct balloon_config *cfg)
{
	char copy[128], *opt, *save = NULL;
	uint64_t v;

	memset(cfg, 0, sizeof(*cfg));
	if (strlen(arg) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, arg);
	opt = strtok_r(copy, ",", &save);
	/* The target counts 4 KiB pages in a 32-bit field. */
	if (!opt || parse_uint(opt, 0, BALLOON_MAX_MIB, &cfg->target_mib))
		return -EINVAL;
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "deflate_on_oom"))
			cfg->deflate_on_oom = true;
		else if (!strncmp(opt, "stats=", 6) && !parse_uint(opt + 6, 1, 3600, &v))
			cfg->stats_period = v;
		else
			return -EINVAL;
	}
	return 0;
}
