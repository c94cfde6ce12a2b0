/*
 * In-place, crash-safe compaction of dynamic and differencing VHDX.
 * formats.md §2.6-2.8, §4.2.
 *
 * 1. Scan payload blocks in file order; decide each block's new state with
 *    the table in vhdx.h so reads provably stay identical:
 *      - space held by NOT_PRESENT/UNDEFINED/ZERO/UNMAPPED blocks: released,
 *        state kept (legacy UNMAPPED 5 is written as 3);
 *      - dynamic, all-zero data: ZERO (reads MUST return zeros);
 *      - differencing: equal to the parent chain -> NOT_PRESENT; otherwise
 *        all zero as the guest sees it -> ZERO; else kept.
 * 2. Commit those BAT changes through the log; then clear the sector-bitmap
 *    bits of dropped partial blocks and release bitmap blocks no longer used.
 * 3. Plan (plan.c) the smallest reachable end; only blocks ending above it
 *    move, into 1 MiB-aligned holes below it (copy, flush, BAT through the
 *    log), batch by batch.
 * 4. Log an entry whose FlushedFileOffset is the new size, truncate, then a
 *    header update with LogGuid zero so every reader sees a clean log.
 * DataWriteGuid is never changed: block moves are exempt, and no read changes.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "file_ranges.h"
#include "progress.h"
#include "plan.h"
#include "fs/fsmap.h"
#include "vhdx.h"
#include "vhdx_log_entry.h"

struct vcompact
{
    struct vdsshim_image *img;
    struct vhdx *v;
    struct vdsshim_compact_result *res;
    struct progress progress;
    uint8_t *buf, *pbuf;            /* ENGINE_IO_CHUNK each */
    uint8_t *dirty;                 /* per 4 KiB BAT sector */
    uint64_t bat_sectors;
    int dry;                        /* VDSSHIM_COMPACT_DRY_RUN: change the in-memory BAT only */
    struct move_stats moves;        /* how block moves went (file_ranges.c) */
    struct fsmap *fsmap;            /* file-system-aware: the guest's free space; else NULL */
    uint64_t batch_bytes;           /* block moves between two flushes (move_batch_bytes) */
};

static int set_entry(struct vcompact *c, uint64_t index, uint64_t entry, struct vdsshim_diag *diag)
{
    if (vhdx_bat_get(&c->v->bat, index) == entry) return VDSSHIM_OK;
    if (vhdx_bat_set(&c->v->bat, index, entry)) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the BAT");
    c->dirty[index * 8 / VHDX_LOG_SECTOR] = 1;
    return VDSSHIM_OK;
}

static int any_dirty(const struct vcompact *c)
{
    uint64_t i;

    for (i = 0; i < c->bat_sectors; i++)
        if (c->dirty[i]) return 1;
    return 0;
}

static int commit_bat(struct vcompact *c, struct vdsshim_diag *diag)
{
    uint64_t size;
    int st;

    uint64_t i, n = 0;

    for (i = 0; i < c->bat_sectors; i++) n += c->dirty[i];
    if (!n) return VDSSHIM_OK;
    if (c->dry)
    {
        memset(c->dirty, 0, (size_t)c->bat_sectors);
        return VDSSHIM_OK;
    }
    if ((st = vdsshim_io_size(c->img->io, &size))) return diag_io(diag, c->img->io, st, 0, "cannot get the file size");
    st = vhdx_write_bat(c->img, c->v, c->dirty, size, diag);
    memset(c->dirty, 0, (size_t)c->bat_sectors);
    /* Each sector goes to the log and then in place, plus descriptor sectors
     * (counted as if one entry held them all). */
    c->res->bytes_written += n * 2 * VHDX_LOG_SECTOR + (n / VHDX_LOG_DESCS_FIRST_SECTOR + 1) * VHDX_LOG_SECTOR;
    return st;
}

static int read_file(struct vcompact *c, void *buf, size_t len, uint64_t off, struct vdsshim_diag *diag)
{
    int st = vhdx_file_read(c->img, c->v, buf, len, off, "cannot read block data", diag);

    if (!st) c->res->bytes_read += len;
    return st;
}

/*
 * The new entry for a payload block that holds data, or the old one if it
 * must stay. Reads the block in chunks, through this file and the parents.
 */
