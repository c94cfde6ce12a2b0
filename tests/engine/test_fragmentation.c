/*
 * vdsshim_fragmentation (fragmentation.c): the share of allocated blocks, in
 * virtual order, that do not start where the one before them ends in the
 * file, rounded down. Built images put blocks in a chosen file order, so
 * each case knows its exact figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1ull << 20)

static const uint8_t uid[16] = { 0x46, 0x52, 0x41, 0x47, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* End marker for the block orders below. */
#define GAP 0xfffffffeu
#define END 0xffffffffu

static unsigned fragmentation_of(const uint8_t *raw, size_t size)
{
    struct vdsshim_image *img = open_mem_image(raw, size, 0);
    unsigned pct = 12345;

    assert_status(vdsshim_fragmentation(img, &pct), VDSSHIM_OK);
    vdsshim_close(img);
    return pct;
}

/* A dynamic VHD of 16 MiB in 2 MiB blocks, blocks appended in the given order. */
static unsigned vhd_with_order(const uint32_t *order)
{
    struct vhd_builder b;
    uint8_t *d = malloc(2 * MiB);
    unsigned pct;
    size_t size;

    vb_init(&b, 16 * MiB, 2 * MiB, uid, NULL);
    for (; *order != END; order++)
    {
        if (*order == GAP)
        {
            vb_add_gap(&b, 4096);
            continue;
        }
        fill_random(d, 2 * MiB, *order + 1);
        vb_add_block(&b, *order, NULL, d);
    }
    vb_finish(&b, &size);
    pct = fragmentation_of(b.data, size);
    vb_free(&b);
    free(d);
    return pct;
}

static unsigned vhdx_with_order(const uint32_t *order)
{
    struct vhdx_builder b;
    uint8_t *d = malloc(MiB);
    unsigned pct;
    size_t size;

    xb_init(&b, 16 * MiB, (uint32_t)MiB, 512, uid, NULL, NULL);
    for (; *order != END; order++)
    {
        if (*order == GAP)
        {
            xb_add_gap(&b, MiB);
            continue;
        }
        fill_random(d, MiB, *order + 1);
        xb_add_block(&b, *order, 6, d, NULL);
    }
    xb_finish(&b, &size);
    pct = fragmentation_of(b.data, size);
    xb_free(&b);
    free(d);
    return pct;
}

static void test_vhd_orders(void **state)
{
    static const uint32_t none[] = { END };
    static const uint32_t one[] = { 5, END };
    static const uint32_t linear[] = { 0, 1, 2, 3, END };
    static const uint32_t sparse_linear[] = { 0, 3, 7, END };        /* holes in virtual order are not fragments */
    static const uint32_t shuffled[] = { 2, 0, 1, 3, END };          /* 2 and 3 each start elsewhere: 2 of 4 */
    static const uint32_t gap[] = { 0, 1, GAP, 2, END };              /* a gap in the file breaks the run: 1 of 3 */
    static const uint32_t reversed[] = { 3, 2, 1, 0, END };          /* 3 of 4 */

    (void)state;
    assert_int_equal(vhd_with_order(none), 0);
    assert_int_equal(vhd_with_order(one), 0);
    assert_int_equal(vhd_with_order(linear), 0);
    assert_int_equal(vhd_with_order(sparse_linear), 0);
    assert_int_equal(vhd_with_order(shuffled), 50);
    assert_int_equal(vhd_with_order(gap), 33);
    assert_int_equal(vhd_with_order(reversed), 75);
}

static void test_vhdx_orders(void **state)
{
    static const uint32_t linear[] = { 0, 1, 2, 3, 4, 5, 6, 7, END };
    static const uint32_t swapped[] = { 1, 0, 2, END };              /* 1 and 2 start elsewhere: 2 of 3 */
    static const uint32_t gap[] = { 4, 5, 6, GAP, 7, END };          /* 1 of 4 */

    (void)state;
    assert_int_equal(vhdx_with_order(linear), 0);
    assert_int_equal(vhdx_with_order(swapped), 66);
    assert_int_equal(vhdx_with_order(gap), 25);
}

/* Fixed disks have no BAT (VHD) or one linear run (VHDX): 0. */
static void test_fixed_disks(void **state)
{
    static const enum vdsshim_format formats[] = { VDSSHIM_FORMAT_VHD, VDSSHIM_FORMAT_VHDX };
    unsigned i;

    (void)state;
    for (i = 0; i < 2; i++)
    {
        struct vdsshim_create_params p = { 0 };
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_image *img;
        const char *path = i ? "frag_fixed.vhdx" : "frag_fixed.vhd";
        unsigned pct = 12345;

        remove(path);
        p.format = formats[i];
        p.type = VDSSHIM_DISK_FIXED;
        p.virtual_size = 8 * MiB;
        assert_status(vdsshim_create(path, &p, &diag), VDSSHIM_OK);
        assert_status(vdsshim_open(path, 0, &img, &diag), VDSSHIM_OK);
        assert_status(vdsshim_fragmentation(img, &pct), VDSSHIM_OK);
        assert_int_equal(pct, 0);
        vdsshim_close(img);
        remove(path);
    }
}

/* Compaction moves the last blocks into holes: what it leaves is measured
 * as it lies (here a dropped zero block's hole is filled by the last one). */
static void test_after_compaction(void **state)
{
    struct vdsshim_compact_result res;
    struct vhd_builder b;
    uint8_t *d = malloc(2 * MiB), *out;
    size_t size, out_size;

    (void)state;
    vb_init(&b, 16 * MiB, 2 * MiB, uid, NULL);
    fill_random(d, 2 * MiB, 1);
    vb_add_block(&b, 0, NULL, d);
    vb_add_block(&b, 1, NULL, NULL);     /* zeros: compaction drops it */
    vb_add_block(&b, 2, NULL, d);
    vb_add_block(&b, 3, NULL, d);
    vb_finish(&b, &size);
    assert_int_equal(fragmentation_of(b.data, size), 0);
    out = compact_in_memory(b.data, size, "frag.vhd", 0, VDSSHIM_OK, &res, &out_size);
    /* Block 3 moved into block 1's place: 0, 3 at the front, 2 after them.
     * Walk: 0 first; 2 does not follow 0 (3 sits there); 3 does not follow 2. */
    assert_int_equal(fragmentation_of(out, out_size), 66);
    free(out);
    vb_free(&b);
    free(d);
}

static void test_bad_arguments(void **state)
{
    unsigned pct = 7;

    (void)state;
    assert_status(vdsshim_fragmentation(NULL, &pct), VDSSHIM_E_INVALID_ARG);
    assert_int_equal(pct, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_vhd_orders),
        cmocka_unit_test(test_vhdx_orders),
        cmocka_unit_test(test_fixed_disks),
        cmocka_unit_test(test_after_compaction),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
