// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reload_job.h"

/* The thread writes cfg, ret and err, then the eventfd; the loop reads them after joining. */
struct lb_reload_job {
	pthread_t thread;
	int done_fd;
	int ret;
	struct lb_config cfg;
	char path[LB_PATH_MAX];
	char err[LB_ERR_MAX];
};

static void *read_config(void *arg)
{
	struct lb_reload_job *j = arg;
	uint64_t one = 1;

	j->ret = lb_config_load(j->path, &j->cfg, j->err, sizeof(j->err));
	/* An eventfd write of 1 cannot block or fail short of a bug. */
	if (write(j->done_fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

struct lb_reload_job *lb_reload_job_start(const char *path)
{
	struct lb_reload_job *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return NULL;
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->done_fd < 0)
		goto fail;
	err = pthread_create(&j->thread, NULL, read_config, j);
	if (err) {
		close(j->done_fd);
		errno = err;
		goto fail;
	}
	return j;
fail:
	err = errno;
	free(j);
	errno = err;
	return NULL;
}

int lb_reload_job_fd(const struct lb_reload_job *j)
{
	return j->done_fd;
}

int lb_reload_job_finish(struct lb_reload_job *j, struct lb_config *cfg, char *err, size_t errlen)
{
	int ret;

	pthread_join(j->thread, NULL);
	close(j->done_fd);
	ret = j->ret;
	if (ret)
		snprintf(err, errlen, "%s", j->err);
	else
		*cfg = j->cfg;
	free(j);
	return ret;
}
