// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC attach and detach. tcx links first (Linux 6.6+): they go away with the
 * process, even after SIGKILL, and coexist with other programs. Debian's
 * libbpf 1.1 has no wrapper for them, so bpf_link_create() is called with
 * the raw attach types. Elsewhere a clsact filter, created and removed with
 * libbpf's bpf_tc_* API, and the clsact qdisc only if it was not there.
 *
 * A clsact filter outlives a kafkatap that was killed (SIGKILL, OOM, a
 * crash). Before attaching to a hook, kafkatap lists its clsact filters
 * (an RTM_GETTFILTER dump: libbpf 1.1 can only query a known handle) and
 * removes those that are stale: program kafkatap_tc, and no running
 * kafkatap claims it. A kafkatap claims its program by binding an abstract
 * unix socket named after the program's id for as long as it runs (see
 * claim_bind), which works across PID namespaces (a container sees no other
 * container's processes in /proc) and needs no capability. So two
 * instances never remove each other's filter; they coexist (the kernel
 * gives each filter its own priority).
 *
 * The clsact qdisc: created only if missing, removed at exit only by the
 * instance that created it and only if no filter is left in it (another
 * instance's, or anyone's). So an empty clsact qdisc can stay behind: after
 * a SIGKILL, or when the instance that created it exits first. It runs
 * nothing; kafkatap cannot tell it from one that someone else added.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/tc.h"

#define KT_BPF_TCX_INGRESS 46
#define KT_BPF_TCX_EGRESS 47
#define KT_PROG_NAME "kafkatap_tc"
#define KT_STALE_MAX 32

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

struct tc_filter {
	uint32_t handle, priority, prog_id;
	char name[64];		/* TCA_BPF_NAME: libbpf sets "prog_name:[id]" */
};

/* Parse one RTM_NEWTFILTER message; 1 if it is a cls_bpf filter. */
static int parse_filter(struct nlmsghdr *nh, struct tc_filter *f)
{
	struct tcmsg *t = NLMSG_DATA(nh);
	int len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
	struct rtattr *a, *o;
	bool bpf = false;
	int olen;

	if (len < 0 || !t->tcm_handle)
		return 0;	/* the per-priority header of a dump: no filter */
	memset(f, 0, sizeof(*f));
	f->handle = t->tcm_handle;
	f->priority = TC_H_MAJ(t->tcm_info) >> 16;
	for (a = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND)
			bpf = RTA_PAYLOAD(a) >= 4 && !strncmp(RTA_DATA(a), "bpf", 4);
		if (a->rta_type != TCA_OPTIONS)
			continue;
		olen = RTA_PAYLOAD(a);
		for (o = RTA_DATA(a); RTA_OK(o, olen); o = RTA_NEXT(o, olen)) {
			if (o->rta_type == TCA_BPF_ID && RTA_PAYLOAD(o) >= 4)
				memcpy(&f->prog_id, RTA_DATA(o), 4);
			else if (o->rta_type == TCA_BPF_NAME)
				snprintf(f->name, sizeof(f->name), "%.*s",
					 (int)RTA_PAYLOAD(o), (char *)RTA_DATA(o));
		}
	}
	return bpf && f->prog_id;
}

/*
 * The cls_bpf filters on one clsact hook into out[max]; returns their count
 * or -errno. *any: the number of filters of any kind (NULL: not wanted).
 */
static int list_filters(int ifindex, bool egress, struct tc_filter *out, int max, int *any)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		.nh.nlmsg_type = RTM_GETTFILTER,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.nh.nlmsg_seq = 1,
		.tc.tcm_family = AF_UNSPEC,
		.tc.tcm_ifindex = ifindex,
		.tc.tcm_parent = TC_H_MAKE(TC_H_CLSACT,
					   egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS),
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, n = 0, err = 0, len;
	bool done = false;
	char *buf;

	if (any)
		*any = 0;
	buf = malloc(65536);
	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	while (!done) {
		struct nlmsghdr *nh;

		len = recv(fd, buf, 65536, 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (len == 0)
			break;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned int)len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != req.nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = e->error;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWTFILTER)
				continue;
			if (any)
				(*any)++;
			if (n < max && parse_filter(nh, &out[n]))
				n++;
		}
	}
out:
	close(fd);
	free(buf);
	return err ? err : n;
}

