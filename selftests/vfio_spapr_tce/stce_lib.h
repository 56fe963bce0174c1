/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest-side helpers for the vfio_spapr_tce tests: bind the emulated edu
 * devices to vfio-pci, set up a container of either sPAPR version, drive
 * edu DMA, and read the module's debugfs counters and VmLck.
 *
 * edu (QEMU 7.2): BAR0 0x80 src, 0x88 dst, 0x90 count, 0x98 cmd (bit 0
 * run, bit 1 device-to-RAM), internal buffer at 0x40000.  Transfers stay
 * below 4096 bytes and IOVAs below 256 MiB (edu truncates to 28 bits).
 */
#ifndef STCE_LIB_H
#define STCE_LIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "vmk_sys.h"

#define STCE_DEBUGFS	"/sys/kernel/debug/vfio_spapr_tce/"
#define EDU_BUF		0x40000ULL
#define EDU_DMA_LEN	2048		/* below edu's 4096-byte abort */
#define STCE_PAGE	4096UL
#define STCE_MAX_EDU	2

struct stce_dev {
	char bdf[32];
	int group_id;
	int group_fd;
	int dev_fd;
	__u64 bar0;		/* region offsets inside dev_fd */
	__u64 cfg;
};

/* A module-wide debugfs counter (pinned_pages, nr_containers, ...). */
static inline long stce_counter(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), STCE_DEBUGFS "%s", name);
	return vmk_read_long(path);
}

/*
 * The aperture of the first container in debugfs ("aperture START-LAST");
 * the tests that call this have one container open.
 */
static inline int stce_aperture(unsigned long long *start,
				unsigned long long *last)
{
	char line[256], *p;
	int ret = -ENOENT;
	FILE *f = fopen(STCE_DEBUGFS "containers", "r");

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		p = strstr(line, "aperture ");
		if (p && sscanf(p, "aperture %llx-%llx", start, last) == 2)
			ret = 0;
	}
	fclose(f);
	return ret;
}

/*
 * Where the second window must start: 1 << 59 where the aperture holds
 * it, else the module's ddw_base.
 */
static inline unsigned long long stce_ddw_start(void)
{
	unsigned long long start, last, base = 0;
	FILE *f;

	if (stce_aperture(&start, &last))
		return 0;
	if (start <= 1ULL << 59 && last >= 1ULL << 59)
		return 1ULL << 59;
	f = fopen("/sys/module/vfio_spapr_tce/parameters/ddw_base", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &base) != 1)
		base = 0;
	fclose(f);
	return base;
}

/* Print @path line by line as KTAP diagnostics, for the record. */
static inline void stce_log_file(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("# %s: %s\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("# %s: %s", path, line);
	fclose(f);
}

/* BDFs of the edu devices (1234:11e8), bound to vfio-pci; returns count. */
static inline int stce_find_edus(char bdfs[][32], int max)
{
	char path[300], drv[300];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/sys/bus/pci/devices");

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		long ven, dev;
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor",
			 de->d_name);
		ven = vmk_read_long(path);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		dev = vmk_read_long(path);
		if (ven != 0x1234 || dev != 0x11e8)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver",
			 de->d_name);
		l = readlink(path, drv, sizeof(drv) - 1);
		if (l < 0)
			l = 0;
		drv[l] = 0;
		if (!strstr(drv, "vfio-pci")) {
			if (l > 0) {
				snprintf(path, sizeof(path),
					 "/sys/bus/pci/devices/%s/driver/unbind",
					 de->d_name);
				vmk_write_file(path, de->d_name);
			}
			snprintf(path, sizeof(path),
				 "/sys/bus/pci/devices/%s/driver_override",
				 de->d_name);
			if (vmk_write_file(path, "vfio-pci"))
				continue;
			if (vmk_write_file("/sys/bus/pci/drivers_probe",
					   de->d_name))
				continue;
		}
		snprintf(bdfs[n++], 32, "%.31s", de->d_name);
	}
	closedir(d);
	/* readdir order is not sorted: keep the pair in a stable order */
	if (n == 2 && strcmp(bdfs[0], bdfs[1]) > 0) {
		char t[32];

		memcpy(t, bdfs[0], 32);
		memcpy(bdfs[0], bdfs[1], 32);
		memcpy(bdfs[1], t, 32);
	}
	return n;
}

