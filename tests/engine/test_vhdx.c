/*
 * VHDX: CRC-32C, header and region-table round trips and mutants, every block
 * state, 512/4096-byte sectors, differencing chains with partially present
 * blocks, GUID rules (FileWriteGuid renewed, DataWriteGuid kept), compaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "test_util.h"
#include "vhdx.h"
#include "vhdx_builder.h"
#include "vhd_builder.h"

static const uint8_t dwg_parent[16] = { 0xd0, 0xd1, 0xd2, 0xd3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t dwg_child[16] = { 0xc0, 0xc1, 0xc2, 0xc3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

#define BS ((uint32_t)MiB)

static uint8_t *random_block(uint32_t seed, uint32_t size)
{
    uint8_t *d = malloc(size);

    fill_random(d, size, seed);
    return d;
}

static void test_crc32c_vectors(void **state)
{
    uint8_t buf[32], big[1000];
    uint32_t ref = ~0u;
    size_t i;
    int k;

    (void)state;
    assert_int_equal(crc32c((const uint8_t *)"123456789", 9), 0xe3069283);     /* RFC 3720 check value */
    memset(buf, 0, 32);
    assert_int_equal(crc32c(buf, 32), 0x8a9136aa);                               /* RFC 3720 B.4 */
    memset(buf, 0xff, 32);
    assert_int_equal(crc32c(buf, 32), 0x62a8ab43);
    for (i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(crc32c(buf, 32), 0x46dd794e);
    /* Slicing-by-8 agrees with the bitwise definition at every length and split. */
    fill_random(big, sizeof(big), 3);
    for (i = 0; i < sizeof(big); i++)
    {
        ref ^= big[i];
        for (k = 0; k < 8; k++) ref = ref & 1 ? (ref >> 1) ^ 0x82f63b78u : ref >> 1;
        assert_int_equal(crc32c(big, i + 1), ~ref);
    }
    assert_int_equal(crc32c_update(crc32c(big, 333), big + 333, 667), crc32c(big, 1000));
}

