/*
 * In-place, crash-safe compaction of dynamic and differencing VHD.
 * formats.md §1.7, §4.1.
 *
 * 1. Scan the allocated blocks in file order (no writes) and pick the ones
 *    that can go without changing what the guest reads.
 * 2. Drop them: BAT entries -> unused, flush. An unreferenced block is just
 *    garbage, so every prefix of these sector writes is a valid image.
 * 3. Plan moves (plan.c): the smallest reachable end, and only the blocks
 *    that end above it move, into holes below it: the fewest bytes moved.
 * 4. Per batch: copy blocks into holes, flush, point the BAT at the copies,
 *    flush. A hole is never a source, so no live data is ever overwritten.
 * 5. Footer at the new end (unreferenced space), flush, truncate, flush.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "file_ranges.h"
#include "progress.h"
#include "plan.h"
#include "fs/fsmap.h"
#include "vhd.h"

struct compact_ctx
{
    struct vdsshim_image *img;
    struct vhd *vhd;
    struct vdsshim_compact_result *res;
    struct progress progress;
    uint8_t *buf;               /* ENGINE_IO_CHUNK bytes */
    uint8_t *pbuf;              /* parent data, ENGINE_IO_CHUNK bytes */
    uint8_t *bitmap;
    struct move_stats moves;    /* how block moves went (file_ranges.c) */
    struct fsmap *fsmap;            /* file-system-aware: the guest's free space; else NULL */
    uint64_t batch_bytes;           /* block moves between two flushes (move_batch_bytes) */
};

static int io_fail(struct compact_ctx *c, int st, uint64_t off, const char *what, struct vdsshim_diag *diag)
{
    return diag_io(diag, c->img->io, st, off, what);
}

static int read_file(struct compact_ctx *c, void *buf, size_t len, uint64_t off, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_read(c->img->io, buf, len, off);

    if (st) return io_fail(c, st, off, "cannot read block data", diag);
    c->res->bytes_read += len;
    return VDSSHIM_OK;
}

static int write_file(struct compact_ctx *c, const void *buf, size_t len, uint64_t off, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_write(c->img->io, buf, len, off);

    if (st) return io_fail(c, st, off, "cannot write block data", diag);
    c->res->bytes_written += len;
    return VDSSHIM_OK;
}

static int flush_file(struct compact_ctx *c, struct vdsshim_diag *diag)
{
    int st = vdsshim_io_flush(c->img->io);

    return st ? io_fail(c, st, 0, "cannot flush", diag) : VDSSHIM_OK;
}

/*
 * Can this block go? Sectors the bitmap marks absent are not this file's to
 * show. Dynamic: present sectors must read zero (unallocated reads zero).
 * Differencing: present sectors must equal what the parent chain shows there
 * (unallocated falls through to it) — zeros that mask parent data stay.
 * qemu ignores dynamic-disk bitmaps; writers set every bit they allocate, and
 * blktap requires absent sectors to hold zeros, so the two readings agree.
 */
