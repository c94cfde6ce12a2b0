/*
 * File data by extents (file_ranges.h): reads that skip the host file's holes,
 * and block moves that copy only the source's data, through the kernel
 * where the backend can (a reflink shares the extents, copy_file_range
 * copies without user space), and leave holes where the source has them.
 *
 * A hole reads as zeros, so skipping it changes no byte anyone reads; where
 * the backend cannot say (no next_data), all of a range counts as data.
 */
#include <string.h>

#include "diag.h"
#include "file_ranges.h"

/* The next data extent [*d, *h) at or after pos, clipped to end. */
static int data_extent(struct vdsshim_io *io, uint64_t pos, uint64_t end, uint64_t *d, uint64_t *h)
{
    int st = vdsshim_io_next_data(io, pos, d, h);

    if (st == VDSSHIM_E_UNSUPPORTED)
    {
        *d = pos;
        *h = end;
        return VDSSHIM_OK;
    }
    if (st) return st;
    if (*d < pos) *d = pos;     /* defensive: never before what was asked */
    if (*d > end) *d = end;
    if (*h > end || *h < *d) *h = end;
    return VDSSHIM_OK;
}

int file_read_data(struct vdsshim_io *io, void *buf, size_t len, uint64_t off, uint64_t *bytes_read)
{
    uint8_t *out = buf;
    uint64_t pos = off, end = off + len;
    int st;

    while (pos < end)
    {
        uint64_t d, h;

        if ((st = data_extent(io, pos, end, &d, &h))) return st;
        memset(out + (pos - off), 0, (size_t)(d - pos));
        if (d == end) break;
        if ((st = vdsshim_io_read(io, out + (d - off), (size_t)(h - d), d))) return st;
        *bytes_read += h - d;
        pos = h;
    }
    return VDSSHIM_OK;
}

/* Zeros into [to, to + len): a hole where the backend punches, else written. */
static int zero_range(struct vdsshim_io *io, uint64_t to, uint64_t len, uint8_t *buf, size_t buflen,
                      struct move_stats *s, uint64_t *fail_at)
{
    uint64_t done;
    int st;

    if (!s->no_punch)
    {
        if (!(st = vdsshim_io_punch(io, to, len)))
        {
            s->bytes_punched += len;
            return VDSSHIM_OK;
        }
        if (st != VDSSHIM_E_UNSUPPORTED)
        {
            *fail_at = to;
            return st;
        }
        s->no_punch = 1;
    }
    memset(buf, 0, buflen);
    for (done = 0; done < len; done += buflen)
    {
        size_t n = len - done < buflen ? (size_t)(len - done) : buflen;
        if ((st = vdsshim_io_write(io, buf, n, to + done)))
        {
            *fail_at = to + done;
            return st;
        }
        s->bytes_written += n;
    }
    return VDSSHIM_OK;
}

/* The data [from, from + len) to the same place under to. */
static int copy_data(struct vdsshim_io *io, uint64_t from, uint64_t to, uint64_t len, uint8_t *buf, size_t buflen,
                     struct move_stats *s, uint64_t *fail_at)
{
    uint64_t done;
    int st, how = 0;

    if (!s->no_copy_range)
    {
        if (!(st = vdsshim_io_copy_range(io, from, to, len, &how)))
        {
            if (how == VDSSHIM_COPY_CLONED) s->bytes_cloned += len;
            else s->bytes_copied += len;
            return VDSSHIM_OK;
        }
        if (st != VDSSHIM_E_UNSUPPORTED)
        {
            *fail_at = to;
            return st;
        }
        s->no_copy_range = 1;
    }
    for (done = 0; done < len; done += buflen)
    {
        size_t n = len - done < buflen ? (size_t)(len - done) : buflen;
        if ((st = vdsshim_io_read(io, buf, n, from + done)))
        {
            *fail_at = from + done;
            return st;
        }
        s->bytes_read += n;
        if ((st = vdsshim_io_write(io, buf, n, to + done)))
        {
            *fail_at = to + done;
            return st;
        }
        s->bytes_written += n;
    }
    return VDSSHIM_OK;
}

int file_move_range(struct vdsshim_io *io, uint64_t from, uint64_t to, uint64_t len, uint8_t *buf, size_t buflen,
                    struct move_stats *s, uint64_t *fail_at)
{
    uint64_t pos = from, end = from + len;
    int st;

    while (pos < end)
    {
        uint64_t d, h;

        if ((st = data_extent(io, pos, end, &d, &h)))
        {
            *fail_at = pos;
            return st;
        }
        if (d > pos && (st = zero_range(io, to + (pos - from), d - pos, buf, buflen, s, fail_at))) return st;
        if (d == end) break;
        if ((st = copy_data(io, d, to + (d - from), h - d, buf, buflen, s, fail_at))) return st;
        pos = h;
    }
    return VDSSHIM_OK;
}

int file_write_marked(struct vdsshim_io *io, uint64_t base, const uint8_t *buf, size_t n, const uint8_t *units,
                      struct vdsshim_diag *diag)
{
    const size_t unit = 512;
    size_t i = 0;
    int st;

    while (i < n)
    {
        size_t j = i;

        if (!units[i]) { i++; continue; }
        while (j < n && units[j]) j++;
        if ((st = vdsshim_io_write(io, buf + i * unit, (j - i) * unit, base + i * unit)))
            return diag_io(diag, io, st, base + i * unit, "cannot write disk data");
        i = j;
    }
    return VDSSHIM_OK;
}