static uint8_t *build_simple(size_t *size, uint32_t lss)
{
    struct vhdx_builder b;
    uint8_t *d = random_block(1, BS), *out;

    xb_init(&b, 8 * (uint64_t)BS, BS, lss, dwg_parent, NULL, NULL);
    xb_add_block(&b, 0, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
    xb_add_block(&b, 5, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
    xb_finish(&b, size);
    out = malloc(*size);
    memcpy(out, b.data, *size);
    xb_free(&b);
    free(d);
    return out;
}

static void test_header_round_trip_and_mutants(void **state)
{
    struct vhdx_header h, g;
    uint8_t *img, buf[VHDX_HEADER_SIZE];
    size_t size;

    (void)state;
    img = build_simple(&size, 512);
    assert_status(vhdx_header_decode(img + VHDX_HEADER2_OFFSET, &h, VHDX_HEADER2_OFFSET, NULL), VDSSHIM_OK);
    assert_int_equal(h.sequence, 11);
    assert_memory_equal(h.data_write_guid.b, dwg_parent, 16);
    vhdx_header_encode(&h, buf);
    assert_memory_equal(buf, img + VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE);
    h.sequence = 99;
    vhdx_header_encode(&h, buf);
    assert_status(vhdx_header_decode(buf, &g, 0, NULL), VDSSHIM_OK);
    assert_int_equal(g.sequence, 99);

    {
        static const struct { size_t off; uint32_t value; int status; const char *needle; } cases[] =
        {
            { 0, 0x64616568 ^ 1, VDSSHIM_E_CORRUPT, "signature" },
            { 4, 0x1234, VDSSHIM_E_CORRUPT, "checksum" },
            { 66, 2, VDSSHIM_E_UNSUPPORTED, "version" },
            { 72, 0x123456, VDSSHIM_E_CORRUPT, "log" },
        };
        size_t i;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        {
            struct vdsshim_diag diag = { .msg = { 0 } };
            memcpy(buf, img + VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE);
            if (cases[i].off == 66) put_le16(buf + 66, (uint16_t)cases[i].value);
            else put_le32(buf + cases[i].off, cases[i].value);
            if (cases[i].off != 4) put_le32(buf + 4, crc32c_with_zero_field(buf, VHDX_HEADER_SIZE, 4));
            assert_status(vhdx_header_decode(buf, &g, 0, &diag), cases[i].status);
            if (!strstr(diag.msg, cases[i].needle)) fail_msg("\"%s\" lacks \"%s\"", diag.msg, cases[i].needle);
        }
    }
    free(img);
}

static void test_region_table_round_trip(void **state)
{
    struct vhdx_region_table *t = malloc(sizeof(*t));
    uint8_t *img, *buf = malloc(VHDX_REGION_SIZE);
    size_t size;

    (void)state;
    img = build_simple(&size, 512);
    assert_status(vhdx_region_table_decode(img + VHDX_REGION1_OFFSET, t, VHDX_REGION1_OFFSET, NULL), VDSSHIM_OK);
    assert_int_equal(t->entry_count, 2);
    vhdx_region_table_encode(t, buf);
    assert_memory_equal(buf, img + VHDX_REGION1_OFFSET, VHDX_REGION_SIZE);
    put_le32(buf + 8, 5000);
    put_le32(buf + 4, crc32c_with_zero_field(buf, VHDX_REGION_SIZE, 4));
    assert_status(vhdx_region_table_decode(buf, t, 0, NULL), VDSSHIM_E_CORRUPT);
    free(t);
    free(buf);
    free(img);
}

static void expect_open(const uint8_t *img, size_t size, int status, const char *needle)
{
    expect_open_rw(img, size, "x.vhdx", status, needle);
}

static void fix_region_crc(uint8_t *img)
{
    put_le32(img + VHDX_REGION1_OFFSET + 4, crc32c_with_zero_field(img + VHDX_REGION1_OFFSET, VHDX_REGION_SIZE, 4));
}

static void test_image_mutants(void **state)
{
    uint8_t *img;
    size_t size;

    (void)state;
    /* Unknown required region: unsupported. The same region, optional: fine. */
    img = build_simple(&size, 512);
    put_le32(img + VHDX_REGION1_OFFSET + 8, 3);
    memset(img + VHDX_REGION1_OFFSET + 16 + 64, 0x5a, 16);
    put_le64(img + VHDX_REGION1_OFFSET + 16 + 64 + 16, 64 * MiB);
    put_le32(img + VHDX_REGION1_OFFSET + 16 + 64 + 24, (uint32_t)MiB);
    put_le32(img + VHDX_REGION1_OFFSET + 16 + 64 + 28, 1);
    fix_region_crc(img);
    expect_open(img, size, VDSSHIM_E_UNSUPPORTED, "unknown required region");
    put_le32(img + VHDX_REGION1_OFFSET + 16 + 64 + 28, 0);
    fix_region_crc(img);
    expect_open(img, size, VDSSHIM_OK, NULL);
    free(img);

    /* BAT entry past the end, two entries at one offset, a block over the BAT. */
    img = build_simple(&size, 512);
    put_le64(img + 3 * MiB + 8, (200 * MiB) | 6);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "past the end");
    put_le64(img + 3 * MiB + 8, get_le64(img + 3 * MiB));
    expect_open(img, size, VDSSHIM_E_CORRUPT, "overlaps");
    put_le64(img + 3 * MiB + 8, (3 * MiB) | 6);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "overlaps");
    put_le64(img + 3 * MiB + 8, 6);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "no offset");
    put_le64(img + 3 * MiB + 8, 4);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "state 4");
    put_le64(img + 3 * MiB + 8, 7 | (5 * MiB));
    expect_open(img, size, VDSSHIM_E_CORRUPT, "state 7");     /* partial in a dynamic disk */
    put_le64(img + 3 * MiB + 8, 0x1000);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "reserved bits");
    free(img);

    /* Both headers broken; equal sequence numbers with different bytes. */
    img = build_simple(&size, 512);
    img[VHDX_HEADER1_OFFSET + 100] ^= 1;
    img[VHDX_HEADER2_OFFSET + 100] ^= 1;
    expect_open(img, size, VDSSHIM_E_CORRUPT, "neither header");
    free(img);
    img = build_simple(&size, 512);
    put_le64(img + VHDX_HEADER1_OFFSET + 8, 11);
    put_le32(img + VHDX_HEADER1_OFFSET + 4, crc32c_with_zero_field(img + VHDX_HEADER1_OFFSET, VHDX_HEADER_SIZE, 4));
    expect_open(img, size, VDSSHIM_E_CORRUPT, "differ");
    free(img);

    /* A LogGuid that no entry carries: a writer crashed after setting it and
     * before its first entry. The log is empty; a read-write open clears it. */
    img = build_simple(&size, 512);
    memset(img + VHDX_HEADER2_OFFSET + 48, 0x77, 16);
    put_le32(img + VHDX_HEADER2_OFFSET + 4, crc32c_with_zero_field(img + VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE, 4));
    {
        struct vdsshim_image *opened = open_mem_image(img, size, 0);
        uint64_t vs;
        uint8_t *all = read_all(opened, &vs);
        vdsshim_close(opened);
        opened = open_mem_image(img, size, VDSSHIM_OPEN_WRITE);
        assert_true(vhdx_guid_is_zero(&((struct vhdx *)opened->fmt)->header.log_guid));
        vdsshim_close(opened);
        free(all);
    }
    free(img);

    /* Metadata: an unknown required item; a block size that is not a power of two. */
    img = build_simple(&size, 512);
    memset(img + 2 * MiB + 32, 0x42, 16);
    expect_open(img, size, VDSSHIM_E_UNSUPPORTED, "unknown required item");
    free(img);
    img = build_simple(&size, 512);
    put_le32(img + 2 * MiB + 65536, 3 * (uint32_t)MiB);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "block size");
    free(img);

    /* Items that overlap (MS-VHDX 2.6.1.2 forbids it): the second entry laid
     * over the first (the file parameters at 64 KiB, 8 bytes), exactly and by
     * half. Without the check the first decodes and the overlap only shows
     * when one of them is written. */
    img = build_simple(&size, 512);
    assert_int_equal(get_le32(img + 2 * MiB + 32 + 16), 65536);
    put_le32(img + 2 * MiB + 64 + 16, 65536);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "overlap");
    put_le32(img + 2 * MiB + 64 + 16, 65536 + 4);
    expect_open(img, size, VDSSHIM_E_CORRUPT, "overlap");
    free(img);
}

