/*
 * Stands in for ember under ember-jailer (bench/jailer): reads CLOCK_MONOTONIC first thing,
 * then writes "<now_us> <start-time-us> <start-time-cpu-us> <parent-cpu-time-us>" to
 * /probe.out in its jail and exits. Built static: the jail holds nothing else.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	const char *start = "?", *start_cpu = "?", *parent_cpu = "?";
	unsigned long long now_us;
	FILE *out;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_us = (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	for (i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--start-time-us"))
			start = argv[i + 1];
		else if (!strcmp(argv[i], "--start-time-cpu-us"))
			start_cpu = argv[i + 1];
		else if (!strcmp(argv[i], "--parent-cpu-time-us"))
			parent_cpu = argv[i + 1];
	}
	out = fopen("/probe.out", "w");
	if (!out)
		return 1;
	fprintf(out, "%llu %s %s %s\n", now_us, start, start_cpu, parent_cpu);
	return fclose(out) ? 1 : 0;
}