static int decide_present(struct vcompact *c, uint64_t block, uint64_t entry, uint64_t *out, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    uint64_t base = block * v->meta.block_size, done, vsize = v->meta.virtual_size;
    uint64_t end = base + v->meta.block_size < vsize ? base + v->meta.block_size : vsize;
    int zero = 1, same = v->meta.has_parent;
    int st;

    *out = entry;
    /* Wholly free in the guest's file systems: zeros, without reading it
     * (ZERO even in a child: the parent's stale bytes need not show). */
    if (c->fsmap && fsmap_range_free(c->fsmap, base, end - base))
    {
        *out = VHDX_BAT_ENTRY(VHDX_PAYLOAD_ZERO, 0);
        return VDSSHIM_OK;
    }
    for (done = base; done < end && (zero || same); done += ENGINE_IO_CHUNK)
    {
        size_t n = end - done < ENGINE_IO_CHUNK ? (size_t)(end - done) : ENGINE_IO_CHUNK;
        /* The block as the guest sees it, parent-backed sectors included;
         * free space counts as zeros (and as equal to the parent). A fully
         * present block is the file's bytes: its host holes are not read. */
        if (VHDX_BAT_STATE(entry) == VHDX_PAYLOAD_FULLY_PRESENT && !v->log.nitems)
        {
            if ((st = file_read_data(c->img->io, c->buf, n, VHDX_BAT_OFFSET(entry) + (done - base), &c->res->bytes_read)))
                return diag_io(diag, c->img->io, st, VHDX_BAT_OFFSET(entry) + (done - base), "cannot read block data");
        }
        else
        {
            if ((st = vdsshim_read(c->img, done, c->buf, n, diag))) return st;
            c->res->bytes_read += n;
        }
        if (c->fsmap) fsmap_mask(c->fsmap, done, c->buf, n);
        if (zero) zero = buffer_is_zero(c->buf, n);
        if (same)
        {
            if ((st = image_read_parent(c->img, done, c->pbuf, n, diag))) return st;
            if (c->fsmap) fsmap_mask(c->fsmap, done, c->pbuf, n);
            same = !memcmp(c->buf, c->pbuf, n);
        }
    }
    if (same) *out = VHDX_BAT_ENTRY(VHDX_PAYLOAD_NOT_PRESENT, 0);
    else if (zero) *out = VHDX_BAT_ENTRY(VHDX_PAYLOAD_ZERO, 0);
    return VDSSHIM_OK;
}

/* A partially present block whose bitmap marks nothing present shows only the parent. */
static int partial_is_empty(struct vcompact *c, uint64_t block, int *empty, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    uint32_t bytes = (uint32_t)(v->meta.block_size / v->meta.logical_sector_size / 8);
    uint64_t sb = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, vhdx_sb_index(v, block / v->chunk_ratio)));
    int st;

    if ((st = read_file(c, c->buf, bytes, sb + (block % v->chunk_ratio) * bytes, diag))) return st;
    *empty = buffer_is_zero(c->buf, bytes);
    return VDSSHIM_OK;
}

struct object
{
    uint64_t index;         /* BAT index */
    uint64_t start, size;
};

