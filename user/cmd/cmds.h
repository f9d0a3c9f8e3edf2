/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_CMDS_H
#define KAFKATAP_CMDS_H

/* Subcommands: return the process exit code (0 ok, 1 failure, 2 usage). */
int cmd_trace(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
