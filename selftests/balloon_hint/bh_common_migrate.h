/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the demo and the benchmark: one blocking host migration. */
#ifndef BH_COMMON_MIGRATE_H
#define BH_COMMON_MIGRATE_H

#include "bh_util.h"

struct bh_mig {
	unsigned long long transferred, normal, duplicate, total_ms;
};

/* Migrate (host waits for completion and resumes us); 0 or -errno. */
static inline int bh_migrate(int fd, struct bh_mig *m)
{
	char resp[BH_RESP_LEN];
	int err = bh_host(fd, resp, "{\"op\":\"migrate\",\"timeout\":300}");

	if (err)
		return err;
	if (vmk_json_u64(resp, "transferred", &m->transferred) ||
	    vmk_json_u64(resp, "normal", &m->normal) ||
	    vmk_json_u64(resp, "duplicate", &m->duplicate) ||
	    vmk_json_u64(resp, "total-time", &m->total_ms))
		return -EPROTO;
	return 0;
}

/* Which driver holds the balloon device: "balloon_hint", ... or "none". */
static inline const char *bh_driver_name(void)
{
	static const char *const drv[] = { "balloon_hint", "virtio_balloon" };
	char path[256];
	struct dirent *de;
	unsigned int i;
	DIR *d;

	for (i = 0; i < sizeof(drv) / sizeof(drv[0]); i++) {
		snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/%s", drv[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, "virtio", 6))
				break;
		closedir(d);
		if (de)
			return drv[i];
	}
	return "none";
}

#endif /* BH_COMMON_MIGRATE_H */
