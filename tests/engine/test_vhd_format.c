/*
 * VHD structures: decode/encode round trips, single-field mutants, and
 * image-level corruption that must be refused with a clear status and no write.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhd.h"
#include "vhd_builder.h"

static const uint8_t uid_a[16] = { 0xa1, 0xa2, 0xa3, 0xa4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

#define BS (64u << 10)

/* A small dynamic image: 8 blocks of 64 KiB, blocks 0, 5, 2 allocated in that order. */
static uint8_t *make_image(size_t *size)
{
    struct vhd_builder b;
    uint8_t *data = malloc(BS), *out;

    fill_random(data, BS, 1);
    vb_init(&b, 8 * BS, BS, uid_a, NULL);
    vb_add_block(&b, 0, NULL, data);
    vb_add_block(&b, 5, NULL, data);
    vb_add_block(&b, 2, NULL, NULL);
    vb_finish(&b, size);
    out = malloc(*size);
    memcpy(out, b.data, *size);
    vb_free(&b);
    free(data);
    return out;
}

static void test_footer_round_trip(void **state)
{
    struct vhd_footer f, g;
    uint8_t *img, again[512];
    size_t size;

    (void)state;
    img = make_image(&size);
    assert_status(vhd_footer_decode(img + size - 512, &f, size - 512, NULL), VDSSHIM_OK);
    assert_int_equal(f.disk_type, 3);
    assert_int_equal(f.current_size, 8 * BS);
    assert_memory_equal(f.unique_id, uid_a, 16);
    vhd_footer_encode(&f, again);
    assert_memory_equal(again, img + size - 512, 512);     /* bytes survive decode + encode */
    f.timestamp = 12345;
    f.reserved[0] = 1;                                    /* blktap's hidden byte is kept */
    vhd_footer_encode(&f, again);
    assert_status(vhd_footer_decode(again, &g, 0, NULL), VDSSHIM_OK);
    assert_int_not_equal(g.checksum, f.checksum);       /* encode recomputed it */
    f.checksum = g.checksum;
    assert_memory_equal(&f, &g, sizeof(f));
    free(img);
}

static void test_dynhdr_round_trip(void **state)
{
    struct vhd_dynhdr h, g;
    uint8_t *img, again[1024];
    size_t size;

    (void)state;
    img = make_image(&size);
    assert_status(vhd_dynhdr_decode(img + 512, &h, 512, NULL), VDSSHIM_OK);
    assert_int_equal(h.block_size, BS);
    assert_int_equal(h.max_entries, 8);
    assert_int_equal(h.table_offset, 1536);
    vhd_dynhdr_encode(&h, again);
    assert_memory_equal(again, img + 512, 1024);
    h.loc[3].code = VHD_PLAT_W2RU;
    h.loc[3].data_offset = 1u << 20;
    vhd_dynhdr_encode(&h, again);
    assert_status(vhd_dynhdr_decode(again, &g, 0, NULL), VDSSHIM_OK);
    assert_memory_equal(&h.loc, &g.loc, sizeof(h.loc));
    free(img);
}

/* Field mutants of the footer: each gets its own status and names its offset. */
static void test_footer_mutants(void **state)
{
    static const struct { size_t off; uint32_t value; int fix_checksum; int status; const char *needle; } cases[] =
    {
        { 0, 0x636f6e65, 0, VDSSHIM_E_UNKNOWN_FORMAT, "cookie" },      /* "cone" -> still "conectix"? no: below */
        { 64, 0x12345678, 0, VDSSHIM_E_CORRUPT, "checksum" },
        { 12, 0x00020000, 1, VDSSHIM_E_UNSUPPORTED, "version" },
        { 60, 5, 1, VDSSHIM_E_UNSUPPORTED, "disk type" },
        { 52, 100, 1, VDSSHIM_E_CORRUPT, "current size" },
    };
    uint8_t *img;
    size_t size, i;

    (void)state;
    img = make_image(&size);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vhd_footer f;
        uint8_t buf[512];

        memcpy(buf, img + size - 512, 512);
        if (i == 0) memcpy(buf, "notavhd!", 8);
        else put_be32(buf + cases[i].off, cases[i].value);
        if (cases[i].fix_checksum) put_be32(buf + 64, vhd_checksum(buf, 512, 64));
        assert_status(vhd_footer_decode(buf, &f, 1000, &diag), cases[i].status);
        assert_non_null(strstr(diag.msg, cases[i].needle));
    }
    free(img);
}

