/*
 * The VHDX log (formats.md §2.7, MS-VHDX §2.3): find the active sequence,
 * replay it (in memory for read-only opens, on disk for read-write ones),
 * and write new entries: entry -> flush -> apply in place -> flush.
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "vhdx_log_entry.h"

struct log_entry
{
    uint64_t offset;            /* within the log */
    uint32_t length;
    uint32_t tail;
    uint64_t sequence;
    uint32_t desc_count;
    uint64_t flushed_file_offset;
    uint64_t last_file_offset;
};

void vhdx_log_free(struct vhdx_log_state *log)
{
    size_t i;

    for (i = 0; i < log->nitems; i++) free(log->items[i].data);
    free(log->items);
    memset(log, 0, sizeof(*log));
}

/* Bytes of the ring starting at off, wrapping at its end. */
static void ring_copy(const uint8_t *ring, uint64_t ring_len, uint64_t off, uint8_t *dst, size_t len)
{
    size_t first = (size_t)(ring_len - off < len ? ring_len - off : len);

    memcpy(dst, ring + off, first);
    if (first < len) memcpy(dst + first, ring, len - first);
}

/* A valid entry at off? buf receives its bytes (at least VHDX_MAX_LOG). */
static int parse_entry(const uint8_t *ring, uint64_t ring_len, uint64_t off, const struct vhdx_guid *guid,
                       uint8_t *buf, struct log_entry *e)
{
    struct vhdx_log_header h;
    uint32_t i, data = 0, ds;

    ring_copy(ring, ring_len, off, buf, VHDX_LOG_ENTRY_HEADER_SIZE);
    if (!vhdx_log_header_decode(buf, &h)) return 0;
    e->offset = off;
    e->length = h.entry_length;
    e->tail = h.tail;
    e->sequence = h.sequence;
    e->desc_count = h.desc_count;
    e->flushed_file_offset = h.flushed_file_offset;
    e->last_file_offset = h.last_file_offset;
    if (memcmp(h.log_guid.b, guid->b, 16) || !e->sequence || e->length < VHDX_LOG_SECTOR
        || e->length % VHDX_LOG_SECTOR || e->length > ring_len || e->tail % VHDX_LOG_SECTOR || e->tail >= ring_len)
        return 0;
    ds = vhdx_log_desc_sectors(e->desc_count);
    if ((uint64_t)ds * VHDX_LOG_SECTOR > e->length) return 0;
    ring_copy(ring, ring_len, off, buf, e->length);
    if (crc32c_with_zero_field(buf, e->length, VHDX_LOGE_CHECKSUM) != h.checksum) return 0;

    for (i = 0; i < e->desc_count; i++)
    {
        struct vhdx_log_desc d;
        uint64_t n;

        if (!vhdx_log_desc_decode(buf + VHDX_LOG_ENTRY_HEADER_SIZE + (size_t)i * VHDX_LOG_DESC_SIZE, &d)) return 0;
        n = d.is_zero ? d.zero_length : VHDX_LOG_SECTOR;
        if (d.sequence != e->sequence || d.file_offset % VHDX_LOG_SECTOR) return 0;
        /* MS-VHDX bounds a descriptor only by the file; one that ends far
         * past the size the entry recorded (LastFileOffset) would make
         * replay write without bound. Not a valid entry. */
        if (n > VHDX_LOG_MAX_PAST_END + e->last_file_offset
            || d.file_offset > VHDX_LOG_MAX_PAST_END + e->last_file_offset - n)
            return 0;
        if (d.is_zero)
        {
            if (d.zero_length % VHDX_LOG_SECTOR) return 0;
        }
        else
        {
            if ((uint64_t)(ds + data + 1) * VHDX_LOG_SECTOR > e->length) return 0;
            if (!vhdx_log_data_matches(buf + ((size_t)ds + data) * VHDX_LOG_SECTOR, e->sequence)) return 0;
            data++;
        }
    }
    return 1;
}

