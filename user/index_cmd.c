// SPDX-License-Identifier: GPL-2.0
/*
 * latebind index NAME=DIR...: the content directory from the backends' document
 * roots. Every file becomes an exact-path route held by every backend whose root
 * has it (a directory with an index.html also gets a route for "dir/"), written
 * as the config's `routes:` section, so a site split by hand needs no routes
 * written by hand.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"

struct entry {
	char *path;	  /* URL path, starting with '/' */
	unsigned backend; /* index into the NAME=DIR arguments */
};

/* nftw has no context argument: the walk in progress. */
static struct {
	struct entry *e;
	size_t n, cap;
	size_t root_len;
	unsigned backend;
	int error;
} walk;

static int add(const char *path, size_t len)
{
	if (walk.n == walk.cap) {
		size_t cap = walk.cap ? walk.cap * 2 : 1024;
		struct entry *e = realloc(walk.e, cap * sizeof(*e));

		if (!e)
			return -1;
		walk.e = e;
		walk.cap = cap;
	}
	walk.e[walk.n].path = strndup(path, len);
	if (!walk.e[walk.n].path)
		return -1;
	walk.e[walk.n++].backend = walk.backend;
	return 0;
}

static int visit(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = fpath + walk.root_len;
	size_t len = strlen(rel);

	if (type != FTW_F)
		return 0;
	if (add(rel, len)) {
		walk.error = ENOMEM;
		return 1;
	}
	/* What a web server answers for "dir/" is its index.html. */
	if (len >= 10 && !strcmp(rel + len - 10, "index.html") && (len == 10 || rel[len - 11] == '/'))
		if (add(rel, len - 10)) {
			walk.error = ENOMEM;
			return 1;
		}
	return 0;
}

static int by_path(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : (int)x->backend - (int)y->backend;
}

/*
 * Route paths in the config are percent-decoded when loaded, so anything but
 * plain path characters is written percent-encoded (a file "100%.txt" stays
 * itself), which also keeps the YAML string simple.
 */
static void put_path(FILE *out, const char *p)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "-._~!$&'()*+,;=:@/";

	fputc('"', out);
	for (; *p; p++) {
		if (strchr(plain, *p))
			fputc(*p, out);
		else
			fprintf(out, "%%%02X", (unsigned char)*p);
	}
	fputc('"', out);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind index [--host HOST] NAME=DIR [NAME=DIR...]\n\n"
		"Walks each backend's document root DIR and prints a config 'routes:' section:\n"
		"one exact-path route per file, held by every backend NAME whose root has it.\n"
		"NAME must match a backend's name in the config. Append the output to a config\n"
		"that has no routes yet, e.g.  latebind index web1=/srv/web1 web2=/srv/web2 >> site.yaml\n");
}

int cmd_index(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *host = "*";
	char **names;
	size_t i, j;
	int opt, nroots, ret = LB_EXIT_FAIL;

	while ((opt = getopt_long(argc, argv, "H:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'h': usage(stdout); return LB_EXIT_OK;
		default: usage(stderr); return LB_EXIT_USAGE;
		}
	}
	nroots = argc - optind;
	if (nroots < 1) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	names = calloc(nroots, sizeof(*names));
	if (!names)
		return LB_EXIT_FAIL;
	for (i = 0; i < (size_t)nroots; i++) {
		char *arg = argv[optind + i], *eq = strchr(arg, '='), *dir;
		size_t dlen;

		if (!eq || eq == arg || !eq[1]) {
			fprintf(stderr, "latebind index: '%s': write NAME=DIR, e.g. web1=/srv/web1\n",
				arg);
			ret = LB_EXIT_USAGE;
			goto out;
		}
		names[i] = strndup(arg, eq - arg);
		dir = eq + 1;
		dlen = strlen(dir);
		while (dlen > 1 && dir[dlen - 1] == '/')
			dir[--dlen] = '\0';
		walk.root_len = dlen;
		walk.backend = i;
		/* FTW_PHYS: a symlink out of the root must not add what it points at. */
		if (nftw(dir, visit, 64, FTW_PHYS) || walk.error) {
			fprintf(stderr, "latebind index: %s: %s\n", dir,
				strerror(walk.error ? walk.error : errno));
			goto out;
		}
	}
	qsort(walk.e, walk.n, sizeof(*walk.e), by_path);

	printf("# from: latebind index");
	for (i = 0; i < (size_t)nroots; i++)
		printf(" %s", argv[optind + i]);
	printf("\nroutes:\n");
	for (i = 0; i < walk.n; i = j) {
		printf("  - {host: \"%s\", path: ", host);
		put_path(stdout, walk.e[i].path);
		printf(", backends: [");
		for (j = i; j < walk.n && !strcmp(walk.e[j].path, walk.e[i].path); j++)
			if (j == i || walk.e[j].backend != walk.e[j - 1].backend)
				printf("%s%s", j == i ? "" : ", ", names[walk.e[j].backend]);
		printf("]}\n");
	}
	ret = fflush(stdout) ? LB_EXIT_FAIL : LB_EXIT_OK;
out:
	for (i = 0; i < walk.n; i++)
		free(walk.e[i].path);
	free(walk.e);
	for (i = 0; i < (size_t)nroots; i++)
		free(names[i]);
	free(names);
	return ret;
}