static void test_fixed_refused(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *raw;
    size_t size;

    (void)state;
    raw = build_simple(&size, 512);
    put_le32(raw + 2 * MiB + 65536 + 4, 1);     /* LeaveBlockAllocated */
    img = open_mem_image(raw, size, VDSSHIM_OPEN_WRITE);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.type, VDSSHIM_DISK_FIXED);
    assert_status(vdsshim_compact(img, NULL, NULL, &diag), VDSSHIM_E_WRONG_TYPE);
    vdsshim_close(img);
    free(raw);
}

/* Every state, as a dynamic disk reads it (the table in vhdx.h). */
static void test_reader_states(void **state)
{
    struct vhdx_builder b;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *d = random_block(9, BS), *all;
    uint64_t vs, i;
    size_t size;
    unsigned lss;

    (void)state;
    for (lss = 512; lss <= 4096; lss *= 8)
    {
        xb_init(&b, 8 * (uint64_t)BS, BS, lss, dwg_parent, NULL, NULL);
        xb_add_block(&b, 0, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
        xb_add_block(&b, 1, VHDX_PAYLOAD_ZERO, d, NULL);           /* holds data, must read zeros */
        xb_add_block(&b, 2, VHDX_PAYLOAD_UNMAPPED_V095, d, NULL);  /* legacy value 5 */
        xb_add_block(&b, 3, VHDX_PAYLOAD_UNDEFINED, d, NULL);
        xb_set_state(&b, 4, VHDX_PAYLOAD_UNMAPPED);
        xb_add_block(&b, 7, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
        xb_finish(&b, &size);
        img = open_mem_image(b.data, size, 0);
        vdsshim_get_info(img, &info);
        assert_int_equal(info.logical_sector_size, lss);
        assert_int_equal(info.blocks_allocated, 5);
        all = read_all(img, &vs);
        assert_memory_equal(all, d, BS);
        assert_memory_equal(all + 7 * (uint64_t)BS, d, BS);
        for (i = BS; i < 7 * (uint64_t)BS; i++)
            if (all[i]) fail_msg("byte %llu of a non-present block reads %#x", (unsigned long long)i, all[i]);
        free(all);
        vdsshim_close(img);
        xb_free(&b);
    }
    free(d);
}

/* Compact a copy (content kept, checked by compact_in_memory); then the header rules. */
static uint8_t *compact_copy(const uint8_t *raw, size_t size, const char *path, unsigned flags,
                             struct vdsshim_compact_result *res, size_t *out_size)
{
    uint8_t *bytes = compact_in_memory(raw, size, path, flags, VDSSHIM_OK, res, out_size);
    struct vhdx_header before, after, h1, h2;

    /* The first 64 KiB never change; DataWriteGuid kept; a clean log at the end. */
    assert_memory_equal(bytes, raw, 64 * 1024);
    assert_status(vhdx_header_decode(raw + VHDX_HEADER2_OFFSET, &before, 0, NULL), VDSSHIM_OK);
    assert_status(vhdx_header_decode(bytes + VHDX_HEADER1_OFFSET, &h1, 0, NULL), VDSSHIM_OK);
    assert_status(vhdx_header_decode(bytes + VHDX_HEADER2_OFFSET, &h2, 0, NULL), VDSSHIM_OK);
    after = h1.sequence > h2.sequence ? h1 : h2;
    assert_memory_equal(after.data_write_guid.b, before.data_write_guid.b, 16);
    if (res->bytes_written)
    {
        assert_memory_not_equal(after.file_write_guid.b, before.file_write_guid.b, 16);
        assert_true(after.sequence > before.sequence);
    }
    assert_true(vhdx_guid_is_zero(&after.log_guid));
    return bytes;
}

static uint64_t entry_of(const uint8_t *img, uint64_t index)
{
    return get_le64(img + 3 * MiB + 8 * index);
}

static void test_compact_dynamic(void **state)
{
    const uint32_t lss = *(const uint32_t *)*state;     /* 512 and 4096-byte logical sectors */
    struct vdsshim_compact_result res;
    struct vhdx_builder b;
    uint8_t *d = random_block(4, BS), *out;
    size_t size, n;

    xb_init(&b, 16 * (uint64_t)BS, BS, lss, dwg_parent, NULL, NULL);
    xb_add_block(&b, 0, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
    xb_add_block(&b, 1, VHDX_PAYLOAD_FULLY_PRESENT, NULL, NULL);       /* zero data -> ZERO */
    xb_add_block(&b, 2, VHDX_PAYLOAD_ZERO, d, NULL);                   /* holds space -> released */
    xb_add_block(&b, 3, VHDX_PAYLOAD_UNMAPPED_V095, d, NULL);          /* -> 3, released */
    xb_add_block(&b, 4, VHDX_PAYLOAD_NOT_PRESENT, d, NULL);            /* released */
    xb_add_block(&b, 9, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);          /* moves into the first hole */
    xb_add_gap(&b, 2 * MiB);
    xb_finish(&b, &size);

    out = compact_copy(b.data, size, "x.vhdx", 0, &res, &n);
    assert_int_equal(n, 4 * MiB + 2 * (uint64_t)BS);       /* header, log, metadata, BAT + 2 blocks */
    assert_int_equal(res.blocks_dropped, 4);
    assert_int_equal(res.blocks_moved, 1);
    assert_int_equal(entry_of(out, 1), VHDX_PAYLOAD_ZERO);
    assert_int_equal(entry_of(out, 2), VHDX_PAYLOAD_ZERO);
    assert_int_equal(entry_of(out, 3), VHDX_PAYLOAD_UNMAPPED);        /* never written as 5 */
    assert_int_equal(entry_of(out, 4), VHDX_PAYLOAD_NOT_PRESENT);
    assert_int_equal(entry_of(out, 9), (4 * MiB + BS) | VHDX_PAYLOAD_FULLY_PRESENT);
    free(out);

    /* No zero scan: the zero-filled block stays, space of non-present ones goes. */
    out = compact_copy(b.data, size, "x.vhdx", VDSSHIM_COMPACT_NO_ZERO_SCAN, &res, &n);
    assert_int_equal(res.blocks_dropped, 3);
    assert_int_equal(n, 4 * MiB + 3 * (uint64_t)BS);
    assert_int_equal(res.bytes_read, 0);                       /* the scan reads nothing */
    assert_int_equal(res.bytes_copied, res.blocks_moved * BS); /* and the move is copy_range's */
    assert_int_equal(res.blocks_moved, 1);
    free(out);

    /* No block moves: states change through the log, size stays. */
    out = compact_copy(b.data, size, "x.vhdx", VDSSHIM_COMPACT_NO_BLOCK_MOVES, &res, &n);
    assert_int_equal(res.blocks_moved, 0);
    assert_int_equal(n, size - 2 * MiB);        /* only the trailing gap, trimmed when opened */
    assert_int_equal(entry_of(out, 9), entry_of(b.data, 9));
    free(out);

    /* Already compact: nothing written, not even a header. */
    out = compact_copy(b.data, size, "x.vhdx", 0, &res, &n);
    {
        uint8_t *again = compact_copy(out, n, "x.vhdx", 0, &res, &size);
        assert_int_equal(res.bytes_written, 0);
        assert_memory_equal(again, out, n);
        free(again);
    }
    free(out);
    xb_free(&b);
    free(d);
}

/* Parent file on disk, 1 MiB blocks 0-3 random, block 4 absent. */
static void write_parent(const char *path, const uint8_t dwg[16])
{
    struct vhdx_builder b;
    size_t size;
    unsigned i;

    xb_init(&b, 8 * (uint64_t)BS, BS, 512, dwg, NULL, NULL);
    for (i = 0; i < 4; i++)
    {
        uint8_t *d = random_block(100 + i, BS);
        xb_add_block(&b, i, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
        free(d);
    }
    xb_finish(&b, &size);
    write_file(path, b.data, size);
    xb_free(&b);
}

static void test_compact_differencing(void **state)
{
    struct vdsshim_compact_result res;
    struct vhdx_builder b;
    char linkage[39];
    uint8_t *p0 = random_block(100, BS), *p2 = random_block(102, BS), *mine = random_block(7, BS);
    uint8_t *bits_same = calloc(1, BS / 512 / 8), *bits_diff = calloc(1, BS / 512 / 8), *out;
    size_t size, n;

    (void)state;
    write_parent("vhdx-parent.vhdx", dwg_parent);
    xb_guid_text(dwg_parent, linkage);
    bits_same[0] = 0x05;                            /* sectors 0 and 2 present, equal to the parent */
    memcpy(mine, p2, BS);                           /* block 2's present sectors = parent's */
    bits_diff[1] = 0x80;                            /* sector 15 present, differs */

    xb_init(&b, 8 * (uint64_t)BS, BS, 512, dwg_child, linkage, "vhdx-parent.vhdx");
    xb_add_block(&b, 0, VHDX_PAYLOAD_FULLY_PRESENT, p0, NULL);             /* = parent: NOT_PRESENT */
    xb_add_block(&b, 1, VHDX_PAYLOAD_FULLY_PRESENT, NULL, NULL);           /* zeros over data: ZERO */
    xb_add_block(&b, 2, VHDX_PAYLOAD_PARTIALLY_PRESENT, mine, bits_same);  /* = parent: NOT_PRESENT */
    xb_add_block(&b, 4, VHDX_PAYLOAD_FULLY_PRESENT, NULL, NULL);           /* zeros over nothing: NOT_PRESENT */
    xb_add_block(&b, 5, VHDX_PAYLOAD_PARTIALLY_PRESENT, p0, bits_diff);    /* real change: stays */
    xb_finish(&b, &size);

    out = compact_copy(b.data, size, "child.vhdx", 0, &res, &n);
    assert_int_equal(res.blocks_scanned, 5);
    assert_int_equal(res.blocks_dropped, 4);
    {
        uint64_t cr = 4096;     /* 512-byte sectors, 1 MiB blocks */
        assert_int_equal(VHDX_BAT_STATE(entry_of(out, 0)), VHDX_PAYLOAD_NOT_PRESENT);
        assert_int_equal(entry_of(out, 1), VHDX_PAYLOAD_ZERO);
        assert_int_equal(VHDX_BAT_STATE(entry_of(out, 2)), VHDX_PAYLOAD_NOT_PRESENT);
        assert_int_equal(VHDX_BAT_STATE(entry_of(out, 5)), VHDX_PAYLOAD_PARTIALLY_PRESENT);
        assert_int_equal(VHDX_BAT_STATE(entry_of(out, cr)), VHDX_SB_PRESENT);    /* still used by block 5 */
    }
    /* Header section, one bitmap block, one payload block. */
    assert_int_equal(n, 4 * MiB + MiB + BS);
    free(out);

    /* Compacting the parent keeps its DataWriteGuid: the child still opens. */
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_image *img;
        assert_status(vdsshim_open("vhdx-parent.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
        assert_status(vdsshim_compact(img, NULL, NULL, &diag), VDSSHIM_OK);
        vdsshim_close(img);
        write_file("child.vhdx", b.data, size);
        assert_status(vdsshim_open("child.vhdx", 0, &img, &diag), VDSSHIM_OK);
        vdsshim_close(img);
    }
    /* A parent whose DataWriteGuid differs is not this child's parent. */
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_image *img = NULL;
        write_parent("vhdx-parent.vhdx", dwg_child);
        assert_status(vdsshim_open("child.vhdx", 0, &img, &diag), VDSSHIM_E_PARENT_MISMATCH);
        remove("vhdx-parent.vhdx");
        assert_status(vdsshim_open("child.vhdx", 0, &img, &diag), VDSSHIM_E_PARENT_NOT_FOUND);
        assert_status(vdsshim_open("child.vhdx", VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
        vdsshim_close(img);
    }
    remove("child.vhdx");
    xb_free(&b);
    free(p0); free(p2); free(mine); free(bits_same); free(bits_diff);
}

/* A dropped partial block that was the last one of its chunk frees the bitmap block too. */
static void test_bitmap_block_released(void **state)
{
    struct vdsshim_compact_result res;
    struct vhdx_builder b;
    char linkage[39];
    uint8_t *p1 = random_block(101, BS), *bits = calloc(1, BS / 512 / 8), *out;
    size_t size, n;

    (void)state;
    write_parent("vhdx-parent2.vhdx", dwg_parent);
    xb_guid_text(dwg_parent, linkage);
    bits[0] = 0xff;
    xb_init(&b, 8 * (uint64_t)BS, BS, 512, dwg_child, linkage, "vhdx-parent2.vhdx");
    xb_add_block(&b, 1, VHDX_PAYLOAD_PARTIALLY_PRESENT, p1, bits);
    xb_finish(&b, &size);
    out = compact_copy(b.data, size, "child2.vhdx", 0, &res, &n);
    assert_int_equal(VHDX_BAT_STATE(entry_of(out, 1)), VHDX_PAYLOAD_NOT_PRESENT);
    assert_int_equal(entry_of(out, 4096), VHDX_SB_NOT_PRESENT);
    assert_int_equal(n, 4 * MiB);
    free(out);
    remove("vhdx-parent2.vhdx");
    xb_free(&b);
    free(p1);
    free(bits);
}

/*
 * A log entry with one zero descriptor at the file's end, of len bytes: made
 * by the engine's own writer (a data descriptor), then rewritten as "zero"
 * with its CRC made right. Returns the file with that entry live.
 */
static uint8_t *with_zero_entry(uint64_t len, size_t *size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vhdx *v;
    uint8_t *raw = build_simple(size, 512), *out, *sec = malloc(VHDX_LOG_SECTOR), *e, *d;
    uint64_t off = 3 * MiB, elen;     /* a BAT sector: rewritten with its own bytes */
    const uint8_t *now;
    size_t n;

    img = open_mem_image(raw, *size, VDSSHIM_OPEN_WRITE);
    v = img->fmt;
    memcpy(sec, raw + off, VHDX_LOG_SECTOR);
    assert_status(vhdx_log_restart(img, v, &diag), VDSSHIM_OK);
    assert_status(vhdx_log_commit(img, v, &off, &sec, 1, *size, *size, &diag), VDSSHIM_OK);
    now = vdsshim_io_mem_data(img->io, &n);
    out = malloc(n);
    memcpy(out, now, n);
    *size = n;
    e = out + v->header.log_offset;
    vdsshim_close(img);
    assert_memory_equal(e, "loge", 4);
    elen = get_le32(e + 8);
    d = e + 64;                             /* the first descriptor */
    assert_memory_equal(d, "desc", 4);
    memcpy(d, "zero", 4);
    memset(d + 4, 0, 4);
    put_le64(d + 8, len);
    put_le64(d + 16, *size);                /* from the end of the file on */
    put_le32(e + 4, crc32c_with_zero_field(e, (size_t)elen, 4));
    free(raw);
    free(sec);
    return out;
}

/* A zero descriptor past the end grows the file sparsely on replay (no
 * zeros written); one absurdly far past LastFileOffset makes the entry
 * invalid (the log is then empty), never a write without bound. */
static void test_log_zero_descriptor_bounds(void **state)
{
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *mem, *io, *kept = NULL;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *raw;
    size_t size, n;

    (void)state;
    raw = with_zero_entry(8 * MiB, &size);
    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(raw, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "z.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    vdsshim_io_mem_data(kept, &n);
    assert_true(c.truncates >= 1);                  /* replayed: the file grew (and was trimmed back) */
    assert_true(c.bytes_written < 1 * MiB);         /* without its 8 MiB of zeros written */
    vdsshim_io_close(kept);
    free(raw);

    raw = with_zero_entry(1ull << 40, &size);
    memset(&c, 0, sizeof(c));
    assert_status(vdsshim_io_open_mem(raw, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "z.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.file_size, size);
    assert_status(vdsshim_compact(img, NULL, NULL, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    vdsshim_io_mem_data(kept, &n);
    assert_true(n <= size);
    assert_true(c.bytes_written < 4 * MiB);
    vdsshim_io_close(kept);
    free(raw);
}

static uint32_t lss_512 = 512, lss_4096 = 4096;

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_header_round_trip_and_mutants),
        cmocka_unit_test(test_region_table_round_trip),
        cmocka_unit_test(test_image_mutants),
        cmocka_unit_test(test_fixed_refused),
        cmocka_unit_test(test_reader_states),
        cmocka_unit_test_prestate(test_compact_dynamic, &lss_512),
        cmocka_unit_test_prestate(test_compact_dynamic, &lss_4096),
        cmocka_unit_test(test_compact_differencing),
        cmocka_unit_test(test_bitmap_block_released),
        cmocka_unit_test(test_log_zero_descriptor_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
