// SPDX-License-Identifier: GPL-2.0
/*
 * The one object that embeds the version string: the Makefile rebuilds it
 * whenever `git describe` changes, and nothing else for that reason.
 */
#include "version.h"

#ifndef LATEBIND_VERSION
#define LATEBIND_VERSION "unknown"
#endif

const char lb_version[] = LATEBIND_VERSION;
