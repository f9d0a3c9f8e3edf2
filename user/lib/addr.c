// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <stdio.h>
#include "lib/addr.h"

void fmt_addr(char *buf, size_t len, const uint8_t *addr, int family, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (family == 4) {
		inet_ntop(AF_INET, addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, port);
	}
}