static int overlay_add(struct vhdx_log_state *log, uint64_t offset, const uint8_t *data, uint64_t length)
{
    struct vhdx_overlay_item *items = realloc(log->items, (log->nitems + 1) * sizeof(*items));
    struct vhdx_overlay_item *it;

    if (!items) return VDSSHIM_E_NOMEM;
    log->items = items;
    it = &items[log->nitems];
    it->offset = offset;
    it->length = length;
    it->data = NULL;
    if (data)
    {
        if (!(it->data = malloc(VHDX_LOG_SECTOR))) return VDSSHIM_E_NOMEM;
        memcpy(it->data, data, VHDX_LOG_SECTOR);
    }
    log->nitems++;
    return VDSSHIM_OK;
}

/* Turn one entry's descriptors into overlay items, in order. */
static int overlay_entry(struct vhdx_log_state *log, const uint8_t *buf, const struct log_entry *e)
{
    uint32_t i, data = 0, ds = vhdx_log_desc_sectors(e->desc_count);
    uint8_t sector[VHDX_LOG_SECTOR];
    int st;

    for (i = 0; i < e->desc_count; i++)
    {
        struct vhdx_log_desc d;

        vhdx_log_desc_decode(buf + VHDX_LOG_ENTRY_HEADER_SIZE + (size_t)i * VHDX_LOG_DESC_SIZE, &d);
        if (d.is_zero)
            st = overlay_add(log, d.file_offset, NULL, d.zero_length);
        else
        {
            vhdx_log_data_decode(&d, buf + ((size_t)ds + data++) * VHDX_LOG_SECTOR, sector);
            st = overlay_add(log, d.file_offset, sector, VHDX_LOG_SECTOR);
        }
        if (st) return st;
    }
    return VDSSHIM_OK;
}

int vhdx_log_load(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    uint64_t len = v->header.log_length, off, best_off = 0, best_seq = 0, size;
    struct log_entry best = { 0 };
    size_t i;
    uint8_t *ring = NULL, *buf = NULL;
    int st, found = 0;

    if (vhdx_guid_is_zero(&v->header.log_guid)) return VDSSHIM_OK;     /* empty: MUST NOT replay */
    if (len > VHDX_MAX_LOG)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, v->header.log_offset,
                        "log of %llu bytes needs replay; logs over %llu bytes are not supported",
                        (unsigned long long)len, (unsigned long long)VHDX_MAX_LOG);
    if ((st = vdsshim_io_size(img->io, &size))) return diag_io(diag, img->io, st, 0, "cannot get the file size");
    if (v->header.log_offset > size || len > size - v->header.log_offset)
        return diag_set(diag, VDSSHIM_E_CORRUPT, v->header.log_offset, "log at %llu+%llu lies outside the file",
                        (unsigned long long)v->header.log_offset, (unsigned long long)len);
    if (!(ring = malloc((size_t)len)) || !(buf = malloc((size_t)len)))
    {
        free(ring);
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory for the log");
    }
    if ((st = vdsshim_io_read(img->io, ring, (size_t)len, v->header.log_offset)))
    {
        st = diag_io(diag, img->io, st, v->header.log_offset, "cannot read the log");
        goto done;
    }

    /* Every run of consecutive valid entries; a run is a valid sequence when its
     * head's tail is where the run starts. The highest head wins (§2.3.3). */
    for (off = 0; off < len; off += VHDX_LOG_SECTOR)
    {
        struct log_entry e, head;
        uint64_t cur, steps = 0;

        if (!parse_entry(ring, len, off, &v->header.log_guid, buf, &e)) continue;
        head = e;
        cur = off;
        while (++steps < len / VHDX_LOG_SECTOR)
        {
            struct log_entry n;
            uint64_t next = (cur + head.length) % len;
            if (!parse_entry(ring, len, next, &v->header.log_guid, buf, &n) || n.sequence != head.sequence + 1) break;
            head = n;
            cur = next;
        }
        if (head.tail == off && head.sequence > best_seq)
        {
            best_seq = head.sequence;
            best_off = off;
            best = head;
            found = 1;
        }
    }
    if (!found)
    {
        /* No entry carries this LogGuid: nothing was logged under it. A writer
         * sets the GUID (a header update) before its first entry, and applies an
         * entry in place only after the entry is durable, so a crash in between
         * leaves exactly this: an empty log. (qemu reads it the same way;
         * formats.md's "no valid sequence -> corrupt" would turn that crash
         * window into a lost disk.) */
        st = VDSSHIM_OK;
        goto done;
    }
    if (size < best.flushed_file_offset)
    {
        st = diag_set(diag, VDSSHIM_E_CORRUPT, v->header.log_offset,
                      "file is %llu bytes but the log says %llu were flushed: truncated file",
                      (unsigned long long)size, (unsigned long long)best.flushed_file_offset);
        goto done;
    }

    /* Replay tail .. head into the overlay. */
    off = best_off;
    for (;;)
    {
        struct log_entry e;
        parse_entry(ring, len, off, &v->header.log_guid, buf, &e);
        if ((st = overlay_entry(&v->log, buf, &e)))
        {
            st = diag_set(diag, st, 0, "out of memory replaying the log");
            goto done;
        }
        if (e.sequence == best.sequence) break;
        off = (off + e.length) % len;
    }
    v->log.extend_to = best.last_file_offset > size ? best.last_file_offset : size;
    for (i = 0; i < v->log.nitems; i++)
        if (v->log.items[i].offset + v->log.items[i].length > v->log.extend_to)
            v->log.extend_to = v->log.items[i].offset + v->log.items[i].length;
    v->log.replayed = 1;
    /* Later entries of the ring are written after the active head. */
    v->log_write_offset = (best.offset + best.length) % len;
    v->log_sequence = best.sequence + 1;
    st = VDSSHIM_OK;