static int block_is_droppable(struct compact_ctx *c, uint32_t index, uint64_t start, int scan_data,
                              int *droppable, struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    uint32_t bs = vhd->hdr.block_size, spb = bs / VHD_SECTOR, s = 0;
    uint64_t vbase = (uint64_t)index * bs, vsize = c->img->info.virtual_size;
    int st;

    *droppable = 0;
    /* Wholly free in the guest's file systems: no need to look at the data. */
    if (c->fsmap && fsmap_range_free(c->fsmap, vbase, vsize - vbase < bs ? vsize - vbase : bs))
    {
        *droppable = 1;
        return VDSSHIM_OK;
    }
    if ((st = read_file(c, c->bitmap, vhd->bitmap_size, start, diag))) return st;
    {
        uint32_t i, any = 0;
        for (i = 0; i < spb / 8; i++) any |= c->bitmap[i];
        if (!any)
        {
            *droppable = 1;
            return VDSSHIM_OK;
        }
    }
    if (!scan_data) return VDSSHIM_OK;

    while (s < spb && vbase + (uint64_t)s * VHD_SECTOR < vsize)
    {
        uint32_t first = s, n;
        size_t bytes;

        if (!vhd_bitmap_test(c->bitmap, s))
        {
            s++;
            continue;
        }
        /* A run of present sectors, at most one chunk, inside the virtual size. */
        while (s < spb && vhd_bitmap_test(c->bitmap, s) && (uint64_t)(s - first + 1) * VHD_SECTOR <= ENGINE_IO_CHUNK
               && vbase + (uint64_t)s * VHD_SECTOR < vsize)
            s++;
        n = s - first;
        bytes = (size_t)n * VHD_SECTOR;
        /* The host file's holes in it read as zeros, unread. */
        if ((st = file_read_data(c->img->io, c->buf, bytes, start + vhd->bitmap_size + (uint64_t)first * VHD_SECTOR,
                                 &c->res->bytes_read)))
            return io_fail(c, st, start + vhd->bitmap_size + (uint64_t)first * VHD_SECTOR, "cannot read block data", diag);
        /* Free space counts as zeros (and as equal to the parent). */
        if (c->fsmap) fsmap_mask(c->fsmap, vbase + (uint64_t)first * VHD_SECTOR, c->buf, bytes);
        if (c->img->info.type == VDSSHIM_DISK_DIFFERENCING)
        {
            if ((st = image_read_parent(c->img, vbase + (uint64_t)first * VHD_SECTOR, c->pbuf, bytes, diag)))
                return st;
            if (c->fsmap) fsmap_mask(c->fsmap, vbase + (uint64_t)first * VHD_SECTOR, c->pbuf, bytes);
            if (memcmp(c->buf, c->pbuf, bytes)) return VDSSHIM_OK;
        }
        else if (!buffer_is_zero(c->buf, bytes))
            return VDSSHIM_OK;
    }
    *droppable = 1;
    return VDSSHIM_OK;
}

/* Write the BAT sectors of the entries whose flag is set, coalescing neighbours. */
static int write_changed_bat(struct compact_ctx *c, const uint8_t *changed, struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    uint32_t per_sector = VHD_SECTOR / 4, nsec = (uint32_t)(vhd->bat_bytes / VHD_SECTOR), s = 0;
    int st;

    while (s < nsec)
    {
        uint32_t first = s, e, last;
        int dirty = 0;

        for (e = s * per_sector; e < (s + 1) * per_sector && e < vhd->hdr.max_entries; e++) dirty |= changed[e];
        if (!dirty)
        {
            s++;
            continue;
        }
        while (++s < nsec)
        {
            dirty = 0;
            for (e = s * per_sector; e < (s + 1) * per_sector && e < vhd->hdr.max_entries; e++) dirty |= changed[e];
            if (!dirty) break;
        }
        last = s * per_sector - 1;
        if (last >= vhd->hdr.max_entries) last = vhd->hdr.max_entries - 1;
        if ((st = vhd_write_bat(c->img, first * per_sector, last, diag))) return st;
        c->res->bytes_written += (uint64_t)(s - first) * VHD_SECTOR;
    }
    return VDSSHIM_OK;
}

