/*
 * The in-memory VHDX BAT (vhdx_bat.c): uniform pages held as one value,
 * split on the first differing write, grown and shrunk with the entries past
 * the end reading 0; and a 64 TiB VHDX in 1 MiB blocks with four blocks
 * written, whose open, compaction and expansion keep only the pages that
 * hold those blocks (the whole table would be 512 MiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhdx.h"

#define TiB (1ull << 40)

static uint8_t *le_page(uint64_t first_value, int mixed, size_t n)
{
    uint8_t *raw = malloc(8 * n);
    size_t k;

    for (k = 0; k < n; k++) put_le64(raw + 8 * k, mixed && k == n / 2 ? first_value + (1ull << 20) : first_value);
    return raw;
}

static void test_uniform_pages_hold_no_memory(void **state)
{
    struct vhdx_bat b;
    uint8_t *raw;
    uint64_t i;

    (void)state;
    assert_int_equal(vhdx_bat_init(&b, 1000), VDSSHIM_OK);     /* pages of 512 and 488 */
    assert_int_equal(b.npages, 2);
    for (i = 0; i < 1000; i++) assert_int_equal(vhdx_bat_get(&b, i), 0);
    assert_int_equal(vhdx_bat_pages_held(&b), 0);
    assert_int_equal(vhdx_bat_next_placed(&b, 0), 1000);

    /* A page of ZERO entries (a trimmed disk's) stays one value. */
    raw = le_page(VHDX_PAYLOAD_ZERO, 0, 488);
    assert_int_equal(vhdx_bat_load(&b, 512, raw, 488), VDSSHIM_OK);
    free(raw);
    assert_int_equal(vhdx_bat_pages_held(&b), 0);
    assert_int_equal(vhdx_bat_get(&b, 999), VHDX_PAYLOAD_ZERO);
    assert_int_equal(vhdx_bat_next_placed(&b, 0), 1000);

    /* Setting the value it already has splits nothing; another value does. */
    assert_int_equal(vhdx_bat_set(&b, 700, VHDX_PAYLOAD_ZERO), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_pages_held(&b), 0);
    assert_int_equal(vhdx_bat_set(&b, 700, VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, 5 << 20)), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_pages_held(&b), 1);
    assert_int_equal(vhdx_bat_get(&b, 699), VHDX_PAYLOAD_ZERO);
    assert_int_equal(vhdx_bat_get(&b, 700), VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, 5 << 20));
    assert_int_equal(vhdx_bat_get(&b, 701), VHDX_PAYLOAD_ZERO);
    assert_int_equal(vhdx_bat_next_placed(&b, 0), 512);
    assert_int_equal(vhdx_bat_next_placed(&b, 701), 701);     /* inside a held page: every index */

    assert_int_equal(vhdx_bat_pages_whole(&b), 0);           /* one exception: not all 4 KiB */

    /* A page loaded with two different entries is held. */
    raw = le_page(VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, 8 << 20), 1, 512);
    assert_int_equal(vhdx_bat_load(&b, 0, raw, 512), VDSSHIM_OK);
    free(raw);
    assert_int_equal(vhdx_bat_pages_held(&b), 2);
    assert_int_equal(vhdx_bat_get(&b, 256), VHDX_BAT_ENTRY(VHDX_PAYLOAD_FULLY_PRESENT, 9 << 20));
    assert_int_equal(vhdx_bat_next_placed(&b, 0), 0);
    vhdx_bat_free(&b);
}

/* Entries that differ from the fill are kept few, in index order, until
 * there are more than VHDX_BAT_FEW; then the page is whole, same values. */
static void test_few_then_whole(void **state)
{
    struct vhdx_bat b;
    uint64_t i;
    unsigned k;

    (void)state;
    assert_int_equal(vhdx_bat_init(&b, 512), VDSSHIM_OK);
    for (k = 0; k < VHDX_BAT_FEW; k++)     /* descending: each goes in front */
        assert_int_equal(vhdx_bat_set(&b, 500 - 7 * k, VHDX_BAT_ENTRY(6, (uint64_t)(k + 1) << 20)), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_pages_held(&b), 1);
    assert_int_equal(vhdx_bat_pages_whole(&b), 0);
    for (i = 0; i < 512; i++)
    {
        uint64_t want = 0;
        for (k = 0; k < VHDX_BAT_FEW; k++)
            if (i == 500 - 7 * k) want = VHDX_BAT_ENTRY(6, (uint64_t)(k + 1) << 20);
        assert_int_equal(vhdx_bat_get(&b, i), want);
    }
    assert_int_equal(vhdx_bat_set(&b, 500, VHDX_PAYLOAD_ZERO), VDSSHIM_OK);     /* an update is not one more */
    assert_int_equal(vhdx_bat_pages_whole(&b), 0);
    assert_int_equal(vhdx_bat_set(&b, 1, VHDX_PAYLOAD_ZERO), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_pages_whole(&b), 1);
    assert_int_equal(vhdx_bat_get(&b, 1), VHDX_PAYLOAD_ZERO);
    assert_int_equal(vhdx_bat_get(&b, 500), VHDX_PAYLOAD_ZERO);
    assert_int_equal(vhdx_bat_get(&b, 493), VHDX_BAT_ENTRY(6, 2ull << 20));
    assert_int_equal(vhdx_bat_get(&b, 2), 0);
    vhdx_bat_free(&b);
}

