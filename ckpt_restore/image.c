// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reading and validating a ckpt_restore image.
 *
 * ckpt_image_load() checks every header field, count, offset, range and the
 * metadata checksum before it returns, and sizes every allocation from
 * values already checked against the module's limits and the file's real
 * length.  Nothing in the caller's address space is touched here.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mman.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uio.h>
#include <linux/xxhash.h>

#include "ckpt_restore.h"

/**
 * ckpt_read_full() - read exactly @len bytes at @pos
 * @file: the file
 * @buf: kernel buffer
 * @len: bytes wanted
 * @pos: file offset
 *
 * Return: 0, -EINVAL if the file ends early (a truncated image), or the
 * read error.
 */
int ckpt_read_full(struct file *file, void *buf, size_t len, loff_t pos)
{
	ssize_t ret;

	while (len) {
		ret = kernel_read(file, buf, len, &pos);
		if (ret < 0)
			return ret;
		if (!ret)
			return -EINVAL;
		buf += ret;
		len -= ret;
	}
	return 0;
}

/**
 * ckpt_write_iter_full() - write all of @iter at *@pos
 * @file: the file
 * @iter: what to write, an ITER_SOURCE iterator
 * @pos: file offset, advanced by what was written
 *
 * A write may stop short without an error (tmpfs stops at the first page
 * it cannot allocate): the rest is written again, so a failure returns the
 * error of the write that failed, ENOMEM say, and not a bare short count.
 *
 * Return: 0, the write error, or -EIO if a write made no progress.
 */
int ckpt_write_iter_full(struct file *file, struct iov_iter *iter,
			 loff_t *pos)
{
	ssize_t put;

	while (iov_iter_count(iter)) {
		put = vfs_iter_write(file, iter, pos, 0);
		if (put < 0)
			return put;
		if (!put)
			return -EIO;
	}
	return 0;
}

/**
 * ckpt_write_full() - ckpt_write_iter_full() of a kernel buffer
 * @file: the file
 * @buf: what to write
 * @len: its length
 * @pos: file offset, advanced by what was written
 *
 * Return: 0, the write error, or -EIO if a write made no progress.
 */
int ckpt_write_full(struct file *file, const void *buf, size_t len,
		    loff_t *pos)
{
	struct kvec kv = { .iov_base = (void *)buf, .iov_len = len };
	struct iov_iter iter;

	iov_iter_kvec(&iter, ITER_SOURCE, &kv, 1, len);
	return ckpt_write_iter_full(file, &iter, pos);
}

/**
 * ckpt_csum_bvec() - XXH64 of the pages of a bio_vec table, in order
 * @bv: the table, one whole page per entry
 * @nr: entries
 */
u64 ckpt_csum_bvec(const struct bio_vec *bv, unsigned int nr)
{
	struct xxh64_state st;
	unsigned int i;
	void *va;

	xxh64_reset(&st, 0);
	for (i = 0; i < nr; i++) {
		va = kmap_local_page(bv[i].bv_page);
		xxh64_update(&st, va, PAGE_SIZE);
		kunmap_local(va);
	}
	return xxh64_digest(&st);
}

/**
 * ckpt_check_chunks_bvec() - check the chunks of pages against their checksums
 * @csums: the checksum of each chunk, in order
 * @bv: the pages, one whole page per entry, from a chunk boundary on
 * @nr: entries in @bv; the last chunk may be shorter than CKPT_CHUNK_PAGES
 *
 * Return: 0, or -EBADMSG if any chunk does not match.
 */
int ckpt_check_chunks_bvec(const u64 *csums, const struct bio_vec *bv,
			   unsigned int nr)
{
	unsigned int i, n;

	for (i = 0; i < nr; i += n) {
		n = min_t(unsigned int, nr - i, CKPT_CHUNK_PAGES);
		if (ckpt_csum_bvec(bv + i, n) != csums[i / CKPT_CHUNK_PAGES])
			return -EBADMSG;
	}
	return 0;
}

/**
 * ckpt_check_chunks_buf() - ckpt_check_chunks_bvec() for a linear buffer
 * @csums: the checksum of each chunk, in order
 * @buf: @nr pages of contents, from a chunk boundary on
 * @nr: pages in @buf
 *
 * Return: 0, or -EBADMSG if any chunk does not match.
 */