static inline int stce_group_of(const char *bdf)
{
	char path[300], link[300];
	ssize_t l;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	l = readlink(path, link, sizeof(link) - 1);
	if (l <= 0)
		return -1;
	link[l] = 0;
	return atoi(basename(link));
}

/* Open the group of @bdf (not yet in a container). */
static inline int stce_group_open(struct stce_dev *d, const char *bdf)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	memset(d, 0, sizeof(*d));
	d->dev_fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%.31s", bdf);
	d->group_id = stce_group_of(bdf);
	if (d->group_id < 0)
		return -ENODEV;
	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group_id);
	d->group_fd = open(path, O_RDWR);
	if (d->group_fd < 0)
		return -errno;
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EBUSY;
	return 0;
}

/* Get the device fd, find BAR0/config and turn on bus mastering. */
static inline int stce_dev_open(struct stce_dev *d)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	__u16 cmd;

	d->dev_fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->dev_fd < 0)
		return -errno;
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(d->dev_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	d->bar0 = ri.offset;
	ri.argsz = sizeof(ri);
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(d->dev_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	d->cfg = ri.offset;
	/* vfio-pci leaves bus mastering off: set memory + master bits */
	if (pread(d->dev_fd, &cmd, 2, d->cfg + 4) != 2)
		return -EIO;
	cmd |= 0x6;
	if (pwrite(d->dev_fd, &cmd, 2, d->cfg + 4) != 2)
		return -EIO;
	return 0;
}

static inline void stce_dev_close(struct stce_dev *d)
{
	if (d->dev_fd >= 0)
		close(d->dev_fd);
	d->dev_fd = -1;
	if (d->group_fd >= 0)
		close(d->group_fd);
	d->group_fd = -1;
}

static inline int edu_w64(struct stce_dev *d, unsigned int reg, __u64 v)
{
	return pwrite(d->dev_fd, &v, 8, d->bar0 + reg) == 8 ? 0 : -EIO;
}

/*
 * One edu transfer of @len bytes between IOVA @iova and the device buffer;
 * @to_ram: device -> RAM (a device write).  Waits for completion.
 */
static inline int edu_dma(struct stce_dev *d, __u64 iova, bool to_ram,
			  __u64 len)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	__u32 cmd;
	int i;

	if (edu_w64(d, 0x80, to_ram ? EDU_BUF : iova) ||
	    edu_w64(d, 0x88, to_ram ? iova : EDU_BUF) ||
	    edu_w64(d, 0x90, len) ||
	    edu_w64(d, 0x98, to_ram ? 3 : 1))
		return -EIO;
	for (i = 0; i < 400; i++) {
		if (pread(d->dev_fd, &cmd, 4, d->bar0 + 0x98) != 4)
			return -EIO;
		if (!(cmd & 1))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

/* Container fd with @group attached and the sPAPR model @type selected. */
static inline int stce_container_open(struct stce_dev *d, int type)
{
	int c = open("/dev/vfio/vfio", O_RDWR);

	if (c < 0)
		return -errno;
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &c) ||
	    ioctl(c, VFIO_SET_IOMMU, type)) {
		int e = -errno;

		close(c);
		return e;
	}
	return c;
}

static inline int stce_map(int c, __u64 vaddr, __u64 iova,
			   __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = vaddr,
		.iova = iova, .size = size,
	};

	return ioctl(c, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

static inline int stce_unmap(int c, __u64 iova, __u64 size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};

	return ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : 0;
}

static inline int stce_reg(int c, bool reg, __u64 vaddr, __u64 size)
{
	struct vfio_iommu_spapr_register_memory r = {
		.argsz = sizeof(r), .vaddr = vaddr, .size = size,
	};

	return ioctl(c, reg ? VFIO_IOMMU_SPAPR_REGISTER_MEMORY :
		     VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY, &r) ? -errno : 0;
}

/* Fill @p with a pattern seeded by @seed. */
static inline void stce_fill(__u8 *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (__u8)(i * 7 + seed);
}

/* Whether every byte of @p is @v. */
static inline bool stce_all_bytes(const __u8 *p, size_t len, __u8 v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Anonymous, populated, page-aligned buffer of @size bytes. */
static inline void *stce_buf(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

#endif /* STCE_LIB_H */