/*
 * Liveness across PID namespaces: a running kafkatap binds the abstract unix
 * socket "kafkatap/tc-prog/ID" for its program. Abstract names belong to the
 * network namespace, the one the hooks are in, and vanish with the process,
 * even after SIGKILL; /proc would show only our own PID namespace (a pod's).
 */
static int claim_addr(struct sockaddr_un *sa, uint32_t prog_id)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "kafkatap/tc-prog/%u", prog_id);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* Bind the name for prog_id: the socket, or -errno (EADDRINUSE: taken). */
static int claim_bind(uint32_t prog_id)
{
	struct sockaddr_un sa;
	int fd, len = claim_addr(&sa, prog_id), err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* 1 if a running kafkatap claims program `id`, or if we cannot tell. */
static int prog_held(uint32_t id)
{
	int fd = claim_bind(id);

	if (fd < 0)
		return 1;
	close(fd);
	return 0;
}

/*
 * Claim our own program; the socket lives as long as we do, or until a
 * kt_bpf_start() in the same process (tests) loads another program: that
 * one is claimed instead (one program at a time per process).
 */
static void claim_own(int prog_fd)
{
	static int claimed = -1;
	static uint32_t claimed_id;	/* program ids start at 1 */
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) || info.id == claimed_id)
		return;
	if (claimed >= 0)
		close(claimed);
	claimed_id = info.id;
	claimed = claim_bind(info.id);
	if (claimed < 0)
		fprintf(stderr, "kafkatap: cannot claim program %u (%s): a kafkatap started "
			"later may take this one's clsact filters for stale\n", info.id,
			strerror(-claimed));
}

static bool is_kafkatap_prog(const struct tc_filter *f)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(f->prog_id);

	if (fd < 0)	/* needs CAP_SYS_ADMIN: fall back on the filter's name */
		return !strncmp(f->name, KT_PROG_NAME ":[", strlen(KT_PROG_NAME) + 2);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.name[0] = 0;
	close(fd);
	return !strcmp(info.name, KT_PROG_NAME);
}

/* Remove kafkatap filters on this hook that no running process owns. */
static void remove_stale_filters(const struct kt_hook *h)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
			    .attach_point = h->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	struct tc_filter fs[KT_STALE_MAX];
	int n, i, err;

	n = list_filters(h->ifindex, h->egress, fs, KT_STALE_MAX, NULL);
	for (i = 0; i < n; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = fs[i].handle,
				    .priority = fs[i].priority);

		if (!is_kafkatap_prog(&fs[i]) || prog_held(fs[i].prog_id))
			continue;
		err = bpf_tc_detach(&hook, &opts);
		if (err)
			fprintf(stderr, "kafkatap: cannot remove the stale kafkatap filter "
				"on %s %s (pref %u handle 0x%x): %s\n", h->ifname,
				h->egress ? "egress" : "ingress", fs[i].priority,
				fs[i].handle, strerror(-err));
		else
			fprintf(stderr, "kafkatap: removed a stale kafkatap filter on %s %s "
				"(pref %u handle 0x%x, program id %u): a kafkatap that "
				"did not exit cleanly left it\n", h->ifname,
				h->egress ? "egress" : "ingress", fs[i].priority,
				fs[i].handle, fs[i].prog_id);
	}
}

/* Does the clsact qdisc hold any filter, ours or anyone's? Errors say yes. */
static bool qdisc_in_use(int ifindex)
{
	int in = 0, eg = 0;

	if (list_filters(ifindex, false, NULL, 0, &in) < 0 ||
	    list_filters(ifindex, true, NULL, 0, &eg) < 0)
		return true;
	return in + eg > 0;
}

static int attach_clsact(int prog_fd, struct kt_hook *h)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h->ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd);
	libbpf_print_fn_t print;
	int err;

	/* EEXIST is the normal case with a clsact there: no libbpf warning for it. */
	print = libbpf_set_print(NULL);
	err = bpf_tc_hook_create(&hook);
	libbpf_set_print(print);
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
	claim_own(prog_fd);
	/* In every mode: a stale filter would keep running beside a tcx link. */
	remove_stale_filters(h);
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
		/*
		 * Only the hook that created the qdisc removes it, and only
		 * empty: destroying it would take along the filters that others
		 * (another kafkatap, say) put in since.
		 */
		if (!qdisc_in_use(h->ifindex)) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		h->created_qdisc = false;
	}
}
