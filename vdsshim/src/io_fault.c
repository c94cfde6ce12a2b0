/*
 * Fault-injecting I/O wrapper (see vdsshim_io_fault.h).
 *
 * Writes go straight to the inner io, but until the next flush each one is
 * remembered with the bytes it replaced (undo) and the bytes it wrote (redo).
 * A power cut rolls every pending operation back in reverse order, then
 * replays in order the parts that "reached the disk" under the cut mode.
 * Truncates are pending too (they are metadata, durable only after a flush);
 * they are replayed whole or not at all.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vdsshim_io_fault.h"

#define FAULT_SECTOR 512u

struct pending_op
{
    int is_truncate;
    uint64_t off;           /* write: offset; truncate: new size */
    size_t len;             /* write: length */
    uint64_t old_size;      /* file size before the operation */
    uint8_t *undo;          /* write: bytes replaced (up to old_size); truncate: bytes cut off */
    size_t undo_len;
    uint8_t *redo;          /* write: bytes written */
};

struct fault_io
{
    struct vdsshim_io io;
    struct vdsshim_io *inner;
    struct vdsshim_fault_plan plan;
    struct vdsshim_fault_counters count;
    struct pending_op *pending;
    size_t npending, cap;
    uint32_t rng;
    int dead;
};

static struct fault_io *impl_from_io(struct vdsshim_io *io)
{
    return (struct fault_io *)io;
}

static uint32_t next_random(struct fault_io *f)
{
    /* xorshift32: deterministic per seed, good enough to choose fates */
    uint32_t x = f->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return f->rng = x;
}

static void free_pending(struct fault_io *f)
{
    size_t i;

    for (i = 0; i < f->npending; i++)
    {
        free(f->pending[i].undo);
        free(f->pending[i].redo);
    }
    f->npending = 0;
}

static int push_pending(struct fault_io *f, struct pending_op *op)
{
    if (f->npending == f->cap)
    {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct pending_op *p = realloc(f->pending, cap * sizeof(*p));
        if (!p) return VDSSHIM_E_NOMEM;
        f->pending = p;
        f->cap = cap;
    }
    f->pending[f->npending++] = *op;
    return VDSSHIM_OK;
}

/* Put back what one pending operation changed. */
static void undo_op(struct fault_io *f, const struct pending_op *op)
{
    if (op->undo_len)
        f->inner->ops->write_at(f->inner, op->undo, op->undo_len, op->off);
    f->inner->ops->set_size(f->inner, op->old_size);
}

static void redo_write_part(struct fault_io *f, const struct pending_op *op, size_t from, size_t len)
{
    f->inner->ops->write_at(f->inner, op->redo + from, len, op->off + from);
}

/* Whether pending operation i (of n) reached the medium: 0 lost, 1 whole, 2 torn. */
static unsigned fate_of(struct fault_io *f, size_t i, size_t n)
{
    switch (f->plan.cut_mode)
    {
    case VDSSHIM_CUT_DROP: return 0;
    case VDSSHIM_CUT_APPLY: return 1;
    case VDSSHIM_CUT_SUBSET: return i < 64 ? (unsigned)((f->plan.subset_mask >> i) & 1) : next_random(f) & 1;
    case VDSSHIM_CUT_SUFFIX: return i >= f->plan.split;
    case VDSSHIM_CUT_KEEP_NEWEST: return i + 1 == n;
    default: return next_random(f) % 3;
    }
}

/* The machine stops: decide what of the unflushed work reached the disk.
 * Everything is rolled back, then what persisted is replayed in issue
 * order, so a kept write over a lost one leaves the kept bytes. */
