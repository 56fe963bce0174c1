// SPDX-License-Identifier: GPL-2.0-only
/*
 * vduse_iotlb module: module-wide statistics, init and exit.
 */
#include <linux/debugfs.h>
#include <linux/iova.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "vduse_iotlb.h"

DEFINE_PER_CPU(struct vit_stats, vit_global_stats);
atomic_t vit_live_domains = ATOMIC_INIT(0);
struct dentry *vit_debugfs_root;

void vit_stats_sum(struct vit_stats __percpu *pcpu, struct vit_stats *sum)
{
	const struct vit_stats *s;
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		s = per_cpu_ptr(pcpu, cpu);
		for (i = 0; i < VIT_NR_STATS; i++)
			sum->v[i] += READ_ONCE(s->v[i]);
	}
}

static const char * const vit_stat_names[VIT_NR_STATS] = {
	[VIT_STAT_MAPPINGS] = "mappings",
	[VIT_STAT_BYTES_TO_DEV] = "bytes_to_dev",
	[VIT_STAT_BYTES_FROM_DEV] = "bytes_from_dev",
	[VIT_STAT_KERNEL_PAGES] = "kernel_pages",
	[VIT_STAT_RECLAIMED] = "reclaimed",
	[VIT_STAT_USER_PAGES] = "user_pages",
	[VIT_STAT_COHERENT_PAGES] = "coherent_pages",
};

/* Print the summed counters as "name value" lines. */
void vit_stats_show(struct seq_file *m, struct vit_stats __percpu *pcpu)
{
	struct vit_stats sum;
	int i;

	vit_stats_sum(pcpu, &sum);
	for (i = 0; i < VIT_NR_STATS; i++)
		seq_printf(m, "%s %lld\n", vit_stat_names[i], sum.v[i]);
}

/* Module-wide totals: the live counts must all be 0 with no domain left. */
static int vit_global_stats_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "domains %d\n", atomic_read(&vit_live_domains));
	vit_stats_show(m, &vit_global_stats);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vit_global_stats);

static int __init vit_init(void)
{
	int ret;

	/*
	 * A domain is reached through its device's DMA ops.  A kernel built
	 * without per-device DMA ops (x86 without GART_IOMMU or XEN) ignores
	 * set_dma_ops() and would map the domain's users straight to memory,
	 * the device's view bypassed: refuse to load there.
	 */
	if (!IS_ENABLED(CONFIG_ARCH_HAS_DMA_OPS)) {
		pr_err("vduse_iotlb: this kernel has no per-device DMA ops (CONFIG_ARCH_HAS_DMA_OPS)\n");
		return -EOPNOTSUPP;
	}

	ret = iova_cache_get();
	if (ret)
		return ret;
	vit_debugfs_root = debugfs_create_dir("vduse_iotlb", NULL);
	debugfs_create_file("stats", 0444, vit_debugfs_root, NULL,
			    &vit_global_stats_fops);
	ret = vit_uapi_init();
	if (ret)
		goto err_remove_debugfs;
	return 0;

err_remove_debugfs:
	debugfs_remove_recursive(vit_debugfs_root);
	iova_cache_put();
	return ret;
}

static void __exit vit_exit(void)
{
	vit_uapi_exit();
	debugfs_remove_recursive(vit_debugfs_root);
	iova_cache_put();
}

module_init(vit_init);
module_exit(vit_exit);
MODULE_DESCRIPTION("MMU-based software IOTLB with bounce buffering");
MODULE_LICENSE("GPL");
