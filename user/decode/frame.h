/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One captured frame through the generated codec: its body, decoded. */
#ifndef KAFKATAP_DECODE_FRAME_H
#define KAFKATAP_DECODE_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include "proto/kc.h"

struct kt_capture;

/* Why a request fails validation (kafkatap_invalid_requests_total{reason}). */
enum kt_invalid {
	KT_INV_UNKNOWN_API,
	KT_INV_UNKNOWN_VERSION,
	KT_INV_FIELD_OVERRUN,
	KT_INV_SIZE_MISMATCH,
	KT_INV_BAD_FIELD,
};

extern const char *const kt_invalid_reasons[];

/*
 * The body of a captured request or response frame of (key, version),
 * decoded into the arena, or NULL. A truncated capture gives what it
 * holds. For a request whose capture is complete, *invalid (if given) says
 * what is wrong with it.
 */
void *kt_decode_frame(struct kc_arena *arena, const struct kt_capture *cap, bool response,
		      int16_t key, int16_t ver, const char **invalid);

#endif
