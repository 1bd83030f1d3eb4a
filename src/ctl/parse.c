/*
 * The parsers of bytes emberctl does not control: the files of the state directory (which
 * may be half-written, stale or edited by hand), /proc, cpu lists and the emberctl block of
 * a config. Each is bounded by its input length and fills its output only on success.
 * tests/fuzz/fuzz_ctl_state.c runs them on arbitrary bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "../util/util.h"

bool ctl_name_valid(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++)
		if (n >= CTL_NAME_MAX ||
		    !(isalnum((unsigned char)name[n]) || name[n] == '_' || name[n] == '-'))
			return false;
	return n > 0;
}

/* A decimal number of at most 9 digits at (*p); advances (*p). */
static int small_number(const char **p, unsigned long *out)
{
	unsigned long v = 0;
	int digits = 0;

	while (isdigit((unsigned char)**p)) {
		if (++digits > 9)
			return -ERANGE;
		v = v * 10 + (unsigned long)(**p - '0');
		(*p)++;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_cpulist_parse(const char *text, struct ctl_cpuset *set, char *why, size_t why_len)
{
	struct ctl_cpuset s = {{0}};
	const char *p = text;
	unsigned long lo, hi, i;

	if (strlen(text) >= CTL_CPULIST_MAX) {
		snprintf(why, why_len, "longer than %d characters", CTL_CPULIST_MAX - 1);
		return -EINVAL;
	}
	for (;;) {
		if (small_number(&p, &lo))
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			if (small_number(&p, &hi) || hi < lo)
				goto bad;
		}
		if (hi >= CTL_CPUS_MAX) {
			snprintf(why, why_len, "CPU %lu: emberctl knows CPUs 0 to %d", hi,
				 CTL_CPUS_MAX - 1);
			return -EINVAL;
		}
		for (i = lo; i <= hi; i++)
			s.bits[i / 64] |= 1ULL << (i % 64);
		if (!*p)
			break;
		if (*p++ != ',')
			goto bad;
	}
	*set = s;
	return 0;
bad:
	snprintf(why, why_len, "'%s' is not a CPU list (like 2-3 or 0,2,4-5)", text);
	return -EINVAL;
}

bool ctl_cpuset_overlap(const struct ctl_cpuset *a, const struct ctl_cpuset *b)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(a->bits); i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

/* An unsigned decimal in [0, max] from (p) up to (end), skipping nothing. */
static int parse_ull(const char **p, const char *end, unsigned long long max,
		     unsigned long long *out)
{
	unsigned long long v = 0;
	const char *s = *p;

	if (s == end || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; s < end && isdigit((unsigned char)*s); s++) {
		if (v > (max - (unsigned long long)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int ctl_pid_parse(const char *text, size_t len, struct ctl_pid *out)
{
	const char *p = text, *end = text + len;
	unsigned long long pid, start;

	if (parse_ull(&p, end, 4194304, &pid) || pid < 2 || p == end || *p++ != ' ' ||
	    parse_ull(&p, end, ~0ULL, &start))
		return -EINVAL;
	if (p < end && *p == '\n')
		p++;
	if (p != end)
		return -EINVAL;
	out->pid = (pid_t)pid;
	out->start = start;
	return 0;
}

int ctl_proc_stat_parse(const char *text, size_t len, unsigned long long *start, char *state)
{
	const char *p = NULL, *end = text + len;
	unsigned long long v = 0;
	size_t i;
	int field;

	/* The command name (field 2) may hold anything, ')' too: the last ')' ends it. */
	for (i = 0; i < len; i++)
		if (text[i] == ')')
			p = text + i;
	if (!p || end - p < 3 || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*state = *p;
	/* Field 3 is the state; the start time is field 22. */
	for (field = 3; field < 22; field++) {
		while (p < end && *p != ' ')
			p++;
		if (p == end)
			return -EINVAL;
		p++;
	}
	if (parse_ull(&p, end, ~0ULL, &v))
		return -EINVAL;
	*start = v;
	return 0;
}

const char *ctl_restart_name(enum ctl_restart r)
{
	return r == RESTART_ALWAYS ? "always" : r == RESTART_ON_FAILURE ? "on-failure" : "no";
}

static int block_bool(json_t *v, const char *key, bool *out, char *why, size_t why_len)
{
	json_t *m = json_object_get(v, key);

	if (!m)
		return 0;
	if (!json_is_boolean(m)) {
		snprintf(why, why_len, "emberctl.%s: must be true or false", key);
		return -EINVAL;
	}
	*out = json_is_true(m);
	return 0;
}

int ctl_block_parse(json_t *v, struct ctl_vm_block *out, char *why, size_t why_len)
{
	static const char *const known[] = {"name", "cpus",	  "realtime", "restart",
					    "jail", "share_cpus", NULL};
	struct ctl_vm_block b = {.restart = RESTART_NO};
	struct ctl_cpuset set;
	const char *key, *s;
	char w[CTL_WHY];
	json_t *m;
	int i;

	if (!v) {
		snprintf(why, why_len,
			 "emberctl: required block missing (at least "
			 "{\"name\": \"NAME\"})");
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		snprintf(why, why_len, "emberctl: must be an object");
		return -EINVAL;
	}
	json_object_foreach(v, key, m)
	{
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i]) {
			snprintf(why, why_len,
				 "emberctl.%s: unknown field (known: name, cpus, "
				 "realtime, restart, jail, share_cpus)",
				 key);
			return -EINVAL;
		}
	}
	m = json_object_get(v, "name");
	if (!m || !json_is_string(m)) {
		snprintf(why, why_len, "emberctl.name: required, a string");
		return -EINVAL;
	}
	s = json_string_value(m);
	if (!ctl_name_valid(s)) {
		snprintf(why, why_len,
			 "emberctl.name: '%.80s' is not a name: 1 to %d letters, "
			 "digits, '-' or '_'",
			 s, CTL_NAME_MAX);
		return -EINVAL;
	}
	strcpy(b.name, s);
	if ((m = json_object_get(v, "cpus"))) {
		if (!json_is_string(m)) {
			snprintf(why, why_len, "emberctl.cpus: must be a string (like \"2-3\")");
			return -EINVAL;
		}
		s = json_string_value(m);
		if (ctl_cpulist_parse(s, &set, w, sizeof(w))) {
			snprintf(why, why_len, "emberctl.cpus: %s", w);
			return -EINVAL;
		}
		strcpy(b.cpus, s);
	}
	if ((m = json_object_get(v, "restart"))) {
		s = json_is_string(m) ? json_string_value(m) : "";
		if (!strcmp(s, "no"))
			b.restart = RESTART_NO;
		else if (!strcmp(s, "on-failure"))
			b.restart = RESTART_ON_FAILURE;
		else if (!strcmp(s, "always"))
			b.restart = RESTART_ALWAYS;
		else {
			snprintf(why, why_len,
				 "emberctl.restart: must be \"no\", \"on-failure\" "
				 "or \"always\"");
			return -EINVAL;
		}
	}
	if (block_bool(v, "realtime", &b.realtime, why, why_len) ||
	    block_bool(v, "jail", &b.jail, why, why_len) ||
	    block_bool(v, "share_cpus", &b.share_cpus, why, why_len))
		return -EINVAL;
	*out = b;
	return 0;
}

static int status_int(json_t *root, const char *key, long long min, long long max, long long *out)
{
	json_t *m = json_object_get(root, key);

	if (!m || json_is_null(m))
		return 1;
	if (!json_is_integer(m) || json_integer_value(m) < min || json_integer_value(m) > max)
		return -EINVAL;
	*out = json_integer_value(m);
	return 0;
}

int ctl_status_parse(const char *text, size_t len, struct ctl_status *out, char *why,
		     size_t why_len)
{
	static const char *const states[] = {"starting", "running", "restarting", "exited", NULL};
	struct ctl_status st = {.exit_code = -1};
	long long v = 0;
	json_error_t jerr;
	const char *s;
	json_t *root, *m;
	int i, ret = -EINVAL;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(why, why_len, "not JSON (%s)", jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(why, why_len, "not a JSON object");
		goto out;
	}
	m = json_object_get(root, "state");
	s = json_is_string(m) ? json_string_value(m) : "";
	for (i = 0; states[i] && strcmp(states[i], s); i++)
		;
	if (!states[i]) {
		snprintf(why, why_len, "no known state");
		goto out;
	}
	strcpy(st.state, states[i]);
	if (status_int(root, "pid", 0, 4194304, &v) < 0)
		goto bad_field;
	st.pid = (pid_t)v;
	v = 0;
	if (status_int(root, "restarts", 0, 1000000000, &v) < 0)
		goto bad_field;
	st.restarts = (unsigned int)v;
	v = 0;
	if (status_int(root, "started", 0, 1LL << 40, &v) < 0)
		goto bad_field;
	st.started = v;
	m = json_object_get(root, "stop_requested");
	st.stop_requested = json_is_true(m);
	m = json_object_get(root, "exit");
	if (m && !json_is_null(m)) {
		long long code = -1, sig = 0;
		int rc, rs;

		if (!json_is_object(m))
			goto bad_field;
		rc = status_int(m, "code", 0, 255, &code);
		rs = status_int(m, "signal", 1, 64, &sig);
		if (rc < 0 || rs < 0 || (!rc && !rs))
			goto bad_field;
		st.exited = true;
		st.unknown = rc && rs;
		st.exit_code = rc ? -1 : (int)code;
		st.signal = rs ? 0 : (int)sig;
	}
	*out = st;
	ret = 0;
	goto out;
bad_field:
	snprintf(why, why_len, "a field has the wrong type or range");
out:
	json_decref(root);
	return ret;
}

void ctl_status_describe(const struct ctl_status *st, char *out, size_t out_len)
{
	if (!st->exited)
		snprintf(out, out_len, "%s", "");
	else if (st->unknown)
		snprintf(out, out_len, "unknown");
	else if (st->signal)
		snprintf(out, out_len, "signal %d", st->signal);
	else
		snprintf(out, out_len, "exit %d", st->exit_code);
}

/* The length of the valid UTF-8 sequence at (s), 0 if there is none. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void ctl_utf8_fix(char *text)
{
	unsigned char *s = (unsigned char *)text;
	size_t n;

	while (*s) {
		n = utf8_seq(s);
		if (n) {
			s += n;
		} else {
			*s++ = '?';
		}
	}
}

json_t *ctl_json_text(const char *text)
{
	char *copy = strdup(text);
	json_t *v;

	if (!copy)
		return NULL;
	ctl_utf8_fix(copy);
	v = json_string(copy);
	free(copy);
	return v;
}
