// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: kt_feed_eth() (user/kernel/feed.c), the userspace parsing of
 * Ethernet/IPv4/IPv6/TCP headers that cuts a captured packet too large for
 * one BPF_PROG_TEST_RUN into segments. libbpf is stubbed (bpf_stubs.c): the
 * runs are recorded and checked by feed_check.h, no kernel involved.
 *
 * Input: two bytes P (big endian), then an Ethernet frame; P more bytes
 * (a counting pattern) are appended, so that small inputs make the large
 * packets that get cut.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/feed.h"
#include "feed_check.h"

/*
 * The padding, copied from a table: a loop here (its stores checked by
 * ASan, its compares traced) took most of the time per input.
 */
static void pad_fill(uint8_t *frame, size_t from, size_t len)
{
	static uint8_t pat[1 << 18];
	static bool init;
	size_t i, mid;

	if (!init) {
		for (i = 0; i < sizeof(pat); i++)
			pat[i] = (uint8_t)(i * 7 + (i >> 8));
		init = true;
	}
	mid = len < sizeof(pat) ? len : sizeof(pat);
	if (from < mid)
		memcpy(frame + from, pat + from, mid - from);
	for (i = from > mid ? from : mid; i < len; i++)	/* inputs over 190 KiB */
		frame[i] = (uint8_t)(i * 7 + (i >> 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kt_feeder feeder;
	size_t pad, len;
	uint8_t *frame;
	int ret;

	if (size < 2)
		return 0;
	if (!feeder.rb)
		CHECK(kt_feeder_init(&feeder, NULL, NULL, NULL) == 0);
	pad = (size_t)data[0] << 8 | data[1];
	len = size - 2 + pad;
	frame = malloc(len ? len : 1);
	memcpy(frame, data + 2, size - 2);
	pad_fill(frame, size - 2, len);
	fc_reset();
	ret = kt_feed_eth(&feeder, frame, len, 1);
	fc_check(frame, len, ret);
	free(frame);
	return 0;
}
