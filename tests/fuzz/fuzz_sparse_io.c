/*
 * A sparse in-memory file for the image targets: 4 KiB pages in a hash
 * table, absent pages read as zeros. A fuzzed 16 MiB image costs only the
 * pages its records and the engine's writes touch, which keeps the targets
 * at thousands of executions per second instead of dozens.
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fuzz.h"

#define PAGE 4096u

struct page
{
    uint64_t index;             /* file offset / PAGE; UINT64_MAX = empty slot */
    uint8_t *data;
};

struct sparse_io
{
    struct vdsshim_io io;
    uint64_t size;
    struct page *slots;
    size_t nslots, used;        /* nslots is a power of two */
};

static size_t slot_of(const struct sparse_io *s, uint64_t index)
{
    size_t i = (size_t)((index * 0x9e3779b97f4a7c15ull) >> 20) & (s->nslots - 1);

    while (s->slots[i].index != UINT64_MAX && s->slots[i].index != index) i = (i + 1) & (s->nslots - 1);
    return i;
}

static uint8_t *page_get(struct sparse_io *s, uint64_t index, int create)
{
    size_t i = slot_of(s, index);

    if (s->slots[i].index == index) return s->slots[i].data;
    if (!create) return NULL;
    if (2 * (s->used + 1) > s->nslots)
    {
        struct page *old = s->slots;
        size_t j, n = s->nslots;

        s->nslots *= 2;
        if (!(s->slots = malloc(s->nslots * sizeof(*s->slots)))) abort();
        for (j = 0; j < s->nslots; j++) s->slots[j].index = UINT64_MAX;
        for (j = 0; j < n; j++)
            if (old[j].index != UINT64_MAX) s->slots[slot_of(s, old[j].index)] = old[j];
        free(old);
        i = slot_of(s, index);
    }
    s->slots[i].index = index;
    if (!(s->slots[i].data = calloc(1, PAGE))) abort();
    s->used++;
    return s->slots[i].data;
}

static int sparse_read(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    struct sparse_io *s = (struct sparse_io *)io;
    uint8_t *out = buf;

    if (off > s->size || len > s->size - off) return VDSSHIM_E_IO;
    while (len)
    {
        size_t in = (size_t)(off % PAGE), n = PAGE - in < len ? PAGE - in : len;
        const uint8_t *p = page_get(s, off / PAGE, 0);

        if (p) memcpy(out, p + in, n);
        else memset(out, 0, n);
        out += n;
        off += n;
        len -= n;
    }
    return VDSSHIM_OK;
}

static int sparse_write(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    struct sparse_io *s = (struct sparse_io *)io;
    const uint8_t *in_buf = buf;

    if (off + len > FUZZ_MAX_FILE * 4ull) return VDSSHIM_E_NOSPC;   /* a runaway writer, not a bigger disk */
    if (off + len > s->size) s->size = off + len;
    while (len)
    {
        size_t in = (size_t)(off % PAGE), n = PAGE - in < len ? PAGE - in : len;

        memcpy(page_get(s, off / PAGE, 1) + in, in_buf, n);
        in_buf += n;
        off += n;
        len -= n;
    }
    return VDSSHIM_OK;
}

static int sparse_flush(struct vdsshim_io *io) { (void)io; return VDSSHIM_OK; }

static int sparse_get_size(struct vdsshim_io *io, uint64_t *size)
{
    *size = ((struct sparse_io *)io)->size;
    return VDSSHIM_OK;
}

static int sparse_set_size(struct vdsshim_io *io, uint64_t size)
{
    struct sparse_io *s = (struct sparse_io *)io;
    size_t i;

    if (size > FUZZ_MAX_FILE * 4ull) return VDSSHIM_E_NOSPC;
    /* Whole pages past the end go; the tail of the last page is zeroed, so
     * growing again reads zeros as a real file would. */
    for (i = 0; i < s->nslots; i++)
    {
        struct page *p = &s->slots[i];

        if (p->index == UINT64_MAX) continue;
        if (p->index * PAGE >= size) memset(p->data, 0, PAGE);
        else if ((p->index + 1) * PAGE > size) memset(p->data + (size - p->index * PAGE), 0, PAGE - (size % PAGE));
    }
    s->size = size;
    return VDSSHIM_OK;
}

static int sparse_lock(struct vdsshim_io *io, int exclusive) { (void)io; (void)exclusive; return VDSSHIM_OK; }

static void sparse_close(struct vdsshim_io *io)
{
    struct sparse_io *s = (struct sparse_io *)io;
    size_t i;

    for (i = 0; i < s->nslots; i++)
        if (s->slots[i].index != UINT64_MAX) free(s->slots[i].data);
    free(s->slots);
    free(s);
}

