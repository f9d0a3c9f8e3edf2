// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The interfaces of this host: which are up, what link header they carry. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "kernel/ifaces.h"

int kt_default_ifaces(const char **out, int max)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0, sock = socket(AF_INET, SOCK_DGRAM, 0);

	if (!ifs || sock < 0) {
		if (ifs)
			if_freenameindex(ifs);
		if (sock >= 0)
			close(sock);
		return 0;
	}
	for (i = ifs; i->if_index && n < max; i++) {
		struct ifreq ifr = {};

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(sock, SIOCGIFFLAGS, &ifr) || !(ifr.ifr_flags & IFF_UP))
			continue;
		out[n] = strdup(i->if_name);
		if (out[n])
			n++;
	}
	if_freenameindex(ifs);
	close(sock);
	return n;
}

int kt_iface_l2_len(const char *name)
{
	char path[128];
	FILE *f;
	int type = 1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = 1;
		fclose(f);
	}
	/* ARPHRD_ETHER 1, ARPHRD_LOOPBACK 772 carry an Ethernet header at TC. */
	return type == 1 || type == 772 ? 14 : 0;
}