int ckpt_check_chunks_buf(const u64 *csums, const void *buf, unsigned int nr)
{
	unsigned int i, n;

	for (i = 0; i < nr; i += n) {
		n = min_t(unsigned int, nr - i, CKPT_CHUNK_PAGES);
		if (xxh64(buf + ((size_t)i << PAGE_SHIFT),
			  (size_t)n << PAGE_SHIFT, 0) !=
		    csums[i / CKPT_CHUNK_PAGES])
			return -EBADMSG;
	}
	return 0;
}

static int ckpt_check_header(const struct ckpt_image_header *h, loff_t isize)
{
	struct ckpt_image_header tmp = *h;
	u64 meta_size, data_size, end;

	if (h->magic != CKPT_IMAGE_MAGIC || h->version != CKPT_IMAGE_VERSION ||
	    h->header_size != sizeof(*h) || h->page_size != PAGE_SIZE)
		return -EINVAL;
	tmp.header_csum = 0;
	if (xxh64(&tmp, sizeof(tmp), 0) != h->header_csum)
		return -EBADMSG;
	if (h->flags || h->chunk_pages != CKPT_CHUNK_PAGES)
		return -EINVAL;
	if (h->nr_vmas > CKPT_MAX_VMAS || h->nr_runs > CKPT_MAX_RUNS ||
	    h->strings_size > CKPT_MAX_STRINGS)
		return -EFBIG;
	/*
	 * A run has no length limit but its VMA, so the pages are bounded by
	 * the user address space (runs do not overlap) and the chunks, of at
	 * least one page each, by the pages.  With these bounds no product
	 * below can overflow; the file's length then bounds them for real.
	 */
	if (h->nr_pages > TASK_SIZE >> PAGE_SHIFT ||
	    h->nr_pages < h->nr_runs ||
	    h->nr_chunks > h->nr_pages ||
	    h->nr_chunks < ckpt_run_chunks(h->nr_pages) ||
	    h->nr_chunks < h->nr_runs)
		return -EINVAL;
	data_size = h->nr_pages << PAGE_SHIFT;
	meta_size = h->nr_vmas * sizeof(struct ckpt_image_vma) +
		    h->nr_runs * sizeof(struct ckpt_image_run) +
		    h->strings_size;
	if (h->data_size != data_size || h->meta_size != meta_size ||
	    h->data_offset != PAGE_SIZE)
		return -EINVAL;
	/* The file holds every run's contents and every chunk's checksum. */
	if (check_add_overflow(h->data_offset, data_size, &end) ||
	    h->meta_offset != end ||
	    check_add_overflow(end, meta_size, &end) ||
	    check_add_overflow(end, h->nr_chunks * sizeof(u64), &end) ||
	    end > LLONG_MAX || end != (u64)isize)
		return -EINVAL;
	return 0;
}

static bool ckpt_user_range_ok(u64 start, u64 end)
{
	return PAGE_ALIGNED(start) && PAGE_ALIGNED(end) && start < end &&
	       end <= TASK_SIZE;
}