static const struct vdsshim_io_ops sparse_ops = {
    sparse_read, sparse_write, sparse_flush, sparse_get_size, sparse_set_size, sparse_lock, sparse_close,
    NULL, NULL, NULL, NULL, NULL,
};

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* A VHD structure's checksum (offset field): the one's complement of its byte sum. */
static void repair_vhd(struct sparse_io *s, uint64_t off, size_t len, size_t field)
{
    uint8_t b[1024];
    uint32_t sum = 0;
    size_t i;

    if (off + len > s->size || sparse_read(&s->io, b, len, off)) return;
    if (memcmp(b, len == 512 ? "conectix" : "cxsparse", 8)) return;
    memset(b + field, 0, 4);
    for (i = 0; i < len; i++) sum += b[i];
    sum = ~sum;
    b[field] = (uint8_t)(sum >> 24), b[field + 1] = (uint8_t)(sum >> 16), b[field + 2] = (uint8_t)(sum >> 8);
    b[field + 3] = (uint8_t)sum;
    sparse_write(&s->io, b, len, off);
}

/* A VHDX header or region table: CRC-32C over len bytes, field at offset 4. */
static void repair_vhdx(struct sparse_io *s, uint64_t off, size_t len, const char *sig)
{
    static uint8_t b[64 * 1024];
    uint32_t crc;

    if (off + len > s->size || sparse_read(&s->io, b, len, off) || memcmp(b, sig, 4)) return;
    crc = crc32c_with_zero_field(b, len, 4);
    b[4] = (uint8_t)crc, b[5] = (uint8_t)(crc >> 8), b[6] = (uint8_t)(crc >> 16), b[7] = (uint8_t)(crc >> 24);
    sparse_write(&s->io, b, len, off);
}

static void repair_checksums(struct sparse_io *s)
{
    uint8_t footer[512];

    repair_vhdx(s, 64 * 1024, 4096, "head");
    repair_vhdx(s, 128 * 1024, 4096, "head");
    repair_vhdx(s, 192 * 1024, 64 * 1024, "regi");
    repair_vhdx(s, 256 * 1024, 64 * 1024, "regi");
    if (s->size < 512) return;
    repair_vhd(s, s->size - 512, 512, 64);
    repair_vhd(s, 0, 512, 64);
    /* The dynamic header, where the footer says. */
    if (!sparse_read(&s->io, footer, 512, s->size - 512) && !memcmp(footer, "conectix", 8) && !be32(footer + 16))
        repair_vhd(s, be32(footer + 20), 1024, 36);
}

struct vdsshim_io *fuzz_sparse_image(const uint8_t *data, size_t size)
{
    struct sparse_io *s;
    size_t pos = 4, i;
    uint64_t n;

    if (size < 4 || (n = le32(data) & ~FUZZ_REPAIR_CHECKSUMS) > FUZZ_MAX_FILE) return NULL;
    if (!(s = calloc(1, sizeof(*s)))) abort();
    s->io.ops = &sparse_ops;
    s->nslots = 64;
    if (!(s->slots = malloc(s->nslots * sizeof(*s->slots)))) abort();
    for (i = 0; i < s->nslots; i++) s->slots[i].index = UINT64_MAX;
    s->size = n;
    while (pos + 6 <= size)
    {
        uint32_t off = le32(data + pos);
        size_t len = data[pos + 4] | data[pos + 5] << 8;

        pos += 6;
        if (len > size - pos) len = size - pos;
        if (off < n) sparse_write(&s->io, data + pos, len < n - off ? len : (size_t)(n - off), off);
        pos += len;
    }
    if (le32(data) & FUZZ_REPAIR_CHECKSUMS) repair_checksums(s);
    return &s->io;
}

uint64_t fuzz_sparse_digest(struct vdsshim_io *io)
{
    struct sparse_io *s = (struct sparse_io *)io;
    uint64_t h = s->size * 0x100000001b3ull;
    size_t i, j;

    /* Order-independent over pages, so the hash layout does not matter. */
    for (i = 0; i < s->nslots; i++)
    {
        uint64_t ph = 0xcbf29ce484222325ull ^ s->slots[i].index;

        if (s->slots[i].index == UINT64_MAX || s->slots[i].index * PAGE >= s->size) continue;
        if (!memcmp(s->slots[i].data, s->slots[i].data + 1, PAGE - 1) && !s->slots[i].data[0]) continue;
        for (j = 0; j < PAGE; j++) ph = (ph ^ s->slots[i].data[j]) * 0x100000001b3ull;
        h += ph;
    }
    return h;
}
