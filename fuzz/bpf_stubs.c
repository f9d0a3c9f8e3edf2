// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Just enough of libbpf and of loader.c for user/kernel/feed.c to link into a
 * fuzzer without a kernel: BPF_PROG_TEST_RUN is replaced by a check of what
 * it would have been given (fuzz_frame.c installs the check).
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/feed.h"
#include "bpf_stubs.h"

kt_stub_run_fn kt_stub_run;

int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts)
{
	if (!opts || !opts->data_in)
		return -EINVAL;
	return kt_stub_run ? kt_stub_run(opts->data_in, opts->data_size_in) : 0;
}

static int ring;

struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
				     const struct ring_buffer_opts *opts)
{
	return (struct ring_buffer *)&ring;
}

void ring_buffer__free(struct ring_buffer *rb)
{
}

int ring_buffer__consume(struct ring_buffer *rb)
{
	return 0;
}

int kt_bpf_prog_fd(const struct kt_bpf *b)
{
	return 3;
}

int kt_bpf_ringbuf_fd(const struct kt_bpf *b)
{
	return 4;
}