static void test_dynhdr_mutants(void **state)
{
    static const struct { size_t off; uint32_t value; int status; const char *needle; } cases[] =
    {
        { 36, 0x1, VDSSHIM_E_CORRUPT, "checksum" },
        { 32, 3 * 4096, VDSSHIM_E_CORRUPT, "block size" },
        { 32, 512, VDSSHIM_E_UNSUPPORTED, "block size" },
        { 24, 0x00030000, VDSSHIM_E_UNSUPPORTED, "version" },
        { 20, 1537, VDSSHIM_E_CORRUPT, "BAT offset" },
    };
    uint8_t *img;
    size_t size, i;

    (void)state;
    img = make_image(&size);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vhd_dynhdr h;
        uint8_t buf[1024];

        memcpy(buf, img + 512, 1024);
        put_be32(buf + cases[i].off, cases[i].value);
        if (cases[i].off != 36) put_be32(buf + 36, vhd_checksum(buf, 1024, 36));
        assert_status(vhd_dynhdr_decode(buf, &h, 512, &diag), cases[i].status);
        assert_non_null(strstr(diag.msg, cases[i].needle));
    }
    free(img);
}

static void expect_refused_unchanged(const uint8_t *img, size_t size, int status, const char *needle)
{
    expect_open_rw(img, size, "bad.vhd", status, needle);
}

/* A stale footer copy at offset 0: a read-write open (here a compaction's)
 * leaves it equal to the footer at the end. */
static void expect_copy_repaired(const uint8_t *img, size_t size, const char *name)
{
    uint8_t *repaired;
    size_t n;

    repaired = compact_in_memory(img, size, name, VDSSHIM_COMPACT_NO_BLOCK_MOVES, VDSSHIM_OK, NULL, &n);
    assert_memory_equal(repaired, repaired + n - 512, 512);
    free(repaired);
}

static void test_image_mutants(void **state)
{
    struct vdsshim_image *opened;
    struct vdsshim_info info;
    uint8_t *img;
    size_t size;

    (void)state;

    /* BAT entry past the end of the file. */
    img = make_image(&size);
    put_be32(img + 1536 + 4, 0x00ffffff);
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "past the end");
    free(img);

    /* Two BAT entries pointing at overlapping blocks. */
    img = make_image(&size);
    put_be32(img + 1536 + 4 * 5, get_be32(img + 1536) + 1);
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "overlapping");
    free(img);

    /* A block placed over the BAT. */
    img = make_image(&size);
    put_be32(img + 1536 + 4 * 5, 1536 / 512);
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "over the");
    free(img);

    /* Max table entries too small for the virtual size. */
    img = make_image(&size);
    put_be32(img + 512 + 28, 4);
    put_be32(img + 512 + 36, vhd_checksum(img + 512, 1024, 36));
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "max table entries");
    free(img);

    /* Footer copy disagreeing with the footer at the end: another header. */
    img = make_image(&size);
    put_be64(img + 16, get_be64(img + 16) + 512);
    put_be32(img + 64, vhd_checksum(img, 512, 64));
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "disagrees");
    free(img);

    /* Another id in the copy is an id change stopped between its two footer
     * writes (vhd_identity.c): the end footer's id holds, and a read-write
     * open repairs the copy. */
    img = make_image(&size);
    img[68] ^= 0x55;
    put_be32(img + 64, vhd_checksum(img, 512, 64));
    vdsshim_get_info(opened = open_mem_image(img, size, 0), &info);
    assert_memory_equal(info.unique_id, img + size - 512 + 68, 16);
    vdsshim_close(opened);
    expect_copy_repaired(img, size, "stale-id.vhd");
    free(img);

    /* A copy that does not decode: the reason says where, and why, whole (the
     * inner reason was once formatted into the buffer it was read from). */
    img = make_image(&size);
    memcpy(img, "conectiX", 8);
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "footer copy at offset 0: no VHD footer cookie at offset 0");
    free(img);

    /* A copy larger than the footer at the end is no interrupted expansion. */
    img = make_image(&size);
    put_be64(img + 48, get_be64(img + size - 512 + 48) + BS);
    put_be32(img + 64, vhd_checksum(img, 512, 64));
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "footer copy at offset 0 says");
    free(img);

    /* A smaller copy is an expansion stopped between its two footer writes
     * (vhd_expand.c): the end footer holds, and a read-write open repairs the copy. */
    img = make_image(&size);
    put_be64(img + 48, get_be64(img + size - 512 + 48) - BS);
    put_be32(img + 64, vhd_checksum(img, 512, 64));
    vdsshim_get_info(opened = open_mem_image(img, size, 0), &info);
    assert_int_equal(info.virtual_size, get_be64(img + size - 512 + 48));
    vdsshim_close(opened);
    expect_copy_repaired(img, size, "stale-copy.vhd");
    free(img);

    /* Truncated file: the footer at the end is gone. */
    img = make_image(&size);
    expect_refused_unchanged(img, size - 4096, VDSSHIM_E_CORRUPT, "truncated");
    free(img);

    /* A parent locator pointing outside the file. */
    img = make_image(&size);
    put_be32(img + 512 + 576, VHD_PLAT_W2RU);
    put_be32(img + 512 + 576 + 8, 64);
    put_be64(img + 512 + 576 + 16, (uint64_t)size * 2);
    put_be32(img + 512 + 36, vhd_checksum(img + 512, 1024, 36));
    expect_refused_unchanged(img, size, VDSSHIM_E_CORRUPT, "parent locator");
    free(img);

    /* Not a disk image at all, and an empty file. */
    img = calloc(1, 4096);
    expect_refused_unchanged(img, 4096, VDSSHIM_E_UNKNOWN_FORMAT, "not a VHD");
    expect_refused_unchanged(img, 0, VDSSHIM_E_UNKNOWN_FORMAT, "too small");
    free(img);
}

