/*
 * libFuzzer target: the fuzzer's bytes (at most the first 4 KiB) are a --config-file, read
 * by config_parse() as ember reads the file and a snapshot's configuration. Besides "no
 * crash", a refused file must leave its one line of error text and the configuration
 * untouched, an accepted one no text; and an accepted file (other than a snapshot-load)
 * written back out as FullVmConfiguration, as GET /vm/config and a snapshot store it, must
 * be accepted again and give the same configuration: what ember saves it can restore.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_file.h"
#include "config/sections.h"

/* jansson's time grows with the input and is not what is under test; 4 KiB is a big file. */
#define FUZZ_MAX_INPUT 4096

static __attribute__((format(printf, 1, 2), noreturn)) void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* Parse (text) into a fresh (cfg); the result is checked against its error text. */
static int parse(const char *text, size_t len, struct vm_config *cfg)
{
	static struct vm_config fresh;
	char err[512] = "";
	int ret;

	vm_config_init(cfg);
	vm_config_init(&fresh);
	ret = config_parse(text, len, cfg, err, sizeof(err));
	if (ret == 0 && err[0])
		fail("accepted with the error '%s'", err);
	if (ret != 0 && (ret != -EINVAL || !err[0]))
		fail("refused (%d) without error text", ret);
	if (ret != 0 && memcmp(cfg, &fresh, sizeof(fresh)))
		fail("refused ('%s'), but the configuration changed", err);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg, again;
	json_t *out = NULL, *out2 = NULL;
	char *text = NULL;

	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	if (parse((const char *)data, size, &cfg))
		goto done;
	/* The snapshot holds the VM's configuration: a load has nothing of its own to write. */
	if (cfg.restore.set)
		goto done;
	out = cfg_to_json(&cfg);
	text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	if (!text)
		fail("cannot write the configuration out");
	if (parse(text, strlen(text), &again))
		fail("refuses the configuration it wrote: %s", text);
	out2 = cfg_to_json(&again);
	if (!out2 || !json_equal(out, out2))
		fail("reads the configuration it wrote as another: %s", text);
	vm_config_free(&again);
done:
	vm_config_free(&cfg);
	free(text);
	json_decref(out);
	json_decref(out2);
	return 0;
}
