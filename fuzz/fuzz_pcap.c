// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: capture input, as `kafkatap replay` reads it.
 *
 * First byte even: kt_pcap_to_eth() on one packet. Byte 1 picks the link
 * type (every one pcap_in.c knows, and others), byte 2 the output room
 * (exact fits, one short, large), the rest is the packet. The result is
 * checked against what pcap_in.h promises.
 *
 * First byte odd: the rest is a pcap or pcapng file, opened from memory
 * with libpcap (its own parser) and read like cmd_replay.c does: every
 * packet through kt_pcap_to_eth() into a 256 KiB frame, then kt_feed_eth()
 * with libbpf stubbed (bpf_stubs.c, checked by feed_check.h). No BPF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pcap/pcap.h>
#include "kernel/feed.h"
#include "feed_check.h"
#include "kernel/pcap_in.h"

#define FRAME_MAX (256 * 1024)	/* as in cmd_replay.c */

static const int linktypes[] = {
	0, 1, 101, 108, 113, 228, 229, 276, 12, 14,	/* what pcap_in.c converts */
	105, 127, 192, 197, 147, 9, 50, 253, -1, 0x7fffffff,
};

static void check_eth(int lt, const uint8_t *pkt, size_t caplen, const uint8_t *out,
		      size_t outlen, size_t olen, int ret)
{
	if (ret) {
		CHECK(ret == -EINVAL || ret == -E2BIG || ret == -ENOENT ||
		      ret == -EPROTONOSUPPORT);
		return;
	}
	CHECK(olen >= 14 && olen <= outlen);
	if (lt == 1) {
		if (olen == caplen) {
			CHECK(!memcmp(out, pkt, caplen));
		} else {	/* one 802.1Q tag dropped */
			CHECK(olen + 4 == caplen && pkt[12] == 0x81 && pkt[13] == 0);
			CHECK(!memcmp(out, pkt, 12) && !memcmp(out + 12, pkt + 16, olen - 12));
		}
		return;
	}
	/* The IP packet is the tail of the captured one, after a new header. */
	CHECK(olen - 14 <= caplen);
	CHECK(!memcmp(out + 14, pkt + caplen - (olen - 14), olen - 14));
	CHECK((out[12] == 0x08 && out[13] == 0x00) || (out[12] == 0x86 && out[13] == 0xdd));
	if (lt != 113 && lt != 276 && olen > 14)
		CHECK((out[14] >> 4) == (out[12] == 0x08 ? 4 : 6));
}

static void one_packet(const uint8_t *data, size_t size)
{
	size_t caplen, outlen, olen = 0;
	uint8_t *pkt, *out;
	int lt, ret;

	if (size < 3)
		return;
	lt = linktypes[data[1] % (sizeof(linktypes) / sizeof(linktypes[0]))];
	if (data[1] >= 0xf0)
		lt = (int8_t)data[1] * 1000;
	caplen = size - 3;
	switch (data[2] & 7) {
	case 0: outlen = caplen + 14; break;
	case 1: outlen = caplen + 13; break;
	case 2: outlen = caplen; break;
	case 3: outlen = caplen > 4 ? caplen - 4 : 0; break;
	case 4: outlen = caplen > 5 ? caplen - 5 : 0; break;
	case 5: outlen = data[2] >> 3; break;
	default: outlen = FRAME_MAX; break;
	}
	/* Exact-size buffers: AddressSanitizer sees one byte too far. */
	pkt = malloc(caplen ? caplen : 1);
	out = malloc(outlen ? outlen : 1);
	memcpy(pkt, data + 3, caplen);
	ret = kt_pcap_to_eth(lt, pkt, caplen, out, outlen, &olen);
	check_eth(lt, pkt, caplen, out, outlen, olen, ret);
	free(pkt);
	free(out);
}

static void read_capture(const uint8_t *data, size_t size)
{
	static struct kt_feeder feeder;
	static uint8_t *frame;
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *ph;
	const uint8_t *pkt;
	uint8_t *copy;
	FILE *fp;
	pcap_t *p;
	int lt, err, n = 0;

	if (!size)
		return;
	if (!feeder.rb)
		CHECK(kt_feeder_init(&feeder, NULL, NULL, NULL) == 0);
	if (!frame)
		frame = malloc(FRAME_MAX);
	copy = malloc(size);
	memcpy(copy, data, size);
	fp = fmemopen(copy, size, "rb");
	if (!fp) {
		free(copy);
		return;
	}
	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		fclose(fp);
		free(copy);
		return;
	}
	lt = pcap_datalink(p);
	while ((err = pcap_next_ex(p, &ph, &pkt)) == 1 && n++ < 4096) {
		size_t flen = 0;
		int ret;

		ret = kt_pcap_to_eth(lt, pkt, ph->caplen, frame, FRAME_MAX, &flen);
		check_eth(lt, pkt, ph->caplen, frame, FRAME_MAX, flen, ret);
		if (ret)
			continue;
		fc_reset();
		ret = kt_feed_eth(&feeder, frame, flen,
				  (uint64_t)ph->ts.tv_sec * 1000000000ULL + ph->ts.tv_usec);
		fc_check(frame, flen, ret);
	}
	pcap_close(p);		/* closes fp */
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		read_capture(data + 1, size - 1);
	else
		one_packet(data, size);
	return 0;
}