static void test_resize_reads_zero_past_the_old_end(void **state)
{
    struct vhdx_bat b;
    uint8_t *raw;
    uint64_t i;

    (void)state;
    assert_int_equal(vhdx_bat_init(&b, 700), VDSSHIM_OK);
    raw = le_page(VHDX_PAYLOAD_UNMAPPED, 0, 188);
    assert_int_equal(vhdx_bat_load(&b, 512, raw, 188), VDSSHIM_OK);   /* a short, uniform last page */
    free(raw);
    assert_int_equal(vhdx_bat_resize(&b, 1200), VDSSHIM_OK);
    for (i = 0; i < 1200; i++)
        assert_int_equal(vhdx_bat_get(&b, i), i >= 512 && i < 700 ? VHDX_PAYLOAD_UNMAPPED : 0);

    assert_int_equal(vhdx_bat_set(&b, 1100, VHDX_PAYLOAD_ZERO), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_set(&b, 650, VHDX_PAYLOAD_ZERO), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_resize(&b, 600), VDSSHIM_OK);
    assert_int_equal(b.npages, 2);
    assert_int_equal(vhdx_bat_resize(&b, 1500), VDSSHIM_OK);
    for (i = 0; i < 1500; i++)
        assert_int_equal(vhdx_bat_get(&b, i), i >= 512 && i < 600 ? VHDX_PAYLOAD_UNMAPPED : 0);
    vhdx_bat_free(&b);
}

static void test_store_round_trips(void **state)
{
    struct vhdx_bat b;
    uint8_t raw[8 * 600], back[8 * 600];
    size_t k;

    (void)state;
    for (k = 0; k < 600; k++) put_le64(raw + 8 * k, k % 3 ? VHDX_PAYLOAD_ZERO : VHDX_BAT_ENTRY(6, (uint64_t)(k + 1) << 20));
    assert_int_equal(vhdx_bat_init(&b, 600), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_load(&b, 0, raw, 512), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_load(&b, 512, raw + 8 * 512, 88), VDSSHIM_OK);
    vhdx_bat_store(&b, 0, back, 600);
    assert_memory_equal(raw, back, sizeof(raw));
    vhdx_bat_free(&b);
}

/* 64 TiB, 1 MiB blocks: a BAT of 64 Mi payload entries (512 MiB on disk). */
static const uint64_t big_blocks[4] = { 0, 1, 32 * TiB / MiB, 64 * TiB / MiB - 1 };

static struct vhdx *vhdx_of(struct vdsshim_image *img)
{
    return img->fmt;
}

static void write_block(struct vdsshim_image *img, uint64_t block, uint8_t fill)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *buf = malloc(MiB), units[MiB / 512];

    memset(buf, fill, MiB);
    memset(units, 1, sizeof(units));
    if (img->ops->write_units(img, block * MiB, buf, MiB, units, &diag)) fail_msg("write: %s", diag.msg);
    free(buf);
}

static void expect_block(struct vdsshim_image *img, uint64_t block, uint8_t fill)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t buf[4096];
    size_t k;

    assert_int_equal(vdsshim_read(img, block * MiB + MiB - sizeof(buf), buf, sizeof(buf), &diag), VDSSHIM_OK);
    for (k = 0; k < sizeof(buf); k++) assert_int_equal(buf[k], fill);
}

static void test_64_tib_holds_only_used_pages(void **state)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_options opts = { 0 };
    struct vdsshim_compact_result res;
    struct vdsshim_image *img = NULL;
    unsigned i;

    (void)state;
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 64 * TiB;
    p.block_size = (uint32_t)MiB;
    remove("big.vhdx");
    assert_int_equal(vdsshim_create("big.vhdx", &p, &diag), VDSSHIM_OK);

    assert_int_equal(vdsshim_open("big.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_int_equal(vhdx_bat_pages_held(&vhdx_of(img)->bat), 0);
    for (i = 0; i < 4; i++) write_block(img, big_blocks[i], (uint8_t)(0x41 + i));
    write_block(img, 5, 0);                                 /* all zero: compaction drops it */
    vdsshim_close(img);

    img = NULL;
    assert_int_equal(vdsshim_open("big.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    /* Blocks 0, 1 and 5 share page 0; the other two have a page each. */
    assert_int_equal(vhdx_bat_pages_held(&vhdx_of(img)->bat), 3);
    assert_int_equal(vhdx_of(img)->bat.entries, 64 * TiB / MiB + (64 * TiB / MiB - 1) / 4096);
    assert_int_equal(vhdx_bat_pages_whole(&vhdx_of(img)->bat), 0);
    assert_int_equal(vdsshim_compact(img, &opts, &res, &diag), VDSSHIM_OK);
    assert_int_equal(res.blocks_dropped, 1);
    assert_int_equal(vhdx_bat_pages_held(&vhdx_of(img)->bat), 3);
    assert_int_equal(vhdx_bat_pages_whole(&vhdx_of(img)->bat), 0);
    for (i = 0; i < 4; i++) expect_block(img, big_blocks[i], (uint8_t)(0x41 + i));
    expect_block(img, 5, 0);
    vdsshim_close(img);
    remove("big.vhdx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_pages_hold_no_memory),
        cmocka_unit_test(test_few_then_whole),
        cmocka_unit_test(test_resize_reads_zero_past_the_old_end),
        cmocka_unit_test(test_store_round_trips),
        cmocka_unit_test(test_64_tib_holds_only_used_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