static void test_reader_layout(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *raw, *data = malloc(BS), *all;
    uint64_t vsize;
    size_t size, i;

    (void)state;
    raw = make_image(&size);
    fill_random(data, BS, 1);
    img = open_mem_image(raw, size, 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.format, VDSSHIM_FORMAT_VHD);
    assert_int_equal(info.type, VDSSHIM_DISK_DYNAMIC);
    assert_int_equal(info.virtual_size, 8 * BS);
    assert_int_equal(info.block_count, 8);
    assert_int_equal(info.blocks_allocated, 3);
    assert_string_equal(info.creator, "vdst 1.0");
    all = read_all(img, &vsize);
    assert_memory_equal(all, data, BS);                 /* block 0 */
    assert_memory_equal(all + 5 * BS, data, BS);        /* block 5, stored second */
    for (i = BS; i < 5 * BS; i++) assert_int_equal(all[i], 0);
    /* Unaligned reads across a block boundary agree with the whole read. */
    {
        uint8_t part[3000];
        assert_status(vdsshim_read(img, 5 * BS - 1000, part, sizeof(part), &diag), VDSSHIM_OK);
        assert_memory_equal(part, all + 5 * BS - 1000, sizeof(part));
    }
    assert_status(vdsshim_read(img, 8 * BS - 10, data, 11, &diag), VDSSHIM_E_INVALID_ARG);
    free(all);
    vdsshim_close(img);
    free(raw);
    free(data);
}

static void test_reader_partial_bitmap(void **state)
{
    struct vhd_builder b;
    struct vdsshim_image *img;
    uint8_t bitmap[16] = { 0 }, *data = malloc(BS), *all;
    uint64_t vsize;
    size_t size, s;

    (void)state;
    fill_random(data, BS, 2);
    bitmap[0] = 0xa0;       /* sectors 0 and 2 present (MSB first) */
    bitmap[15] = 0x01;      /* sector 127 present */
    vb_init(&b, 2 * BS, BS, uid_a, NULL);
    vb_add_block(&b, 1, bitmap, data);
    vb_finish(&b, &size);
    img = open_mem_image(b.data, size, 0);
    all = read_all(img, &vsize);
    for (s = 0; s < 128; s++)
    {
        int present = s == 0 || s == 2 || s == 127;
        size_t i;
        for (i = 0; i < 512; i++)
            assert_int_equal(all[BS + s * 512 + i], present ? data[s * 512 + i] : 0);
    }
    free(all);
    vdsshim_close(img);
    vb_free(&b);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_footer_round_trip),
        cmocka_unit_test(test_dynhdr_round_trip),
        cmocka_unit_test(test_footer_mutants),
        cmocka_unit_test(test_dynhdr_mutants),
        cmocka_unit_test(test_image_mutants),
        cmocka_unit_test(test_reader_layout),
        cmocka_unit_test(test_reader_partial_bitmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
