/*
 * ember-rebase-snap --base-file BASE --diff-file DIFF: the command line of Firecracker's
 * rebase-snap. A Diff memory file is sparse: it holds the pages the guest wrote since the
 * previous snapshot and holes elsewhere. Copying each of its data ranges onto BASE (the
 * memory file that snapshot was taken on top of) at the same offset turns BASE into the
 * full memory at the time of DIFF, which a File restore can map.
 */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REBASE_VERSION "0.1.0" /* ember's own version (EMBER_VERSION in api/instance.h) */
#define EXIT_FAILED    1
#define EXIT_BAD_ARGS  2
#define MEM_PAGE_SIZE  4096 /* memory files hold whole pages */
#define COPY_CHUNK     (1024 * 1024)

static const char usage[] =
    "usage: ember-rebase-snap --base-file BASE --diff-file DIFF\n"
    "\n"
    "Copies every data range of DIFF, a Diff snapshot's memory file (sparse: the pages\n"
    "the guest did not write since the snapshot before are holes), onto BASE at the same\n"
    "offset, so that BASE becomes the full memory at the time of DIFF. BASE is the Full\n"
    "memory file of that earlier snapshot, or one rebased onto already; both files must\n"
    "have the same size. Apply Diffs in the order they were taken.\n"
    "\n"
    "  --base-file BASE   the memory file to update (required)\n"
    "  --diff-file DIFF   the Diff memory file to apply (required)\n"
    "  --version          print the version and exit\n"
    "  --help             print this help and exit\n"
    "\n"
    "Exit status: 0 when BASE has every data range of DIFF; 2 for a bad argument (BASE is\n"
    "unchanged); 1 when reading or writing failed (BASE may be partly updated).\n";

enum { OPT_BASE = 256, OPT_DIFF, OPT_VERSION, OPT_HELP };

