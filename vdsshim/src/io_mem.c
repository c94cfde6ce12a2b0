/* In-memory file backend, for tests and fuzzing. */
#include <stdlib.h>
#include <string.h>

#include "vdsshim_io.h"

struct mem_io
{
    struct vdsshim_io io;
    uint8_t *data;
    size_t size;
    size_t capacity;
};

static struct mem_io *impl_from_io(struct vdsshim_io *io)
{
    return (struct mem_io *)io;
}

static int mem_reserve(struct mem_io *m, uint64_t size)
{
    size_t cap;
    uint8_t *p;

    if (size > SIZE_MAX / 2) return VDSSHIM_E_NOSPC;
    if (size <= m->capacity) return VDSSHIM_OK;
    cap = m->capacity ? m->capacity : 4096;
    while (cap < size) cap *= 2;
    if (!(p = realloc(m->data, cap))) return VDSSHIM_E_NOMEM;
    m->data = p;
    m->capacity = cap;
    return VDSSHIM_OK;
}

static int mem_read_at(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    struct mem_io *m = impl_from_io(io);

    if (off > m->size || len > m->size - off) return VDSSHIM_E_IO;
    memcpy(buf, m->data + off, len);
    return VDSSHIM_OK;
}

static int mem_write_at(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    struct mem_io *m = impl_from_io(io);
    int st;

    if (off > UINT64_MAX - len) return VDSSHIM_E_NOSPC;
    if ((st = mem_reserve(m, off + len))) return st;
    if (off > m->size) memset(m->data + m->size, 0, off - m->size);
    memcpy(m->data + off, buf, len);
    if (off + len > m->size) m->size = off + len;
    return VDSSHIM_OK;
}

static int mem_flush(struct vdsshim_io *io)
{
    (void)io;
    return VDSSHIM_OK;
}

static int mem_get_size(struct vdsshim_io *io, uint64_t *size)
{
    *size = impl_from_io(io)->size;
    return VDSSHIM_OK;
}

static int mem_set_size(struct vdsshim_io *io, uint64_t size)
{
    struct mem_io *m = impl_from_io(io);
    int st;

    if ((st = mem_reserve(m, size))) return st;
    if (size > m->size) memset(m->data + m->size, 0, size - m->size);
    m->size = size;
    return VDSSHIM_OK;
}

static int mem_lock(struct vdsshim_io *io, int exclusive)
{
    (void)io;
    (void)exclusive;
    return VDSSHIM_OK;
}

static void mem_close(struct vdsshim_io *io)
{
    struct mem_io *m = impl_from_io(io);

    free(m->data);
    free(m);
}

static const struct vdsshim_io_ops mem_io_ops =
{
    mem_read_at,
    mem_write_at,
    mem_flush,
    mem_get_size,
    mem_set_size,
    mem_lock,
    mem_close,
    /* No holes, no extents: the engine reads and writes. */
    NULL, NULL, NULL, NULL, NULL,
};

int vdsshim_io_open_mem(const void *data, size_t size, struct vdsshim_io **out)
{
    struct mem_io *m;

    *out = NULL;
    if (!(m = calloc(1, sizeof(*m)))) return VDSSHIM_E_NOMEM;
    m->io.ops = &mem_io_ops;
    if (size && mem_reserve(m, size))
    {
        free(m);
        return VDSSHIM_E_NOMEM;
    }
    if (size) memcpy(m->data, data, size);
    m->size = size;
    *out = &m->io;
    return VDSSHIM_OK;
}

const uint8_t *vdsshim_io_mem_data(struct vdsshim_io *io, size_t *size)
{
    struct mem_io *m = impl_from_io(io);

    *size = m->size;
    return m->data;
}