done:
    free(ring);
    free(buf);
    return st;
}

/* Apply overlay items, in order, to buf holding file bytes [off, off + len). */
static void overlay_apply(const struct vhdx_log_state *log, uint8_t *buf, size_t len, uint64_t off)
{
    size_t i;

    for (i = 0; i < log->nitems; i++)
    {
        const struct vhdx_overlay_item *it = &log->items[i];
        uint64_t a = it->offset > off ? it->offset : off;
        uint64_t b = it->offset + it->length < off + len ? it->offset + it->length : off + len;

        if (a >= b) continue;
        if (it->data) memcpy(buf + (a - off), it->data + (a - it->offset), (size_t)(b - a));
        else memset(buf + (a - off), 0, (size_t)(b - a));
    }
}

int vhdx_file_read(struct vdsshim_image *img, struct vhdx *v, void *out, size_t len, uint64_t off,
                   const char *what, struct vdsshim_diag *diag)
{
    uint8_t *buf = out;
    uint64_t real;
    size_t n;
    int st;

    if (off > v->file_size || len > v->file_size - off)
        return diag_set(diag, VDSSHIM_E_CORRUPT, off, "%s: %zu bytes at %llu lie past the end of the file", what,
                        len, (unsigned long long)off);
    /* The replayed file may be longer than the real one: its tail reads as zeros. */
    if ((st = vdsshim_io_size(img->io, &real))) return diag_io(diag, img->io, st, off, what);
    n = off >= real ? 0 : (real - off < len ? (size_t)(real - off) : len);
    if (n && (st = vdsshim_io_read(img->io, buf, n, off))) return diag_io(diag, img->io, st, off, what);
    memset(buf + n, 0, len - n);
    if (v->log.nitems) overlay_apply(&v->log, buf, len, off);
    return VDSSHIM_OK;
}

int vhdx_log_replay_on_disk(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    static const uint8_t zeros[VHDX_LOG_SECTOR];
    uint64_t size;
    size_t i;
    int st;

    /* Grow the file first, sparsely: zeros past the old end are already
     * zeros and are not written (a zero descriptor may be large). */
    if ((st = vdsshim_io_size(img->io, &size))) return diag_io(diag, img->io, st, 0, "cannot get the file size");
    if (size < v->log.extend_to && (st = vdsshim_io_truncate(img->io, v->log.extend_to)))
        return diag_io(diag, img->io, st, v->log.extend_to, "cannot extend the file for log replay");
    for (i = 0; i < v->log.nitems; i++)
    {
        const struct vhdx_overlay_item *it = &v->log.items[i];
        uint64_t done, len = it->length;

        if (!it->data) len = it->offset >= size ? 0 : size - it->offset < len ? size - it->offset : len;
        for (done = 0; done < len; done += VHDX_LOG_SECTOR)
            if ((st = vdsshim_io_write(img->io, it->data ? it->data : zeros, VHDX_LOG_SECTOR, it->offset + done)))
                return diag_io(diag, img->io, st, it->offset + done, "cannot replay the log");
    }
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, 0, "cannot flush");
    vhdx_log_free(&v->log);
    return VDSSHIM_OK;
}