static int cmp_object(const void *a, const void *b)
{
    const struct object *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int push_object(struct object **v, size_t *n, size_t *cap, struct object o)
{
    if (*n == *cap)
    {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct object *p = ncap <= SIZE_MAX / sizeof(*p) ? realloc(*v, ncap * sizeof(*p)) : NULL;
        if (!p) return VDSSHIM_E_NOMEM;
        *v = p;
        *cap = ncap;
    }
    (*v)[(*n)++] = o;
    return VDSSHIM_OK;
}

static int cmp_index(const void *a, const void *b)
{
    const struct object *x = a, *y = b;

    return x->index < y->index ? -1 : x->index > y->index;
}

/* Whether a page of the BAT can hold nothing phase 1 acts on: one entry
 * repeated, with no offset and not the legacy UNMAPPED state. */
static int page_is_idle(const struct vhdx *v, uint64_t p)
{
    return !v->bat.page[p] && !v->bat.few[p] && !VHDX_BAT_OFFSET(v->bat.fill[p])
        && VHDX_BAT_STATE(v->bat.fill[p]) != VHDX_PAYLOAD_UNMAPPED_V095;
}

/* Phase 1, the walk: the blocks whose data is in this file, listed for the
 * scan (*blocks, *n); entries that hold space no read comes from dropped on
 * the way, the legacy UNMAPPED state renamed. Skips BAT pages with nothing. */
static int collect_blocks(struct vcompact *c, struct object **blocks, size_t *n, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    size_t cap = 0;
    uint64_t i;
    int st = VDSSHIM_OK;

    for (i = 0; i < v->bat.entries && !st; i++)
    {
        uint64_t e, block;
        unsigned state;

        if (i % VHDX_BAT_PAGE_ENTRIES == 0 && page_is_idle(v, i / VHDX_BAT_PAGE_ENTRIES))
        {
            i += VHDX_BAT_PAGE_ENTRIES - 1;
            continue;
        }
        if (vhdx_is_sb_entry(v, i)) continue;
        if ((block = vhdx_block_of_entry(v, i)) >= v->payload_blocks) break;
        e = vhdx_bat_get(&v->bat, i);
        state = VHDX_BAT_STATE(e);
        if (state == VHDX_PAYLOAD_UNMAPPED_V095
            && (st = set_entry(c, i, e = VHDX_BAT_ENTRY(VHDX_PAYLOAD_UNMAPPED, VHDX_BAT_OFFSET(e)), diag)))
            break;
        if (!VHDX_BAT_OFFSET(e)) continue;
        if (state != VHDX_PAYLOAD_FULLY_PRESENT && state != VHDX_PAYLOAD_PARTIALLY_PRESENT)
        {
            /* Space held by a block whose reads do not come from it. */
            st = set_entry(c, i, VHDX_BAT_ENTRY(VHDX_BAT_STATE(e), 0), diag);
            c->res->blocks_scanned++;
            c->res->blocks_dropped++;
            continue;
        }
        if (push_object(blocks, n, &cap, (struct object){ block, VHDX_BAT_OFFSET(e), 0 }))
            st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    if (!st && *n) qsort(*blocks, *n, sizeof(**blocks), cmp_object);     /* read in file order */
    return st;
}

/* Phase 1, the scan: each listed block's new state (zero, the parent's, freed
 * by the file system, an empty partial one), in file order with read-ahead.
 * The partial blocks dropped are listed (*dropped, *ndropped) for phase 2. */
static int decide_blocks(struct vcompact *c, int scan, const struct object *blocks, size_t n,
                         struct object **dropped, size_t *ndropped, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    size_t depth = ENGINE_READ_AHEAD / v->meta.block_size ? ENGINE_READ_AHEAD / v->meta.block_size : 1;
    size_t k, ahead = 0, cap = 0;
    int st = VDSSHIM_OK;

    for (k = 0; k < n && !st; k++)
    {
        uint64_t idx = vhdx_payload_index(v, blocks[k].index), e = vhdx_bat_get(&v->bat, idx), ne = e;
        int partial = VHDX_BAT_STATE(e) == VHDX_PAYLOAD_PARTIALLY_PRESENT;

        /* In file order: ENGINE_READ_AHEAD of the next blocks are read ahead
         * while this one is checked (a hint; its failure changes nothing),
         * but for blocks the file-system map frees unread. */
        for (; scan && ahead < n && ahead <= k + depth; ahead++)
            if (!(c->fsmap
                  && fsmap_range_free(c->fsmap, blocks[ahead].index * v->meta.block_size, v->meta.block_size)))
                vdsshim_io_prefetch(c->img->io, blocks[ahead].start, v->meta.block_size);
        if (scan || c->fsmap) st = decide_present(c, blocks[k].index, e, &ne, diag);
        else if (partial)
        {
            int empty;
            if (!(st = partial_is_empty(c, blocks[k].index, &empty, diag)) && empty)
                ne = VHDX_BAT_ENTRY(VHDX_PAYLOAD_NOT_PRESENT, 0);
        }
        if (st) break;
        c->res->blocks_scanned++;
        if (ne != e)
        {
            if (c->fsmap)
                fsmap_account(c->fsmap, blocks[k].index * v->meta.block_size, v->meta.block_size);
            if ((st = set_entry(c, idx, ne, diag))) break;
            if (partial && push_object(dropped, ndropped, &cap, (struct object){ blocks[k].index, 0, 0 }))
                st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
            c->res->blocks_dropped++;
        }
        if (!st) st = progress_report(&c->progress, 0, scan ? 70 : 10, k + 1, n);
    }
    return st;
}

/* Phase 2: bitmap bits of dropped partial blocks, so a later partial write
 * starts clean; then bitmap blocks that no partial block uses any more. The
 * dropped blocks, sorted by index, are walked along with the chunks. */
static int drop_bitmaps(struct vcompact *c, struct object *dropped, size_t ndropped, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    uint32_t bytes = (uint32_t)(v->meta.block_size / v->meta.logical_sector_size / 8);
    uint64_t chunk;
    size_t k = 0;
    int st = VDSSHIM_OK;

    if (ndropped) qsort(dropped, ndropped, sizeof(*dropped), cmp_index);
    for (chunk = 0; !st && v->meta.has_parent && chunk < v->sb_blocks; chunk++)
    {
        uint64_t sbi = vhdx_sb_index(v, chunk), sb_off, b, first = chunk * v->chunk_ratio;
        int in_use = 0;

        while (k < ndropped && dropped[k].index < first) k++;
        if (sbi >= v->bat.entries || !(sb_off = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, sbi)))) continue;
        for (b = first; b < first + v->chunk_ratio && b < v->payload_blocks; b++)
            in_use |= VHDX_BAT_STATE(vhdx_bat_get(&v->bat, vhdx_payload_index(v, b))) == VHDX_PAYLOAD_PARTIALLY_PRESENT;
        if (!in_use)
        {
            st = set_entry(c, sbi, VHDX_BAT_ENTRY(VHDX_SB_NOT_PRESENT, 0), diag);
            c->res->blocks_dropped++;
            continue;
        }
        memset(c->buf, 0, bytes);
        for (; k < ndropped && dropped[k].index < first + v->chunk_ratio && !st && !c->dry; k++)
        {
            b = dropped[k].index;
            if ((st = vdsshim_io_write(c->img->io, c->buf, bytes, sb_off + (b - first) * bytes)))
                st = diag_io(diag, c->img->io, st, sb_off + (b - first) * bytes, "cannot clear a sector bitmap");
            c->res->bytes_written += bytes;
        }
    }
    return st;
}