/* Clear the blktap batmap bits of dropped blocks, and its checksum. */
static int update_batmap(struct compact_ctx *c, const uint8_t *dropped, struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    uint64_t bytes = (uint64_t)vhd->batmap.size_sectors * VHD_SECTOR, i;
    uint8_t hdr[VHD_SECTOR], *map;
    uint32_t sum = 0, e;
    int st;

    if (!vhd->batmap.present) return VDSSHIM_OK;
    if (!(map = malloc((size_t)bytes))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    if (!(st = read_file(c, map, (size_t)bytes, vhd->batmap.offset, diag))
        && !(st = read_file(c, hdr, VHD_SECTOR, vhd->batmap.header_offset, diag)))
    {
        if (vhd->batmap.stale) memset(map, 0, (size_t)bytes);   /* see struct vhd_batmap */
        for (e = 0; e < vhd->hdr.max_entries; e++)
            if (dropped[e]) map[e / 8] &= (uint8_t)~(0x80 >> (e % 8));
        for (i = 0; i < bytes; i++) sum += map[i];
        put_be32(hdr + 24, ~sum);
        vhd->batmap.checksum = ~sum;
        /* No order between the bits, their checksum and the BAT matters: a
         * cleared bit is right whatever the BAT says, and a checksum that
         * misses its bits only makes the batmap stale, rebuilt by the next
         * run (struct vhd_batmap). The tests hold this without a flush. */
        if (!(st = write_file(c, map, (size_t)bytes, vhd->batmap.offset, diag))
            && !(st = write_file(c, hdr, VHD_SECTOR, vhd->batmap.header_offset, diag)))
            vhd->batmap.stale = 0;
    }
    free(map);
    return st;
}

/* The in-memory BAT as it is on disk (after a failure, or a dry run). */
static void vhd_bat_from_disk(struct vhd *vhd)
{
    uint32_t i;

    for (i = 0; i < vhd->hdr.max_entries; i++) vhd->bat[i] = get_be32(vhd->bat_raw + 4ull * i);
    vhd->cached_block = VHD_BAT_UNUSED;
}

/* A dry run's phases 3-4: the planned moves applied to the in-memory BAT
 * only, and the end a real run would cut at, by the same rule. */
static void dry_run_moves(struct compact_ctx *c, const struct plan_move *moves, size_t nmoves)
{
    struct vhd *vhd = c->vhd;
    uint64_t end;
    size_t i;

    for (i = 0; i < nmoves; i++)
    {
        vhd->bat[moves[i].id] = (uint32_t)(moves[i].to / VHD_SECTOR);
        c->res->blocks_moved++;
    }
    end = vhd_structure_end(vhd);
    if (end + VHD_FOOTER_SIZE < vhd->file_size) c->res->size_after = end + VHD_FOOTER_SIZE;
}

/* Phase 1 + 2: find droppable blocks, then unmap them. */
static int scan_and_drop(struct compact_ctx *c, const struct vdsshim_compact_options *opts,
                         struct vhd_block_ref *blocks, uint32_t *nblocks, struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    int scan_data = !(opts->flags & VDSSHIM_COMPACT_NO_ZERO_SCAN);
    unsigned scan_hi = scan_data ? 70 : 10;
    uint8_t *dropped;
    uint32_t i, kept = 0, ahead = 0;
    uint32_t depth = ENGINE_READ_AHEAD / vhd->block_span ? ENGINE_READ_AHEAD / vhd->block_span : 1;
    int st = VDSSHIM_OK;

    if (!(dropped = calloc(vhd->hdr.max_entries ? vhd->hdr.max_entries : 1, 1)))
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (i = 0; i < *nblocks && !st; i++)
    {
        int drop;

        /* Blocks are scanned in file order: ENGINE_READ_AHEAD of the next
         * ones are read ahead while this one is checked (a hint; its failure
         * changes nothing), but for blocks the file-system map frees unread. */
        for (; scan_data && ahead < *nblocks && ahead <= i + depth; ahead++)
            if (!(c->fsmap && fsmap_range_free(c->fsmap, (uint64_t)blocks[ahead].index * vhd->hdr.block_size,
                                                    vhd->hdr.block_size)))
                vdsshim_io_prefetch(c->img->io, blocks[ahead].start, vhd->block_span);
        if (!(st = block_is_droppable(c, blocks[i].index, blocks[i].start, scan_data, &drop, diag)))
        {
            c->res->blocks_scanned++;
            if (drop)
            {
                if (c->fsmap)
                    fsmap_account(c->fsmap, (uint64_t)blocks[i].index * vhd->hdr.block_size, vhd->hdr.block_size);
                dropped[blocks[i].index] = 1;
                vhd->bat[blocks[i].index] = VHD_BAT_UNUSED;
                c->res->blocks_dropped++;
            }
            else
                blocks[kept++] = blocks[i];
            st = progress_report(&c->progress, 0, scan_hi, i + 1, *nblocks);
        }
    }
    if (st)
    {
        /* Nothing written yet: put the in-memory BAT back as it is on disk. */
        vhd_bat_from_disk(vhd);
        free(dropped);
        return st;
    }
    *nblocks = kept;
    vhd->cached_block = VHD_BAT_UNUSED;
    /* A dry run keeps the drops in memory only, for the plan (vhd_compact). */
    if (opts->flags & VDSSHIM_COMPACT_DRY_RUN)
    {
        free(dropped);
        return VDSSHIM_OK;
    }
    if (c->res->blocks_dropped) st = write_changed_bat(c, dropped, diag);
    if (!st && (c->res->blocks_dropped || vhd->batmap.stale))
        st = update_batmap(c, dropped, diag);
    free(dropped);
    /* Durable before any block moves into a dropped block's space. */
    return st ? st : flush_file(c, diag);
}

/* Phase 3: which blocks go where (plan.c). live is sorted by start. */
static int plan_moves(struct compact_ctx *c, const struct vhd_block_ref *live, uint32_t nlive,
                      struct plan_move **moves, size_t *nmoves, size_t *barrier, uint64_t *new_end,
                      struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    struct plan_object *objs;
    uint32_t i, n = 0;
    int st;

    if (!(objs = malloc(((size_t)nlive + vhd->nreserved) * sizeof(*objs))))
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    for (i = 0; i < vhd->nreserved; i++)
        objs[n++] = (struct plan_object){ vhd->reserved[i].start, vhd->reserved[i].end - vhd->reserved[i].start, 0, 0 };
    for (i = 0; i < nlive; i++)
        objs[n++] = (struct plan_object){ live[i].start, vhd->block_span, live[i].index, 1 };
    st = plan_relocation(objs, n, VHD_SECTOR, moves, nmoves, barrier, new_end);
    free(objs);
    return st ? diag_set(diag, st, 0, "out of memory") : VDSSHIM_OK;
}

/* Only the block's data extents move, in the kernel where the backend can. */
static int copy_block(struct compact_ctx *c, uint64_t from, uint64_t to, struct vdsshim_diag *diag)
{
    uint64_t at = 0;
    int st = file_move_range(c->img->io, from, to, c->vhd->block_span, c->buf, ENGINE_IO_CHUNK, &c->moves, &at);

    return st ? io_fail(c, st, at, "cannot move block data", diag) : VDSSHIM_OK;
}

/* Phase 4: copy, flush, commit the BAT, flush; batch by batch. */
static int execute_moves(struct compact_ctx *c, const struct plan_move *moves, size_t nmoves,
                         size_t barrier, struct vdsshim_diag *diag)
{
    struct vhd *vhd = c->vhd;
    uint8_t *changed;
    size_t i = 0, batch_start;
    int st = VDSSHIM_OK;

    if (!nmoves) return VDSSHIM_OK;
    if (!(changed = calloc(vhd->hdr.max_entries, 1))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
    while (i < nmoves && !st)
    {
        uint64_t bytes = 0;

        batch_start = i;
        /* A batch never runs past the barrier: later targets may use that slot. */
        while (i < nmoves && bytes < c->batch_bytes && !st && !(i == barrier && i > batch_start))
        {
            if (!(st = copy_block(c, moves[i].from, moves[i].to, diag)))
                st = progress_report(&c->progress, c->progress.last, 99, i + 1, nmoves);
            bytes += vhd->block_span;
            i++;
        }
        if (st || (st = flush_file(c, diag))) break;
        memset(changed, 0, vhd->hdr.max_entries);
        for (; batch_start < i; batch_start++)
        {
            vhd->bat[moves[batch_start].id] = (uint32_t)(moves[batch_start].to / VHD_SECTOR);
            changed[moves[batch_start].id] = 1;
            c->res->blocks_moved++;
        }
        if (!(st = write_changed_bat(c, changed, diag))) st = flush_file(c, diag);
    }
    free(changed);
    return st;
}

int vhd_compact(struct vdsshim_image *img, const struct vdsshim_compact_options *opts, struct fsmap *fsmap,
                struct vdsshim_compact_result *res, struct vdsshim_diag *diag)
{
    struct compact_ctx c = { 0 };
    struct vhd_block_ref *blocks = NULL;
    struct plan_move *moves = NULL;
    size_t nmoves = 0, barrier = 0;
    uint32_t nblocks = 0;
    uint64_t new_end = 0;
    int st;

    c.img = img;
    c.vhd = img->fmt;
    c.res = res;
    c.fsmap = fsmap;
    c.batch_bytes = move_batch_bytes(opts);
    c.progress.fn = opts->progress;
    c.progress.ctx = opts->progress_ctx;
    c.buf = io_buffer_alloc(ENGINE_IO_CHUNK);
    c.pbuf = io_buffer_alloc(ENGINE_IO_CHUNK);
    c.bitmap = malloc(c.vhd->bitmap_size);
    if (!c.buf || !c.pbuf || !c.bitmap || vhd_sorted_blocks(c.vhd, &blocks, &nblocks))  /* scanned in file order */
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }

    if ((st = progress_report(&c.progress, 0, 0, 0, 1))) goto done;
    if ((st = scan_and_drop(&c, opts, blocks, &nblocks, diag))) goto done;
    if (opts->flags & VDSSHIM_COMPACT_DRY_RUN)
    {
        res->size_after = c.vhd->file_size;
        if (!(opts->flags & VDSSHIM_COMPACT_NO_BLOCK_MOVES)
            && !(st = plan_moves(&c, blocks, nblocks, &moves, &nmoves, &barrier, &new_end, diag)))
            dry_run_moves(&c, moves, nmoves);
        vhd_bat_from_disk(c.vhd);
        if (!st) st = progress_report(&c.progress, 100, 100, 1, 1);
        if (st == VDSSHIM_E_CANCELLED) diag_set(diag, st, 0, "dry run cancelled; nothing was written");
        goto out;
    }
    if (!(opts->flags & VDSSHIM_COMPACT_NO_BLOCK_MOVES))
    {
        if ((st = plan_moves(&c, blocks, nblocks, &moves, &nmoves, &barrier, &new_end, diag))) goto done;
        if ((st = execute_moves(&c, moves, nmoves, barrier, diag))) goto done;
        /* Cut at what the BAT now references, never at a planned figure. */
        uint64_t was = c.vhd->file_size;
        if ((st = vhd_set_end(img, vhd_structure_end(c.vhd), diag))) goto done;
        res->bytes_written += was > c.vhd->file_size ? VHD_FOOTER_SIZE : 0;
    }
    img->info.blocks_allocated = nblocks;
    st = progress_report(&c.progress, 100, 100, 1, 1);
    if (st == VDSSHIM_E_CANCELLED) st = VDSSHIM_OK;     /* too late to cancel: the work is done */

done:
    res->size_after = c.vhd->file_size;
    c.vhd->cached_block = VHD_BAT_UNUSED;
    if (st == VDSSHIM_E_CANCELLED) diag_set(diag, st, 0, "compaction cancelled; the image is valid");
out:
    res->bytes_read += c.moves.bytes_read;
    res->bytes_written += c.moves.bytes_written;
    res->bytes_copied += c.moves.bytes_copied;
    res->bytes_cloned += c.moves.bytes_cloned;
    res->bytes_punched += c.moves.bytes_punched;
    free(moves);
    free(blocks);
    io_buffer_free(c.buf);
    io_buffer_free(c.pbuf);
    free(c.bitmap);
    return st;
}
