/*
 * libFuzzer target: what emberctl reads from places it does not control. The first byte
 * picks the parser, the rest is its input: a pid file, status.json, /proc/PID/stat, a cpu
 * list, an HTTP reply from an API socket (whole, or cut at the peer's close), and the
 * emberctl block of a VM's config. Each must refuse or accept without reading past the
 * bytes, and what it accepts must be in range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

static void check_status(const struct ctl_status *st)
{
	char text[32];

	if (st->restarts > 1000000000 || st->pid < 0 ||
	    (st->exited && !st->unknown && !st->signal &&
	     (st->exit_code < 0 || st->exit_code > 255)) ||
	    st->signal > 64)
		abort();
	ctl_status_describe(st, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	struct ctl_api_reply reply;
	struct ctl_vm_block blk;
	struct ctl_cpuset set;
	struct ctl_status st;
	unsigned long long start;
	struct ctl_pid pid;
	char why[CTL_WHY], state, *s;
	json_t *v;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	switch (data[0] % 7) {
	case 0:
		if (!ctl_pid_parse(text, len, &pid) && pid.pid < 2)
			abort();
		break;
	case 1:
		if (!ctl_status_parse(text, len, &st, why, sizeof(why)))
			check_status(&st);
		break;
	case 2:
		ctl_proc_stat_parse(text, len, &start, &state);
		break;
	case 3:
		s = strndup(text, len);
		if (s && !ctl_cpulist_parse(s, &set, why, sizeof(why)) && !strlen(s))
			abort();
		free(s);
		break;
	case 4:
		/* A private copy, so that a read past the end is caught. */
		s = malloc(len ? len : 1);
		if (!s)
			break;
		memcpy(s, text, len);
		if (!ctl_api_parse_reply(s, len, len & 1, &reply, why, sizeof(why))) {
			if (reply.status < 100 || reply.status > 599 || reply.body_len > len ||
			    (reply.body_len && !reply.body))
				abort();
			ctl_api_reply_free(&reply);
		}
		free(s);
		break;
	case 5:
		/* Whatever the bytes, the fixed text is a valid JSON string. */
		s = strndup(text, len);
		if (!s)
			break;
		v = ctl_json_text(s);
		if (!v)
			abort();
		json_decref(v);
		free(s);
		break;
	default:
		v = json_loadb(text, len, 0, NULL);
		if (v && !ctl_block_parse(v, &blk, why, sizeof(why)) && !ctl_name_valid(blk.name))
			abort();
		json_decref(v);
		break;
	}
	return 0;
}