static void cut_power(struct fault_io *f)
{
    size_t i;

    f->count.pending_at_cut = f->npending;
    for (i = f->npending; i-- > 0;)
        undo_op(f, &f->pending[i]);

    for (i = 0; i < f->npending; i++)
    {
        const struct pending_op *op = &f->pending[i];
        unsigned fate = fate_of(f, i, f->npending);

        if (op->is_truncate)
        {
            if (fate != 0) f->inner->ops->set_size(f->inner, op->off);
            continue;
        }
        if (fate == 1)
            redo_write_part(f, op, 0, op->len);
        else if (fate == 2)
        {
            /* Torn: each 512-byte sector of the disk the write covers lands or not. */
            uint64_t pos = op->off;
            while (pos < op->off + op->len)
            {
                uint64_t end = (pos / FAULT_SECTOR + 1) * FAULT_SECTOR;
                if (end > op->off + op->len) end = op->off + op->len;
                if (next_random(f) & 1) redo_write_part(f, op, (size_t)(pos - op->off), (size_t)(end - pos));
                pos = end;
            }
        }
    }
    free_pending(f);
    f->dead = 1;
}

static int fault_read_at(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    f->count.reads++;
    f->count.bytes_read += len;
    return f->inner->ops->read_at(f->inner, buf, len, off);
}

static int fault_write_at(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    struct fault_io *f = impl_from_io(io);
    struct pending_op op = { 0 };
    uint64_t index;
    int st;

    if (f->dead) return VDSSHIM_E_IO;
    index = ++f->count.writes;
    if (f->plan.fail_write == index)
    {
        io->last_error = f->plan.fail_status == VDSSHIM_E_NOSPC ? 28 : 5;
        return f->plan.fail_status;
    }
    f->count.bytes_written += len;

    if ((st = f->inner->ops->get_size(f->inner, &op.old_size))) return st;
    op.off = off;
    op.len = len;
    if (off < op.old_size)
    {
        op.undo_len = (size_t)(op.old_size - off < len ? op.old_size - off : len);
        if (!(op.undo = malloc(op.undo_len))) return VDSSHIM_E_NOMEM;
        if ((st = f->inner->ops->read_at(f->inner, op.undo, op.undo_len, off)))
        {
            free(op.undo);
            return st;
        }
    }
    if (!(op.redo = malloc(len ? len : 1)) || push_pending(f, &op))
    {
        free(op.undo);
        free(op.redo);
        return VDSSHIM_E_NOMEM;
    }
    memcpy(op.redo, buf, len);

    st = f->inner->ops->write_at(f->inner, buf, len, off);
    if (!st && f->plan.cut_after_write == index)
    {
        cut_power(f);
        /* The write itself completed; the caller learns of the cut at its next call. */
    }
    return st;
}

static int fault_flush(struct vdsshim_io *io)
{
    struct fault_io *f = impl_from_io(io);
    int st;

    if (f->dead) return VDSSHIM_E_IO;
    if (f->plan.fail_flush == ++f->count.flushes)
    {
        io->last_error = 5;
        return f->plan.fail_status;
    }
    if ((st = f->inner->ops->flush(f->inner))) return st;
    free_pending(f);
    return VDSSHIM_OK;
}

static int fault_get_size(struct vdsshim_io *io, uint64_t *size)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    return f->inner->ops->get_size(f->inner, size);
}

static int fault_set_size(struct vdsshim_io *io, uint64_t size)
{
    struct fault_io *f = impl_from_io(io);
    struct pending_op op = { 0 };
    int st;

    if (f->dead) return VDSSHIM_E_IO;
    if (f->plan.fail_truncate == ++f->count.truncates)
    {
        io->last_error = 5;
        return f->plan.fail_status;
    }
    if ((st = f->inner->ops->get_size(f->inner, &op.old_size))) return st;
    op.is_truncate = 1;
    op.off = size;
    if (size < op.old_size)
    {
        op.undo_len = (size_t)(op.old_size - size);
        if (!(op.undo = malloc(op.undo_len))) return VDSSHIM_E_NOMEM;
        if ((st = f->inner->ops->read_at(f->inner, op.undo, op.undo_len, size)))
        {
            free(op.undo);
            return st;
        }
    }
    if (push_pending(f, &op))
    {
        free(op.undo);
        return VDSSHIM_E_NOMEM;
    }
    st = f->inner->ops->set_size(f->inner, size);
    if (!st && f->plan.cut_after_truncate == f->count.truncates) cut_power(f);
    return st;
}

static int fault_lock(struct vdsshim_io *io, int exclusive)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    return f->inner->ops->lock(f->inner, exclusive);
}

