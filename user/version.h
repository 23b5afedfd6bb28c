/* SPDX-License-Identifier: GPL-2.0 */
/* The build's version (`git describe`), for --version and latebind_build_info. */
#ifndef LATEBIND_VERSION_H
#define LATEBIND_VERSION_H

extern const char lb_version[];

#endif