static const struct option long_options[] = {
    {"base-file", required_argument, NULL, OPT_BASE},
    {"diff-file", required_argument, NULL, OPT_DIFF},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct rebase_args {
	const char *base, *diff;
	bool help, version;
};

/* 0, or -EINVAL with the reason in (why). */
static int read_args(int argc, char **argv, struct rebase_args *a, char *why, size_t why_len)
{
	const char **slot;
	int opt;

	opterr = 0; /* the messages are ours */
	while ((opt = getopt_long(argc, argv, "+:", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_VERSION:
			a->version = true;
			continue;
		case OPT_HELP:
			a->help = true;
			continue;
		case ':':
			snprintf(why, why_len, "%s needs a value", argv[optind - 1]);
			return -EINVAL;
		case '?':
			snprintf(why, why_len, "unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
		slot = opt == OPT_BASE ? &a->base : &a->diff;
		if (*slot) {
			snprintf(why, why_len, "--%s given twice",
				 opt == OPT_BASE ? "base-file" : "diff-file");
			return -EINVAL;
		}
		if (!*optarg) {
			snprintf(why, why_len, "--%s: an empty path",
				 opt == OPT_BASE ? "base-file" : "diff-file");
			return -EINVAL;
		}
		*slot = optarg;
	}
	if (optind < argc) {
		snprintf(why, why_len, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (a->help || a->version)
		return 0;
	if (!a->base || !a->diff) {
		snprintf(why, why_len, "--%s is required (see ember-rebase-snap --help)",
			 a->base ? "diff-file" : "base-file");
		return -EINVAL;
	}
	return 0;
}

/*
 * Open both and check they can be two memory files of one VM. 0, or -errno with the
 * reason in (why): the arguments' fault, as nothing was written yet.
 */
static int open_files(const struct rebase_args *a, int *base, int *diff, uint64_t *size, char *why,
		      size_t why_len)
{
	struct stat bst, dst;
	int err;

	*base = open(a->base, O_WRONLY | O_CLOEXEC);
	if (*base < 0 || fstat(*base, &bst)) {
		err = -errno;
		snprintf(why, why_len, "--base-file %s: %s", a->base, strerror(-err));
		return err;
	}
	*diff = open(a->diff, O_RDONLY | O_CLOEXEC);
	if (*diff < 0 || fstat(*diff, &dst)) {
		err = -errno;
		snprintf(why, why_len, "--diff-file %s: %s", a->diff, strerror(-err));
		return err;
	}
	if (!S_ISREG(bst.st_mode) || !S_ISREG(dst.st_mode)) {
		snprintf(why, why_len, "--%s %s: not a regular file",
			 S_ISREG(bst.st_mode) ? "diff-file" : "base-file",
			 S_ISREG(bst.st_mode) ? a->diff : a->base);
		return -EINVAL;
	}
	if (bst.st_dev == dst.st_dev && bst.st_ino == dst.st_ino) {
		snprintf(why, why_len, "--base-file and --diff-file are the same file");
		return -EINVAL;
	}
	if (dst.st_size == 0 || dst.st_size % MEM_PAGE_SIZE) {
		snprintf(why, why_len,
			 "--diff-file %s: %lld bytes is not a memory file (a non-zero multiple "
			 "of %d)",
			 a->diff, (long long)dst.st_size, MEM_PAGE_SIZE);
		return -EINVAL;
	}
	if (bst.st_size != dst.st_size) {
		snprintf(why, why_len,
			 "--base-file %s has %lld bytes and --diff-file %s %lld: not memory files "
			 "of the same VM",
			 a->base, (long long)bst.st_size, a->diff, (long long)dst.st_size);
		return -EINVAL;
	}
	/*
	 * A filesystem without SEEK_HOLE reports the whole file as data, and copying the
	 * holes would write zeros over the base's pages: refuse a sparse file there.
	 */
	if ((uint64_t)dst.st_blocks * 512 < (uint64_t)dst.st_size &&
	    lseek(*diff, 0, SEEK_HOLE) == dst.st_size) {
		snprintf(why, why_len,
			 "--diff-file %s is sparse but its filesystem does not report the holes "
			 "(SEEK_HOLE)",
			 a->diff);
		return -EOPNOTSUPP;
	}
	*size = dst.st_size;
	return 0;
}

static int copy_range(int base, int diff, uint64_t start, uint64_t end, uint8_t *buf,
		      const struct rebase_args *a, char *why, size_t why_len)
{
	while (start < end) {
		size_t len = end - start < COPY_CHUNK ? end - start : COPY_CHUNK;
		ssize_t n;
		int err;

		do
			n = pread(diff, buf, len, start);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			err = n ? -errno : -EIO;
			snprintf(why, why_len, "--diff-file %s: reading at %llu: %s", a->diff,
				 (unsigned long long)start, n ? strerror(-err) : "the file shrank");
			return err;
		}
		for (size_t done = 0; done < (size_t)n;) {
			ssize_t w = pwrite(base, buf + done, n - done, start + done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				err = w ? -errno : -EIO;
				snprintf(why, why_len, "--base-file %s: writing at %llu: %s",
					 a->base, (unsigned long long)(start + done),
					 w ? strerror(-err) : "no progress");
				return err;
			}
			done += w;
		}
		start += n;
	}
	return 0;
}

/* Every data range of (diff) onto (base). 0 or -errno with the reason in (why). */
static int rebase(int base, int diff, uint64_t size, const struct rebase_args *a, char *why,
		  size_t why_len)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	off_t data, hole = 0;
	int ret = 0;

	if (!buf) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	while ((uint64_t)hole < size) {
		data = lseek(diff, hole, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only holes from here to the end */
		if (data >= 0)
			hole = lseek(diff, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			ret = -errno;
			snprintf(why, why_len, "--diff-file %s: finding its data: %s", a->diff,
				 strerror(-ret));
			break;
		}
		/* The size was checked: a file that grew since gives no more than that. */
		if ((uint64_t)hole > size)
			hole = size;
		ret = copy_range(base, diff, data, hole, buf, a, why, why_len);
		if (ret)
			break;
	}
	free(buf);
	if (!ret && fsync(base)) {
		ret = -errno;
		snprintf(why, why_len, "--base-file %s: %s", a->base, strerror(-ret));
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct rebase_args a = {0};
	char why[1024] = "";
	uint64_t size = 0;
	int base = -1, diff = -1, ret;

	ret = read_args(argc, argv, &a, why, sizeof(why));
	if (!ret && a.help) {
		fputs(usage, stdout);
		return 0;
	}
	if (!ret && a.version) {
		printf("ember-rebase-snap v%s\n", REBASE_VERSION);
		return 0;
	}
	if (!ret)
		ret = open_files(&a, &base, &diff, &size, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "ember-rebase-snap: %s\n", why);
		return EXIT_BAD_ARGS;
	}
	ret = rebase(base, diff, size, &a, why, sizeof(why));
	close(base);
	close(diff);
	if (ret) {
		fprintf(stderr, "ember-rebase-snap: %s\n", why);
		return EXIT_FAILED;
	}
	return 0;
}
