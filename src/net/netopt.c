/*
 * What every network backend shares: reading the options that follow the
 * backend's own argument ("FILE,mac=...,promisc"), and MAC addresses.
 */
#include <stdio.h>
#include <string.h>

#include "net.h"

int net_parse_mac(const char *s, u8 mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	/* A multicast address as a NIC's own would break every peer. */
	if (mac[0] & 1)
		return -1;
	return 0;
}

bool net_opt(const char *arg, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = strchr(arg, ',');

	while (p) {
		const char *item = p + 1;
		const char *end = strchr(item, ',');
		size_t len = end ? (size_t)(end - item) : strlen(item);

		if (len >= klen && !strncmp(item, key, klen) &&
		    (item[klen] == '=' || len == klen)) {
			size_t vlen = len == klen ? 0 : len - klen - 1;

			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, item + klen + (len > klen), vlen);
			out[vlen] = 0;
			return true;
		}
		p = end;
	}
	return false;
}