static int ckpt_check_vma(const struct ckpt_image *img,
			  const struct ckpt_image_vma *v, u64 prev_end)
{
	u64 pages, path_end;

	if (!ckpt_user_range_ok(v->start, v->end) || v->start < prev_end)
		return -EINVAL;
	if (v->prot & ~(u32)(PROT_READ | PROT_WRITE | PROT_EXEC) || v->flags ||
	    v->reserved[0] || v->reserved[1])
		return -EINVAL;
	switch (v->kind) {
	case CKPT_VMA_FILE:
		if (v->path_len >= CKPT_MAX_PATH)
			return -EFBIG;
		pages = (v->end - v->start) >> PAGE_SHIFT;
		if (!v->path_len ||
		    check_add_overflow(v->path_offset, (u64)v->path_len,
				       &path_end) ||
		    path_end > img->hdr.strings_size ||
		    memchr(img->strings + v->path_offset, 0, v->path_len) ||
		    img->strings[v->path_offset] != '/' ||
		    v->pgoff > (LLONG_MAX >> PAGE_SHIFT) - pages)
			return -EINVAL;
		return 0;
	case CKPT_VMA_ANON:
	case CKPT_VMA_SHARED:
		if (v->path_len || v->path_offset || v->pgoff)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

static int ckpt_check_runs(struct ckpt_image *img)
{
	const struct ckpt_image_header *h = &img->hdr;
	u64 prev_end = 0, pos = h->data_offset, pages = 0, chunks = 0, i;
	const struct ckpt_image_run *r;
	const struct ckpt_image_vma *v;
	u64 len;

	for (i = 0; i < h->nr_runs; i++) {
		r = &img->runs[i];
		if (!r->nr_pages || r->vma >= h->nr_vmas || r->reserved ||
		    !PAGE_ALIGNED(r->start) || r->start < prev_end ||
		    r->chunk != chunks)
			return -EINVAL;
		v = &img->vmas[r->vma];
		/*
		 * Inside the VMA, compared in pages: no shift can overflow.
		 * A run starting at or after the VMA's end names an earlier
		 * VMA than the one holding it.
		 */
		if (r->start < v->start || r->start >= v->end ||
		    r->nr_pages > (v->end - r->start) >> PAGE_SHIFT)
			return -EINVAL;
		len = r->nr_pages << PAGE_SHIFT;
		img->run_pos[i] = pos;
		pos += len;
		pages += r->nr_pages;
		chunks += ckpt_run_chunks(r->nr_pages);
		prev_end = r->start + len;
	}
	return pages == h->nr_pages && chunks == h->nr_chunks ? 0 : -EINVAL;
}

/**
 * ckpt_image_load() - read and validate the header and metadata of an image
 * @img: filled on success; free with ckpt_image_free()
 * @file: the image, a regular file open for reading
 *
 * Neither run contents nor chunk checksums are read here, so the cost is
 * that of the VMA and run tables: each chunk is checked against its
 * checksum, read with it, by ckpt_image_verify_runs(), as it is read into
 * place, or on a lazy first touch.
 *
 * Return: 0 or a negative errno as listed in the uAPI header.
 */
int ckpt_image_load(struct ckpt_image *img, struct file *file)
{
	const size_t pad = PAGE_SIZE - sizeof(img->hdr);
	struct ckpt_image_header *h = &img->hdr;
	struct ckpt_tables *t;
	u64 prev_end = 0, i;
	int ret;

	memset(img, 0, sizeof(*img));
	if (!S_ISREG(file_inode(file)->i_mode))
		return -EINVAL;
	ret = ckpt_read_full(file, h, sizeof(*h), 0);
	if (ret)
		return ret;
	ret = ckpt_check_header(h, i_size_read(file_inode(file)));
	if (ret)
		return ret;

	/*
	 * One allocation, bounded by the limits checked above and by the
	 * file's length: the run offsets, then the metadata area, which
	 * first holds the rest of the header page to check that it is zero.
	 */
	t = kvmalloc(struct_size(t, data, h->nr_runs) +
		     max_t(u64, h->meta_size, pad), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	refcount_set(&t->ref, 1);
	t->run_pos = t->data;
	t->meta = t->data + h->nr_runs;
	img->tables = t;
	/* The header page: the header, then zeroes no checksum covers. */
	ret = ckpt_read_full(file, t->meta, pad, sizeof(*h));
	if (!ret && memchr_inv(t->meta, 0, pad))
		ret = -EINVAL;
	if (ret)
		goto err_free;
	ret = ckpt_read_full(file, t->meta, h->meta_size, h->meta_offset);
	if (ret)
		goto err_free;
	if (xxh64(t->meta, h->meta_size, 0) != h->meta_csum) {
		ret = -EBADMSG;
		goto err_free;
	}
	img->run_pos = t->run_pos;
	img->vmas = t->meta;
	img->runs = (const void *)(img->vmas + h->nr_vmas);
	img->strings = (const void *)(img->runs + h->nr_runs);
	img->csums_pos = h->meta_offset + h->meta_size;

	for (i = 0; i < h->nr_vmas; i++) {
		ret = ckpt_check_vma(img, &img->vmas[i], prev_end);
		if (ret)
			goto err_free;
		prev_end = img->vmas[i].end;
	}
	ret = ckpt_check_runs(img);
	if (ret)
		goto err_free;
	img->file = get_file(file);
	return 0;

err_free:
	ckpt_tables_put(t);
	memset(img, 0, sizeof(*img));
	return ret;
}

/**
 * ckpt_tables_get() - take a reference on an image's tables
 * @t: tables of a loaded image
 *
 * Return: @t.
 */
struct ckpt_tables *ckpt_tables_get(struct ckpt_tables *t)
{
	refcount_inc(&t->ref);
	return t;
}

/**
 * ckpt_tables_put() - drop a reference; the last frees the tables
 * @t: the tables
 */
void ckpt_tables_put(struct ckpt_tables *t)
{
	if (refcount_dec_and_test(&t->ref))
		kvfree(t);
}

/**
 * ckpt_image_free() - drop what ckpt_image_load() took
 * @img: a loaded image
 */
void ckpt_image_free(struct ckpt_image *img)
{
	if (img->tables)
		ckpt_tables_put(img->tables);
	if (img->file)
		fput(img->file);
	memset(img, 0, sizeof(*img));
}

/**
 * ckpt_image_read_csums() - read the checksums of @n chunks
 * @img: a loaded image
 * @chunk: index of the first chunk in the checksum table
 * @n: chunks; @chunk + @n must not exceed the header's nr_chunks
 * @csums: filled with @n checksums
 *
 * Return: 0, -EINVAL if the image was truncated since it was loaded, or the
 * read error.
 */
int ckpt_image_read_csums(const struct ckpt_image *img, u64 chunk,
			  unsigned int n, u64 *csums)
{
	return ckpt_read_full(img->file, csums, n * sizeof(*csums),
			      img->csums_pos + chunk * sizeof(*csums));
}

/**
 * ckpt_image_run_pages() - pages of @nr consecutive runs from run @first
 * @img: a loaded image
 * @first: index of the first run
 * @nr: number of runs, @first + @nr at most the header's nr_runs
 *
 * The contents of consecutive runs are consecutive in the image, so this
 * costs the same for any @nr.
 */
u64 ckpt_image_run_pages(const struct ckpt_image *img, u64 first, u64 nr)
{
	u64 last = first + nr - 1;

	if (!nr)
		return 0;
	return ((img->run_pos[last] - img->run_pos[first]) >> PAGE_SHIFT) +
	       img->runs[last].nr_pages;
}

/**
 * ckpt_image_verify_runs() - check every chunk's checksum
 * @img: a loaded image
 *
 * Reads all page contents once through a bounce buffer of one batch.
 *
 * Return: 0, -EBADMSG on a mismatch, -EINTR on a fatal signal, or a read
 * error.
 */
int ckpt_image_verify_runs(const struct ckpt_image *img)
{
	u64 csums[CKPT_BATCH_CHUNKS];
	const struct ckpt_image_run *r;
	unsigned int n;
	u64 i, off;
	void *buf;
	int ret = 0;

	if (!img->hdr.nr_runs)
		return 0;
	buf = kvmalloc(CKPT_BATCH_BYTES, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < img->hdr.nr_runs; i++) {
		r = &img->runs[i];
		/* A long run, batch by batch; each starts on a chunk boundary. */
		for (off = 0; off < r->nr_pages; off += n) {
			n = min_t(u64, r->nr_pages - off, CKPT_BATCH_PAGES);
			ret = ckpt_image_read_csums(img,
						    r->chunk + off / CKPT_CHUNK_PAGES,
						    ckpt_run_chunks(n), csums);
			if (!ret)
				ret = ckpt_read_full(img->file, buf,
						     (size_t)n << PAGE_SHIFT,
						     img->run_pos[i] +
						     (off << PAGE_SHIFT));
			if (!ret)
				ret = ckpt_check_chunks_buf(csums, buf, n);
			if (!ret && fatal_signal_pending(current))
				ret = -EINTR;
			if (ret)
				goto out_free;
			cond_resched();
		}
	}
out_free:
	kvfree(buf);
	return ret;
}
