/* SPDX-License-Identifier: GPL-2.0 */
/* The latebind subcommands; each parses its own options (getopt_long) and has --help. */
#ifndef LATEBIND_COMMANDS_H
#define LATEBIND_COMMANDS_H

/* Exit codes shared by every subcommand (docs/cli.md). */
#define LB_EXIT_OK	       0
#define LB_EXIT_FAIL	       1 /* the operation failed */
#define LB_EXIT_USAGE	       2 /* bad command line */

int cmd_balancer(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_backend(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_undrain(int argc, char **argv);
int cmd_advise(int argc, char **argv);

#endif
