/* Spec-driven VHD image builder for tests (see vhd_builder.h). */
#include <stdlib.h>
#include <string.h>

#include "vhd_builder.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint32_t checksum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i < len; i++) s += p[i];
    return ~s;
}

static void grow(struct vhd_builder *b, size_t size)
{
    if (size + 512 > b->capacity)
    {
        size_t cap = b->capacity ? b->capacity : 65536;
        while (cap < size + 512) cap *= 2;
        b->data = realloc(b->data, cap);
        memset(b->data + b->capacity, 0, cap - b->capacity);
        b->capacity = cap;
    }
    if (size > b->size) b->size = size;
}

void fill_random(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    size_t i;

    for (i = 0; i < len; i++)
    {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x >> 11);
    }
}

static void write_footer(struct vhd_builder *b, uint8_t *f, const uint8_t uid[16])
{
    memset(f, 0, 512);
    memcpy(f, "conectix", 8);
    put_be32(f + 8, 2);
    put_be32(f + 12, 0x00010000);
    put_be64(f + 16, 512);
    put_be32(f + 24, 0x2a2a2a2a);
    memcpy(f + 28, "vdst", 4);
    put_be32(f + 32, 0x00010000);
    put_be32(f + 36, 0x5769326b);
    put_be64(f + 40, b->virtual_size);
    put_be64(f + 48, b->virtual_size);
    put_be32(f + 56, 0xffff10ff);
    put_be32(f + 60, b->disk_type);
    memcpy(f + 68, uid, 16);
    put_be32(f + 64, checksum(f, 512));
}

void vb_init(struct vhd_builder *b, uint64_t virtual_size, uint32_t block_size, const uint8_t uid[16],
             const uint8_t *parent_uid)
{
    uint8_t *h;
    size_t bat_bytes;

    memset(b, 0, sizeof(*b));
    b->virtual_size = virtual_size;
    b->block_size = block_size;
    b->entries = (uint32_t)((virtual_size + block_size - 1) / block_size);
    b->disk_type = parent_uid ? 4 : 3;
    b->bat_offset = 1536;
    bat_bytes = ((size_t)b->entries * 4 + 511) / 512 * 512;
    grow(b, 1536 + bat_bytes);
    write_footer(b, b->data, uid);
    h = b->data + 512;
    memcpy(h, "cxsparse", 8);
    put_be64(h + 8, ~0ull);
    put_be64(h + 16, b->bat_offset);
    put_be32(h + 24, 0x00010000);
    put_be32(h + 28, b->entries);
    put_be32(h + 32, block_size);
    if (parent_uid) memcpy(h + 40, parent_uid, 16);
    memset(b->data + 1536, 0xff, bat_bytes);
}

void vb_add_locator(struct vhd_builder *b, uint32_t code, const char *path)
{
    uint8_t *e = b->data + 512 + 576 + 24 * b->nlocators++;
    size_t n = strlen(path), at = b->size, i;

    put_be32(e, code);
    put_be32(e + 4, 1);                         /* one sector of space */
    put_be32(e + 8, (uint32_t)(n * 2));
    put_be64(e + 16, at);
    grow(b, at + 512);
    for (i = 0; i < n && i < 256; i++)
    {
        b->data[at + 2 * i] = (uint8_t)path[i];
        b->data[at + 2 * i + 1] = 0;
    }
}

void vb_add_batmap(struct vhd_builder *b)
{
    uint8_t *h;

    b->batmap_header = b->size;
    grow(b, b->size + 1024);
    h = b->data + b->batmap_header;
    memcpy(h, "tdbatmap", 8);
    put_be64(h + 8, b->batmap_header + 512);
    put_be32(h + 16, 1);                        /* one sector of bits */
    put_be32(h + 20, 0x00010002);
}

void vb_add_gap(struct vhd_builder *b, size_t bytes)
{
    grow(b, b->size + bytes);
}

void vb_add_block(struct vhd_builder *b, uint32_t index, const uint8_t *bitmap, const uint8_t *data)
{
    size_t bm = ((b->block_size / 512 / 8) + 511) / 512 * 512, at = b->size;

    grow(b, at + bm + b->block_size);
    if (bitmap) memcpy(b->data + at, bitmap, b->block_size / 512 / 8);
    else memset(b->data + at, 0xff, b->block_size / 512 / 8);
    if (data) memcpy(b->data + at + bm, data, b->block_size);
    put_be32(b->data + b->bat_offset + 4ull * index, (uint32_t)(at / 512));
}

void vb_finish(struct vhd_builder *b, size_t *size)
{
    uint8_t *h = b->data + 512;

    put_be32(h + 36, 0);
    put_be32(h + 36, checksum(h, 1024));
    if (b->batmap_header)
    {
        uint8_t *bits = b->data + b->batmap_header + 512;
        uint32_t i;
        for (i = 0; i < b->entries; i++)
            if (b->data[b->bat_offset + 4ull * i] != 0xff) bits[i / 8] |= (uint8_t)(0x80 >> (i % 8));
        put_be32(b->data + b->batmap_header + 24, checksum(bits, 512));
    }
    grow(b, b->size + 512);
    memcpy(b->data + b->size - 512, b->data, 512);
    *size = b->size;
}

void vb_free(struct vhd_builder *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
