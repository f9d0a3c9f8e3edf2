// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Before loading: may this process load and attach BPF programs, and has
 * the kernel what kafkatap's needs? Each failure says what to do next.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel/preflight.h"

/* A feature probe that failed: < 0 could not probe (say why), 0 the kernel lacks it. */
static int probe_failed(int ret, const char *what, const char *absent)
{
	if (ret == -EPERM)
		fprintf(stderr, "kafkatap: cannot probe %s: bpf() refused: missing CAP_BPF, or "
			"a seccomp profile that allows bpf() only with CAP_SYS_ADMIN\n", what);
	else if (ret < 0)
		fprintf(stderr, "kafkatap: cannot probe %s: %s\n", what, strerror(-ret));
	else
		fprintf(stderr, "kafkatap: %s\n", absent);
	return ret < 0 ? ret : -EOPNOTSUPP;
}

static int check_kernel(void)
{
	int fd, ret;

	/*
	 * libbpf 1.1's probes cannot tell "refused" from "absent": under a
	 * seccomp profile that answers bpf() with EPERM, the map type probe
	 * says 0 (absent) and the helper probe 1 (present). A map that every
	 * kernel with bpf() has tells whether bpf() may be called at all.
	 */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0)
		return probe_failed(errno ? -errno : -EINVAL, "the kernel", NULL);
	close(fd);
	ret = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (ret <= 0)
		return probe_failed(ret, "for the BPF ring buffer", "this kernel has no BPF ring "
				    "buffer (needs Linux 5.8 or newer built with CONFIG_BPF_SYSCALL)");
	ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, NULL);
	if (ret <= 0)
		return probe_failed(ret, "for bpf_loop()", "this kernel has no bpf_loop() "
				    "helper (needs Linux 5.17 or newer)");
	return 0;
}

/*
 * The capabilities this process lacks, as "CAP_X, CAP_Y" (empty: none).
 * Loading needs CAP_BPF (maps, BTF, the program), CAP_PERFMON (the verifier
 * allows pointer arithmetic on packets only with it) and, the program being
 * a TC classifier, CAP_NET_ADMIN; CAP_SYS_ADMIN stands in for all three
 * (kernels before 5.8 have only it). Attaching needs CAP_NET_ADMIN itself
 * (clsact goes through rtnetlink). Root in a container may lack them.
 */
static const char *missing_caps(bool attach)
{
	static char buf[64];
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	uint64_t eff;
	bool admin;

	if (syscall(SYS_capget, &h, d))
		return "";	/* cannot tell: let the kernel say */
	eff = (uint64_t)d[1].effective << 32 | d[0].effective;
	admin = eff >> CAP_SYS_ADMIN & 1;
	buf[0] = 0;
	if (!admin && !(eff >> 39 & 1))		/* CAP_BPF */
		strcat(buf, ", CAP_BPF");
	if (!admin && !(eff >> 38 & 1))		/* CAP_PERFMON */
		strcat(buf, ", CAP_PERFMON");
	if ((attach || !admin) && !(eff >> CAP_NET_ADMIN & 1))
		strcat(buf, ", CAP_NET_ADMIN");
	return buf[0] ? buf + 2 : buf;
}

void kt_explain_errno(int err, const char *what)
{
	/* As root, EACCES from a load is the verifier's no, not a permission. */
	if (err == -EACCES && geteuid() == 0)
		fprintf(stderr, "kafkatap: %s: the kernel's verifier rejected the program "
			"(run with -v to see its log; this is a kafkatap bug, please report it)\n",
			what);
	else if (err == -EPERM || err == -EACCES)
		fprintf(stderr, "kafkatap: %s: permission denied. kafkatap needs "
			"CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN: run it as root "
			"(sudo), or grant them: sudo setcap "
			"cap_bpf,cap_perfmon,cap_net_admin+ep ./kafkatap\n", what);
	else
		fprintf(stderr, "kafkatap: %s: %s\n", what, strerror(-err));
}

int kt_preflight(bool attach)
{
	const char *missing = missing_caps(attach);

	if (*missing) {
		fprintf(stderr, "kafkatap: this process lacks %s (it needs CAP_BPF, CAP_PERFMON "
			"and CAP_NET_ADMIN, or CAP_SYS_ADMIN%s): run it as root, "
			"or grant them: sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep "
			"./kafkatap; in a container, add them to its securityContext "
			"(see deploy/daemonset.yaml)\n", missing,
			attach ? " and CAP_NET_ADMIN" : "");
		return -EPERM;
	}
	return check_kernel();
}
