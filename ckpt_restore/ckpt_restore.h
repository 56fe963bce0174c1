/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ckpt_restore internals shared by the files of the module.
 *
 * core.c     /dev/ckpt, ioctl dispatch, debugfs counters
 * image.c    reading and validating an image; checksums
 * dump.c     CKPT_DUMP
 * restore.c  CKPT_RESTORE: map, fill, undo
 * lazy.c     VMAs filled on first touch by their own fault handler
 */
#ifndef _CKPT_RESTORE_H
#define _CKPT_RESTORE_H

#include <linux/atomic.h>
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/ckpt_restore.h>
#include <vmemkit/compat.h>

/*
 * Pages per batch: the unit of every batched read, write and checksum
 * check.  A run of the image may be much longer and is then processed
 * batch by batch; a batch starts on a chunk boundary of its run.
 */
#define CKPT_BATCH_PAGES	512
#define CKPT_BATCH_BYTES	(CKPT_BATCH_PAGES * PAGE_SIZE)
#define CKPT_BATCH_CHUNKS	(CKPT_BATCH_PAGES / CKPT_CHUNK_PAGES)
static_assert(CKPT_BATCH_PAGES % CKPT_CHUNK_PAGES == 0);

/**
 * struct ckpt_stats - debugfs counters; tests read them to prove no leaks
 * @dumps: CKPT_DUMP calls that wrote an image
 * @restores: CKPT_RESTORE calls that succeeded
 * @restores_undone: CKPT_RESTORE calls that unmapped what they had mapped
 * @lazy_live: lazy VMA states alive (one per lazily restored VMA)
 * @lazy_images: lazy states still holding their image file
 * @lazy_fills: pages read from an image and installed by the lazy fault
 *	handler
 * @lazy_bad_chunks: chunks the lazy fault handler found corrupted (SIGBUS)
 * @lazy_unlocked_reads: chunks a lazy fault read with the mmap lock
 *	dropped, for its retry to install
 * @fill_pages: pages of private VMAs filled by eager restores
 * @fill_pages_helper: of those, pages filled by the helper work item on
 *	another CPU rather than by the restoring task
 * @dump_lock_rounds: times dumps took the target's mmap lock to read
 *	private VMAs (one per batch, hole skipped or page faulted in)
 */
struct ckpt_stats {
	atomic_long_t dumps;
	atomic_long_t restores;
	atomic_long_t restores_undone;
	atomic_long_t lazy_live;
	atomic_long_t lazy_images;
	atomic_long_t lazy_fills;
	atomic_long_t lazy_bad_chunks;
	atomic_long_t lazy_unlocked_reads;
	atomic_long_t fill_pages;
	atomic_long_t fill_pages_helper;
	atomic_long_t dump_lock_rounds;
};

extern struct ckpt_stats ckpt_stats;
/* Unbound workqueue of the restore helpers, drained at module unload. */
extern struct workqueue_struct *ckpt_wq;

/**
 * struct ckpt_tables - an image's validated metadata, shared read-only
 * @ref: held by the loaded image and by each lazy VMA state using it
 * @meta: the metadata area (&ckpt_image_header.meta_size bytes: VMA table,
 *	run table, paths), inside @data after @run_pos
 * @run_pos: file offset of each run's contents, at the start of @data
 * @data: @run_pos, then @meta, in the same allocation
 *
 * Lazy VMA states keep a reference instead of copying their runs, so a
 * lazy restore neither copies nor frees anything per run.  Nothing in it
 * changes once ckpt_image_load() returned.
 */
struct ckpt_tables {
	refcount_t ref;
	void *meta;
	u64 *run_pos;
	u64 data[];
};

/**
 * struct ckpt_image - a validated image, ready to restore
 * @file: the image file (a reference is held)
 * @hdr: the header
 * @tables: the metadata area and run offsets (a reference is held)
 * @vmas: the VMA table inside the metadata area
 * @runs: the run table inside the metadata area
 * @strings: the path strings inside the metadata area
 * @csums_pos: file offset of the chunk checksum table, which is not read
 *	with the metadata but a few entries at a time with the chunks
 * @run_pos: file offset of each run's contents, in @tables
 *
 * Every field was checked by ckpt_image_load(); nothing here changes later.
 */
struct ckpt_image {
	struct file *file;
	struct ckpt_image_header hdr;
	struct ckpt_tables *tables;
	const struct ckpt_image_vma *vmas;
	const struct ckpt_image_run *runs;
	const char *strings;
	loff_t csums_pos;
	u64 *run_pos;
};

int ckpt_image_load(struct ckpt_image *img, struct file *file);
struct ckpt_tables *ckpt_tables_get(struct ckpt_tables *t);
void ckpt_tables_put(struct ckpt_tables *t);
void ckpt_image_free(struct ckpt_image *img);
int ckpt_image_read_csums(const struct ckpt_image *img, u64 chunk,
			  unsigned int n, u64 *csums);
int ckpt_image_verify_runs(const struct ckpt_image *img);
u64 ckpt_image_run_pages(const struct ckpt_image *img, u64 first, u64 nr);
int ckpt_read_full(struct file *file, void *buf, size_t len, loff_t pos);
int ckpt_write_iter_full(struct file *file, struct iov_iter *iter,
			 loff_t *pos);
int ckpt_write_full(struct file *file, const void *buf, size_t len,
		    loff_t *pos);
u64 ckpt_csum_bvec(const struct bio_vec *bv, unsigned int nr);
int ckpt_check_chunks_bvec(const u64 *csums, const struct bio_vec *bv,
			   unsigned int nr);
int ckpt_check_chunks_buf(const u64 *csums, const void *buf, unsigned int nr);

/* Chunks of a run (or a batch of a run) of @nr_pages pages. */
static inline u64 ckpt_run_chunks(u64 nr_pages)
{
	return DIV_ROUND_UP_ULL(nr_pages, CKPT_CHUNK_PAGES);
}

int ckpt_dump(struct ckpt_dump *arg, struct ckpt_dump __user *uarg);
int ckpt_restore(struct ckpt_restore *arg,
		 struct ckpt_restore __user *uarg);

/**
 * struct ckpt_lazy_chunk - a chunk of a lazy VMA's image, read by a dump
 * @file: the lazy file whose image it came from (a reference is held), or
 *	NULL while nothing valid is held
 * @chunk: its index in the image's checksum table
 * @pages: its pages, allocated on first use
 *
 * Consecutive missing pages of a lazy VMA mostly share a chunk: a dump
 * reads and checks each chunk once.
 */
struct ckpt_lazy_chunk {
	struct file *file;
	u64 chunk;
	struct page *pages[CKPT_CHUNK_PAGES];
};

struct file *ckpt_lazy_file_create(const struct ckpt_image *img,
				   unsigned int vma, unsigned int first_run,
				   unsigned int nr_runs);
void ckpt_lazy_allow_exec(struct file *file);
bool ckpt_vma_is_lazy(const struct vm_area_struct *vma);
bool ckpt_lazy_dump_span(struct file *file, struct mm_struct *mm,
			 unsigned long pgoff, unsigned long max,
			 unsigned long *nr);
int ckpt_lazy_dump_page(struct ckpt_lazy_chunk *ch, struct file *file,
			unsigned long pgoff, struct page **page);
void ckpt_lazy_chunk_release(struct ckpt_lazy_chunk *ch);

#endif /* _CKPT_RESTORE_H */