int vhdx_log_restart(struct vdsshim_image *img, struct vhdx *v, struct vdsshim_diag *diag)
{
    struct vhdx_guid g;
    int st;

    /* Entries under the old GUID stop being valid the moment the header lands. */
    if ((st = vdsshim_random_bytes(g.b, 16))) return diag_set(diag, st, 0, "no random source for a log GUID");
    if ((st = vhdx_update_headers(img, v, &g, diag))) return st;
    v->log_write_offset = 0;
    v->log_sequence = 1;
    return VDSSHIM_OK;
}

size_t vhdx_log_max_sectors(const struct vhdx *v)
{
    size_t total = v->header.log_length / VHDX_LOG_SECTOR, n = total;

    while (n && vhdx_log_entry_bytes(n) / VHDX_LOG_SECTOR > total) n--;
    return n;
}

int vhdx_log_commit(struct vdsshim_image *img, struct vhdx *v, const uint64_t *offsets,
                    uint8_t *const *sectors, size_t nsectors, uint64_t flushed_size,
                    uint64_t last_size, struct vdsshim_diag *diag)
{
    uint32_t ds = vhdx_log_desc_sectors((uint32_t)nsectors);
    size_t total = vhdx_log_entry_bytes(nsectors), i;
    struct vhdx_log_header h = { 0 };
    uint64_t at;
    uint8_t *entry;
    int st;

    if (nsectors > vhdx_log_max_sectors(v))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "log entry of %zu sectors does not fit the log", nsectors);
    /* Log space is reused only under a new LogGuid (§2.3): when the log is
     * clean, and when this entry would wrap over earlier ones. */
    if (vhdx_guid_is_zero(&v->header.log_guid) || v->log_write_offset + total > v->header.log_length)
        if ((st = vhdx_log_restart(img, v, diag))) return st;
    if (!(entry = calloc(1, total))) return diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");

    h.entry_length = (uint32_t)total;
    h.tail = (uint32_t)v->log_write_offset;     /* every earlier entry is applied: tail = self */
    h.sequence = v->log_sequence;
    h.desc_count = (uint32_t)nsectors;
    h.log_guid = v->header.log_guid;
    h.flushed_file_offset = flushed_size / MiB * MiB;
    h.last_file_offset = (last_size + MiB - 1) / MiB * MiB;
    for (i = 0; i < nsectors; i++)
    {
        struct vhdx_log_desc d = { 0 };

        vhdx_log_data_encode(sectors[i], v->log_sequence, &d, entry + ((size_t)ds + i) * VHDX_LOG_SECTOR);
        d.file_offset = offsets[i];
        d.sequence = v->log_sequence;
        vhdx_log_desc_encode(&d, entry + VHDX_LOG_ENTRY_HEADER_SIZE + i * VHDX_LOG_DESC_SIZE);
    }
    vhdx_log_header_encode(&h, entry);
    put_le32(entry + VHDX_LOGE_CHECKSUM, crc32c(entry, total));

    at = v->header.log_offset + v->log_write_offset;
    v->log_unapplied = 1;
    st = vdsshim_io_write(img->io, entry, total, at);
    free(entry);
    if (st) return diag_io(diag, img->io, st, at, "cannot write a log entry");
    if ((st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, at, "cannot flush the log");
    for (i = 0; i < nsectors; i++)
        if ((st = vdsshim_io_write(img->io, sectors[i], VHDX_LOG_SECTOR, offsets[i])))
            return diag_io(diag, img->io, st, offsets[i], "cannot apply a log entry");
    if (nsectors && (st = vdsshim_io_flush(img->io))) return diag_io(diag, img->io, st, 0, "cannot flush");
    v->log_unapplied = 0;
    v->log_write_offset += total;
    v->log_sequence++;
    return VDSSHIM_OK;
}