/* Phase 1-2: new states, committed; then bitmap bits and bitmap blocks.
 * Memory follows the blocks present, not the virtual size. */
static int scan_and_drop(struct vcompact *c, const struct vdsshim_compact_options *opts, struct vdsshim_diag *diag)
{
    struct object *blocks = NULL, *dropped = NULL;
    size_t n = 0, ndropped = 0;
    int st;

    st = collect_blocks(c, &blocks, &n, diag);
    if (!st) st = decide_blocks(c, !(opts->flags & VDSSHIM_COMPACT_NO_ZERO_SCAN), blocks, n, &dropped, &ndropped, diag);
    free(blocks);
    if (!st) st = commit_bat(c, diag);
    if (!st) st = drop_bitmaps(c, dropped, ndropped, diag);
    free(dropped);
    /* No flush before this commit: the bits cleared above belong to blocks
     * already not present (no read consults them) in bitmap blocks still in
     * use (never in space this commit frees), and the flush before any
     * move's commit makes them durable before such space is reused. The
     * flush mutation test (scripts/mutate-flushes) holds the sweeps to it. */
    if (!st && any_dirty(c)) st = commit_bat(c, diag);
    c->v->cached_sb = 0;
    return st;
}

static int push_plan_object(struct plan_object **v, uint64_t *n, uint64_t *cap, struct plan_object o)
{
    if (*n == *cap)
    {
        uint64_t ncap = *cap ? *cap * 2 : 256;
        struct plan_object *p = ncap <= SIZE_MAX / sizeof(*p) ? realloc(*v, (size_t)ncap * sizeof(*p)) : NULL;
        if (!p) return VDSSHIM_E_NOMEM;
        *v = p;
        *cap = ncap;
    }
    (*v)[(*n)++] = o;
    return VDSSHIM_OK;
}

