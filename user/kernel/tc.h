/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Attaching a TC program to one hook (an interface and a direction). */
#ifndef KAFKATAP_TC_H
#define KAFKATAP_TC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

enum kt_attach_mode {
	KT_ATTACH_AUTO = 0,	/* tcx where the kernel has it, else clsact */
	KT_ATTACH_TCX,
	KT_ATTACH_CLSACT,
};

struct kt_hook {
	char ifname[IF_NAMESIZE];
	int ifindex;
	bool egress;
	int link_fd;		/* tcx: the link; closing it detaches */
	bool clsact;		/* clsact filter: handle/priority below */
	bool created_qdisc;	/* we created the clsact qdisc */
	uint32_t handle, priority;
};

/* h->ifindex and h->egress are set by the caller. Returns 0 or -errno. */
int kt_tc_attach(int prog_fd, struct kt_hook *h, enum kt_attach_mode mode);
void kt_tc_detach(struct kt_hook *h);

#endif