static void fault_close(struct vdsshim_io *io)
{
    struct fault_io *f = impl_from_io(io);
    struct vdsshim_io **keep = f->plan.inner_on_close;

    if (f->plan.cut_at_close && !f->dead) cut_power(f);
    if (f->plan.counters_on_close) *f->plan.counters_on_close = f->count;
    if (keep) *keep = vdsshim_io_fault_unwrap(io);
    else vdsshim_io_close(vdsshim_io_fault_unwrap(io));
}

/* A copy within the file is, to the medium, a write of the source's bytes:
 * pending until a flush, lost, kept or torn at a cut like any other. */
static int fault_copy_range(struct vdsshim_io *io, uint64_t src, uint64_t dst, uint64_t len, int *how)
{
    struct fault_io *f = impl_from_io(io);
    uint8_t *buf;
    int st;

    if (f->dead) return VDSSHIM_E_IO;
    if (f->plan.refuse_ranges) return VDSSHIM_E_UNSUPPORTED;
    if (len > SIZE_MAX || !(buf = malloc(len ? (size_t)len : 1))) return VDSSHIM_E_NOMEM;
    f->count.copies++;
    if (!(st = f->inner->ops->read_at(f->inner, buf, (size_t)len, src))) st = fault_write_at(io, buf, (size_t)len, dst);
    free(buf);
    if (!st) *how = VDSSHIM_COPY_COPIED;
    return st;
}

/* A punched hole reads as zeros: a write of zeros, to the crash model. */
static int fault_punch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    struct fault_io *f = impl_from_io(io);
    uint8_t *zeros;
    int st;

    if (f->dead) return VDSSHIM_E_IO;
    if (f->plan.refuse_ranges) return VDSSHIM_E_UNSUPPORTED;
    if (len > SIZE_MAX || !(zeros = calloc(1, len ? (size_t)len : 1))) return VDSSHIM_E_NOMEM;
    f->count.punches++;
    st = fault_write_at(io, zeros, (size_t)len, off);
    free(zeros);
    return st;
}

static int fault_next_data(struct vdsshim_io *io, uint64_t off, uint64_t *data, uint64_t *hole)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    return vdsshim_io_next_data(f->inner, off, data, hole);
}

static int fault_allocated(struct vdsshim_io *io, uint64_t *bytes)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    return vdsshim_io_allocated(f->inner, bytes);
}

static int fault_prefetch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    struct fault_io *f = impl_from_io(io);

    if (f->dead) return VDSSHIM_E_IO;
    return vdsshim_io_prefetch(f->inner, off, len);
}

static const struct vdsshim_io_ops fault_io_ops =
{
    fault_read_at,
    fault_write_at,
    fault_flush,
    fault_get_size,
    fault_set_size,
    fault_lock,
    fault_close,
    fault_copy_range,
    fault_punch,
    fault_next_data,
    fault_allocated,
    fault_prefetch,
};

int vdsshim_io_fault_wrap(struct vdsshim_io *inner, const struct vdsshim_fault_plan *plan,
                          struct vdsshim_io **out)
{
    struct fault_io *f;

    *out = NULL;
    if (!(f = calloc(1, sizeof(*f)))) return VDSSHIM_E_NOMEM;
    f->io.ops = &fault_io_ops;
    f->inner = inner;
    if (plan) f->plan = *plan;
    if (!f->plan.fail_status) f->plan.fail_status = VDSSHIM_E_IO;
    f->rng = f->plan.seed * 2654435761u + 0x9e3779b9u;
    if (!f->rng) f->rng = 1;
    *out = &f->io;
    return VDSSHIM_OK;
}

void vdsshim_io_fault_counters(struct vdsshim_io *io, struct vdsshim_fault_counters *c)
{
    *c = impl_from_io(io)->count;
}

int vdsshim_io_fault_power_lost(struct vdsshim_io *io)
{
    return impl_from_io(io)->dead;
}

struct vdsshim_io *vdsshim_io_fault_unwrap(struct vdsshim_io *io)
{
    struct fault_io *f = impl_from_io(io);
    struct vdsshim_io *inner = f->inner;

    free_pending(f);
    free(f->pending);
    free(f);
    return inner;
}