/* Phase 3: plan (plan.c), then copy -> flush -> BAT through the log, batch by batch. */
static int move_blocks(struct vcompact *c, uint64_t *new_end, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    struct plan_object *obj = NULL;
    struct plan_move *moves = NULL;
    uint64_t i, n = 0, cap = 0, batch_bytes = 0, in_batch = 0;
    size_t nmoves = 0, barrier = 0, m;
    int st = VDSSHIM_OK;

    if (push_plan_object(&obj, &n, &cap, (struct plan_object){ 0, VHDX_HEADER_SECTION, 0, 0 })
        || push_plan_object(&obj, &n, &cap, (struct plan_object){ v->header.log_offset, v->header.log_length, 0, 0 })
        || push_plan_object(&obj, &n, &cap, (struct plan_object){ v->bat_region.offset, v->bat_region.length, 0, 0 })
        || push_plan_object(&obj, &n, &cap, (struct plan_object){ v->meta_region.offset, v->meta_region.length, 0, 0 }))
        st = VDSSHIM_E_NOMEM;
    for (i = vhdx_bat_next_placed(&v->bat, 0); i < v->bat.entries && !st; i = vhdx_bat_next_placed(&v->bat, i + 1))
    {
        uint64_t e = vhdx_bat_get(&v->bat, i);
        if (VHDX_BAT_OFFSET(e))
            st = push_plan_object(&obj, &n, &cap, (struct plan_object){ VHDX_BAT_OFFSET(e), vhdx_is_sb_entry(v, i) ? MiB : v->meta.block_size, i, 1 });
    }
    if (st)
    {
        free(obj);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    }
    st = plan_relocation(obj, (size_t)n, MiB, &moves, &nmoves, &barrier, new_end);
    free(obj);
    if (st) return diag_set(diag, st, 0, "out of memory");

    for (m = 0; m < nmoves && !st; m++)
    {
        const struct plan_move *mv = &moves[m];
        uint64_t e;

        /* Copy (data writes, not logged); the BAT entry follows through the log.
         * With no log overlay the file's bytes are the image's: only their
         * data extents move, in the kernel where it can. */
        if (!c->dry && !v->log.nitems)
        {
            uint64_t at = 0;
            if ((st = file_move_range(c->img->io, mv->from, mv->to, mv->size, c->buf, ENGINE_IO_CHUNK, &c->moves, &at)))
                st = diag_io(diag, c->img->io, st, at, "cannot move block data");
        }
        for (e = 0; e < mv->size && !st && !c->dry && v->log.nitems; e += ENGINE_IO_CHUNK)
        {
            size_t len = mv->size - e < ENGINE_IO_CHUNK ? (size_t)(mv->size - e) : ENGINE_IO_CHUNK;
            if (!(st = read_file(c, c->buf, len, mv->from + e, diag))
                && (st = vdsshim_io_write(c->img->io, c->buf, len, mv->to + e)))
                st = diag_io(diag, c->img->io, st, mv->to + e, "cannot write block data");
            c->res->bytes_written += len;
        }
        if (st) break;
        if ((st = set_entry(c, mv->id, VHDX_BAT_ENTRY(VHDX_BAT_STATE(vhdx_bat_get(&v->bat, mv->id)), mv->to), diag)))
            break;
        c->res->blocks_moved++;
        batch_bytes += mv->size;
        in_batch++;
        if ((st = progress_report(&c->progress, c->progress.last, 99, m + 1, nmoves))) break;
        if (c->dry) continue;
        if (batch_bytes >= c->batch_bytes || in_batch >= vhdx_log_max_sectors(v) || m + 1 == nmoves
            || m + 1 == barrier)
        {
            if ((st = vdsshim_io_flush(c->img->io))) st = diag_io(diag, c->img->io, st, 0, "cannot flush");
            else st = commit_bat(c, diag);
            batch_bytes = in_batch = 0;
        }
    }
    free(moves);
    c->res->bytes_read += c->moves.bytes_read;
    c->res->bytes_written += c->moves.bytes_written;
    c->res->bytes_copied += c->moves.bytes_copied;
    c->res->bytes_cloned += c->moves.bytes_cloned;
    c->res->bytes_punched += c->moves.bytes_punched;
    return st;
}

/* Phase 4: the log learns the new size first, then the file shrinks. */
static int shrink(struct vcompact *c, uint64_t end, struct vdsshim_diag *diag)
{
    struct vhdx *v = c->v;
    int st;

    if (end < v->file_size)
    {
        /* Alone under a fresh LogGuid: readers that replay a whole run of
         * entries (qemu) must not meet an older entry whose FlushedFileOffset
         * lies past the shrunken end. */
        if ((st = vhdx_log_restart(c->img, v, diag))) return st;
        if ((st = vhdx_log_commit(c->img, v, NULL, NULL, 0, end, end, diag))) return st;
        /* No flush of its own: a truncate that did not land leaves only an
         * unreferenced tail, and the header update below flushes it. */
        if ((st = vdsshim_io_truncate(c->img->io, end)))
            return diag_io(diag, c->img->io, st, end, "cannot truncate the file");
        v->file_size = c->img->info.file_size = end;
    }
    return vhdx_settle(c->img, diag);
}

