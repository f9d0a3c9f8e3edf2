/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every command does with an exchange: decode and observe it (the
 * group tracker learns from it), and count it in the metrics if asked.
 */
#ifndef KAFKATAP_PIPELINE_H
#define KAFKATAP_PIPELINE_H

#include "cmd/options.h"
#include "track/groups.h"
#include "metrics/model.h"
#include "decode/observe.h"

struct kt_pipe {
	struct kt_groups *groups;
	struct kt_observer *obs;
	struct kt_kmetrics *km;		/* NULL without metrics */
};

int kt_pipe_init(struct kt_pipe *p, const struct kt_cli *c, bool metrics);
void kt_pipe_free(struct kt_pipe *p);
const struct kt_annot *kt_pipe_exchange(struct kt_pipe *p, const struct kt_exchange *x);
void kt_pipe_conn(struct kt_pipe *p, const struct kt_conn *c, bool opened);
/* The exposition, with self-metrics and group gauges as of now_ns. */
char *kt_pipe_render(struct kt_pipe *p, const uint64_t *kernel, const struct kt_agent_stats *st,
		     uint64_t now_ns, bool openmetrics, size_t *len);

#endif
