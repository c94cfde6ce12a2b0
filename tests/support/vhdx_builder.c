/* Spec-driven VHDX image builder for tests (see vhdx_builder.h). Layout:
 * header section, log at 1 MiB, metadata at 2 MiB, BAT at 3 MiB, blocks after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx_builder.h"

#define MB (1ull << 20)

static void le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { le16(p, (uint16_t)v); le16(p + 2, (uint16_t)(v >> 16)); }
static void le64(uint8_t *p, uint64_t v) { le32(p, (uint32_t)v); le32(p + 4, (uint32_t)(v >> 32)); }

static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
    /* Bitwise reference implementation: independent of the engine's table code. */
    uint32_t crc = ~0u;
    size_t i;
    int k;

    for (i = 0; i < n; i++)
    {
        crc ^= p[i];
        for (k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void grow(struct vhdx_builder *b, size_t size)
{
    if (size > b->capacity)
    {
        size_t cap = b->capacity ? b->capacity : 8 * MB;
        while (cap < size) cap *= 2;
        b->data = realloc(b->data, cap);
        memset(b->data + b->capacity, 0, cap - b->capacity);
        b->capacity = cap;
    }
    if (size > b->size) b->size = size;
}

void xb_guid_text(const uint8_t g[16], char out[39])
{
    sprintf(out, "{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static size_t put_utf16(uint8_t *p, const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) le16(p + 2 * i, (uint8_t)s[i]);
    return 2 * i;
}

static void build_locator(struct vhdx_builder *b, const char *linkage, const char *path)
{
    static const uint8_t type[16] = { 0xb7, 0xef, 0x4a, 0xb0, 0x9e, 0xd1, 0x81, 0x4a, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13 };
    const char *keys[2] = { "parent_linkage", "relative_path" }, *vals[2] = { linkage, path };
    uint8_t *l = calloc(1, 4096);
    size_t pos = 20 + 2 * 12;
    int i;

    memcpy(l, type, 16);
    le16(l + 18, 2);
    for (i = 0; i < 2; i++)
    {
        size_t kl, vl;
        kl = put_utf16(l + pos, keys[i]);
        le32(l + 20 + 12 * i, (uint32_t)pos);
        le16(l + 20 + 12 * i + 8, (uint16_t)kl);
        pos += kl;
        vl = put_utf16(l + pos, vals[i]);
        le32(l + 20 + 12 * i + 4, (uint32_t)pos);
        le16(l + 20 + 12 * i + 10, (uint16_t)vl);
        pos += vl;
    }
    b->locator = l;
    b->locator_len = pos;
}

void xb_init(struct vhdx_builder *b, uint64_t virtual_size, uint32_t block_size, uint32_t lss,
             const uint8_t data_write_guid[16], const char *parent_linkage, const char *parent_path)
{
    memset(b, 0, sizeof(*b));
    b->virtual_size = virtual_size;
    b->block_size = block_size;
    b->lss = lss;
    b->has_parent = parent_linkage != NULL;
    memcpy(b->data_write_guid, data_write_guid, 16);
    b->chunk_ratio = ((1ull << 23) * lss) / block_size;
    b->payload_blocks = (virtual_size + block_size - 1) / block_size;
    b->sb_blocks = (b->payload_blocks + b->chunk_ratio - 1) / b->chunk_ratio;
    b->bat_entries = b->has_parent ? b->sb_blocks * (b->chunk_ratio + 1)
                                   : b->payload_blocks + (b->payload_blocks - 1) / b->chunk_ratio;
    b->bat_offset = 3 * MB;
    b->bat_length = (b->bat_entries * 8 + MB - 1) / MB * MB;
    grow(b, b->bat_offset + b->bat_length);
    if (b->has_parent) build_locator(b, parent_linkage, parent_path);
}

static uint64_t payload_index(const struct vhdx_builder *b, uint64_t block)
{
    return block + block / b->chunk_ratio;
}

static void set_entry(struct vhdx_builder *b, uint64_t index, uint64_t value)
{
    le64(b->data + b->bat_offset + 8 * index, value);
}

static uint64_t get_entry(const struct vhdx_builder *b, uint64_t index)
{
    const uint8_t *p = b->data + b->bat_offset + 8 * index;
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void xb_add_block(struct vhdx_builder *b, uint64_t block, unsigned state, const uint8_t *data,
                  const uint8_t *bitmap)
{
    uint64_t at = (b->size + MB - 1) / MB * MB;

    grow(b, at + b->block_size);
    if (data) memcpy(b->data + at, data, b->block_size);
    set_entry(b, payload_index(b, block), at | state);
    if (bitmap)
    {
        uint64_t chunk = block / b->chunk_ratio, sbi = chunk * (b->chunk_ratio + 1) + b->chunk_ratio;
        uint64_t sb = get_entry(b, sbi) & ~0xfffffull, bytes = b->block_size / b->lss / 8;
        if (!sb)
        {
            sb = (b->size + MB - 1) / MB * MB;
            grow(b, sb + MB);
            set_entry(b, sbi, sb | 6);
        }
        memcpy(b->data + sb + (block % b->chunk_ratio) * bytes, bitmap, (size_t)bytes);
    }
}

void xb_set_state(struct vhdx_builder *b, uint64_t block, unsigned state)
{
    set_entry(b, payload_index(b, block), state);
}

void xb_add_gap(struct vhdx_builder *b, uint64_t bytes)
{
    grow(b, (b->size + MB - 1) / MB * MB + bytes);
}

static void meta_entry(uint8_t *t, int i, const uint8_t id[16], uint32_t off, uint32_t len, uint32_t flags)
{
    uint8_t *e = t + 32 + 32 * i;

    memcpy(e, id, 16);
    le32(e + 16, off);
    le32(e + 20, len);
    le32(e + 24, flags);
}

void xb_finish(struct vhdx_builder *b, size_t *size)
{
    static const uint8_t id_fp[16] = { 0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
    static const uint8_t id_vs[16] = { 0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
    static const uint8_t id_83[16] = { 0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45, 0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
    static const uint8_t id_ls[16] = { 0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47, 0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
    static const uint8_t id_ps[16] = { 0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44, 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
    static const uint8_t id_pl[16] = { 0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
    static const uint8_t rg_bat[16] = { 0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
    static const uint8_t rg_meta[16] = { 0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
    uint8_t *d = b->data, *m = d + 2 * MB, *h;
    int i, n = 5;

    b->size = (b->size + MB - 1) / MB * MB;
    grow(b, b->size);
    d = b->data;
    m = d + 2 * MB;
    memcpy(d, "vhdxfile", 8);
    put_utf16(d + 8, "vdsshim test builder");
    for (i = 0; i < 2; i++)
    {
        h = d + (i + 1) * 64 * 1024;
        memset(h, 0, 4096);
        memcpy(h, "head", 4);
        le64(h + 8, 10 + (uint64_t)i);              /* header 2 is current */
        memset(h + 16, 0x11 + i, 16);               /* FileWriteGuid */
        memcpy(h + 32, b->data_write_guid, 16);
        le16(h + 66, 1);
        le32(h + 68, (uint32_t)MB);
        le64(h + 72, MB);
        le32(h + 4, crc32c_ref(h, 4096));
    }
    for (i = 0; i < 2; i++)
    {
        uint8_t *r = d + (3 + i) * 64 * 1024;
        memset(r, 0, 64 * 1024);
        memcpy(r, "regi", 4);
        le32(r + 8, 2);
        memcpy(r + 16, rg_bat, 16);
        le64(r + 32, b->bat_offset);
        le32(r + 40, (uint32_t)b->bat_length);
        le32(r + 44, 1);
        memcpy(r + 48, rg_meta, 16);
        le64(r + 64, 2 * MB);
        le32(r + 72, (uint32_t)MB);
        le32(r + 76, 1);
        le32(r + 4, crc32c_ref(r, 64 * 1024));
    }
    memcpy(m, "metadata", 8);
    meta_entry(m, 0, id_fp, 65536, 8, 4);
    meta_entry(m, 1, id_vs, 65536 + 8, 8, 6);
    meta_entry(m, 2, id_83, 65536 + 16, 16, 6);
    meta_entry(m, 3, id_ls, 65536 + 32, 4, 6);
    meta_entry(m, 4, id_ps, 65536 + 36, 4, 6);
    le32(m + 65536, b->block_size);
    le32(m + 65536 + 4, b->has_parent ? 2 : 0);
    le64(m + 65536 + 8, b->virtual_size);
    memset(m + 65536 + 16, 0x83, 16);
    le32(m + 65536 + 32, b->lss);
    le32(m + 65536 + 36, 4096);
    if (b->locator)
    {
        meta_entry(m, n++, id_pl, 65536 + 64, (uint32_t)b->locator_len, 6);
        memcpy(m + 65536 + 64, b->locator, b->locator_len);
    }
    le16(m + 10, (uint16_t)n);
    *size = b->size;
}

void xb_free(struct vhdx_builder *b)
{
    free(b->data);
    free(b->locator);
    memset(b, 0, sizeof(*b));
}