/* The in-memory BAT as the file (and its log) has it; if that cannot be
 * read, what is on disk is unknown here: the image writes nothing more. */
static void bat_from_disk(struct vdsshim_image *img, struct vhdx *v)
{
    struct vhdx_bat disk;

    if (!vhdx_bat_init(&disk, v->bat.entries) && !vhdx_read_bat(img, v, &disk, NULL))
    {
        vhdx_bat_free(&v->bat);
        v->bat = disk;
        return;
    }
    vhdx_bat_free(&disk);
    img->flags &= ~VDSSHIM_OPEN_WRITE;
}

int vhdx_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts, struct fsmap *fsmap,
                 struct vdsshim_compact_result *res, struct vdsshim_diag *diag)
{
    struct vcompact c = { 0 };
    struct vhdx *v = img->fmt;
    uint64_t end = 0, i;
    int st;

    c.img = img;
    c.v = v;
    c.res = res;
    c.fsmap = fsmap;
    c.batch_bytes = move_batch_bytes(opts);
    c.progress.fn = opts->progress;
    c.progress.ctx = opts->progress_ctx;
    c.bat_sectors = (v->bat.entries * 8 + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR;
    c.dry = !!(opts->flags & VDSSHIM_COMPACT_DRY_RUN);
    c.buf = io_buffer_alloc(ENGINE_IO_CHUNK);
    c.pbuf = io_buffer_alloc(ENGINE_IO_CHUNK);
    c.dirty = calloc((size_t)c.bat_sectors, 1);
    if (!c.buf || !c.pbuf || !c.dirty)
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    if ((st = progress_report(&c.progress, 0, 0, 0, 1))) goto done;
    if ((st = scan_and_drop(&c, opts, diag))) goto done;
    if (c.dry)
    {
        /* The plan applied in memory, the end a real run would cut at, then
         * the BAT back as it is on disk (below). */
        res->size_after = v->file_size;
        if (!(opts->flags & VDSSHIM_COMPACT_NO_BLOCK_MOVES) && !(st = move_blocks(&c, &end, diag))
            && vhdx_structure_end(v) < v->file_size)
            res->size_after = vhdx_structure_end(v);
        if (!st) st = progress_report(&c.progress, 100, 100, 1, 1);
        goto dry_done;
    }
    if (!(opts->flags & VDSSHIM_COMPACT_NO_BLOCK_MOVES))
    {
        if ((st = move_blocks(&c, &end, diag))) goto done;
        /* Cut at what the BAT now references, never at a planned figure. */
        if ((st = shrink(&c, vhdx_structure_end(v), diag))) goto done;
    }
    else if ((st = vhdx_settle(img, diag)))
        goto done;
    img->info.blocks_allocated = 0;
    for (i = vhdx_bat_next_placed(&v->bat, 0); i < v->bat.entries; i = vhdx_bat_next_placed(&v->bat, i + 1))
        img->info.blocks_allocated += !vhdx_is_sb_entry(v, i) && VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, i));
    st = progress_report(&c.progress, 100, 100, 1, 1);
    if (st == VDSSHIM_E_CANCELLED) st = VDSSHIM_OK;     /* too late to cancel: the work is done */

done:
    if (st)
    {
        /* What is on disk is valid, but the in-memory BAT may hold changes that
         * were never committed. */
        bat_from_disk(img, v);
        /* Every entry written is in place: leave no log to replay, so other
         * readers (qemu opens read-only) take the image as it is. A failing
         * medium may refuse this too; the log then stays, valid. */
        if ((img->flags & VDSSHIM_OPEN_WRITE) && !v->log_unapplied) vhdx_settle(img, NULL);
        if (st == VDSSHIM_E_CANCELLED) diag_set(diag, st, 0, "compaction cancelled; the image is valid");
    }
    res->size_after = v->file_size;
    goto out;
dry_done:
    {
        /* Nothing was written: the in-memory BAT goes back to the file's. */
        bat_from_disk(img, v);
        if (st == VDSSHIM_E_CANCELLED) diag_set(diag, st, 0, "dry run cancelled; nothing was written");
    }
out:
    v->cached_sb = 0;
    io_buffer_free(c.buf);
    io_buffer_free(c.pbuf);
    free(c.dirty);
    return st;
}
