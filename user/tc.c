// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC attach and detach. tcx links first (Linux 6.6+): they go away with the
 * process, even after SIGKILL, and coexist with other programs. Debian's
 * libbpf 1.1 has no wrapper for them, so bpf_link_create() is called with
 * the raw attach types. Elsewhere a clsact filter, created and removed with
 * libbpf's bpf_tc_* API, and the clsact qdisc only if it was not there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tc.h"

#define KT_BPF_TCX_INGRESS 46
#define KT_BPF_TCX_EGRESS 47

static int attach_tcx(int prog_fd, struct kt_hook *h)
{
	int fd = bpf_link_create(prog_fd, h->ifindex,
				 h->egress ? KT_BPF_TCX_EGRESS : KT_BPF_TCX_INGRESS,
				 NULL);

	if (fd < 0)
		return fd;
	h->link_fd = fd;
	return 0;
}

static int attach_clsact(int prog_fd, struct kt_hook *h)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (!err)
		h->created_qdisc = true;
	else if (err != -EEXIST)
		return err;
	hook.attach_point = h->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		if (h->created_qdisc) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
			h->created_qdisc = false;
		}
		return err;
	}
	h->clsact = true;
	h->handle = opts.handle;
	h->priority = opts.priority;
	return 0;
}

int kt_tc_attach(int prog_fd, struct kt_hook *h, enum kt_attach_mode mode)
{
	int err = -EOPNOTSUPP;

	h->link_fd = -1;
	if (mode != KT_ATTACH_CLSACT) {
		err = attach_tcx(prog_fd, h);
		if (!err || mode == KT_ATTACH_TCX)
			return err;
		/* EINVAL: this kernel has no tcx attach types. */
	}
	return attach_clsact(prog_fd, h);
}

void kt_tc_detach(struct kt_hook *h)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);

	if (h->link_fd >= 0) {
		close(h->link_fd);
		h->link_fd = -1;
	}
	if (h->clsact) {
		hook.attach_point = h->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
		opts.handle = h->handle;
		opts.priority = h->priority;
		bpf_tc_detach(&hook, &opts);
		h->clsact = false;
	}
	if (h->created_qdisc) {
		/* Only the hook that created the qdisc removes it. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		h->created_qdisc = false;
	}
}
