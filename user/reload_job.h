/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a config off the daemon's loop. Parsing a site of a million routes
 * takes seconds, during which a single-threaded daemon would take no
 * connection; a thread reads the file instead, and the loop applies the result
 * (slot remap, directory build, swap) when the thread says it is done.
 */
#ifndef LATEBIND_RELOAD_JOB_H
#define LATEBIND_RELOAD_JOB_H

#include <stddef.h>

#include "config.h"

struct lb_reload_job;

/* Start reading @path in a thread of its own. NULL with errno if none could start. */
struct lb_reload_job *lb_reload_job_start(const char *path);

/* Readable (POLLIN) once the thread is done. */
int lb_reload_job_fd(const struct lb_reload_job *j);

/*
 * Wait for the thread (at once if the fd was readable) and free the job: 0 and
 * @cfg the config read, or -1 and @err saying why it was refused.
 */
int lb_reload_job_finish(struct lb_reload_job *j, struct lb_config *cfg, char *err, size_t errlen);

#endif
