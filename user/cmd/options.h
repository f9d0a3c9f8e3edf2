/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Options shared by the subcommands, parsed in one place. */
#ifndef KAFKATAP_CLI_H
#define KAFKATAP_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "core/session.h"
#include "kernel/loader.h"

enum kt_format {
	KT_FMT_JSON = 0,
	KT_FMT_TEXT,
	KT_FMT_PROM,
};

/* Which options a subcommand takes. */
#define KT_OPT_LIVE	0x01	/* -i, --attach, --ringbuf-mb, -d */
#define KT_OPT_FORMAT	0x02	/* --format */
#define KT_OPT_FILE	0x04	/* one positional FILE */
#define KT_OPT_LISTEN	0x08	/* --listen */
#define KT_OPT_PROM_FMT	0x10	/* --format prom is allowed */
#define KT_OPT_METRICS	0x20	/* label budgets: --max-client-ids ... */

struct kt_cli {
	const char *cmd;
	struct kt_load_opts load;	/* its capture policy comes from the session */
	struct kt_session_cfg session;	/* parsed: agent, km, ask; the command sets the rest */
	enum kt_format format;
	double duration;	/* seconds, 0 = until interrupted */
	const char *file;
	const char *listen;
	bool stats;
};

/*
 * Parse argv for subcommand `cmd`. usage() prints the subcommand's help.
 * Returns 0, 1 when --help was printed (exit 0), -1 on a bad argument
 * (a one-line error and the usage are printed; exit 2).
 */
int kt_cli_parse(struct kt_cli *c, const char *cmd, unsigned int allowed,
		 int argc, char **argv, void (*usage)(FILE *));

/* Text shared by the subcommands' --help. */
extern const char kt_help_common[];
extern const char kt_help_live[];
extern const char kt_help_metrics[];

#endif
