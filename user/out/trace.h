/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef KAFKATAP_TRACE_OUT_H
#define KAFKATAP_TRACE_OUT_H

#include <stdint.h>
#include <stdio.h>
#include "pair/agent.h"
#include "decode/observe.h"

/* clock_offset_ns turns the agent clock into Unix time; an may be NULL. */
void kt_trace_json(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns,
		   const struct kt_annot *an);
void kt_trace_text(FILE *f, const struct kt_exchange *x, int64_t clock_offset_ns,
		   const struct kt_annot *an);

#endif
