/*
 * Crash safety of VHD compaction. For every write index k of a compaction:
 *  - cut the power after write k, with unflushed writes dropped, applied, or
 *    torn at 512 bytes (several seeds): the disk must open, read exactly as
 *    before, and a re-run must end at the size of an uninterrupted run;
 *  - fail write k (EIO or ENOSPC): the error is reported, same checks.
 * Also every flush and the truncate, and a corpus of mutated images: a
 * refused image is never written, an accepted one never changes content.
 */
#include <stdlib.h>
#include <string.h>

#include "fault_sweep.h"
#include "vhd.h"
#include "vhd_builder.h"

#define BS (64u << 10)
#define SPAN (512u + BS)

static const uint8_t uid_parent[16] = { 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uid_child[16] = { 0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/*
 * 300 blocks (the BAT spans three sectors), 40 allocated across the range in
 * shuffled file order; every third one zero. With the batch lowered, moves
 * commit in several batches.
 */
static void build_dynamic_ex(struct scenario *sc, int differencing, int batmap)
{
    struct vhd_builder b;
    uint8_t *d = malloc(BS);
    uint8_t partial[16];
    unsigned i;

    memset(partial, 0, sizeof(partial));
    partial[0] = 0xc0;
    vb_init(&b, 300 * (uint64_t)BS, BS, differencing ? uid_child : uid_parent, differencing ? uid_parent : NULL);
    if (batmap) vb_add_batmap(&b);
    if (differencing) vb_add_locator(&b, VHD_PLAT_W2RU, "fault-parent.vhd");
    for (i = 0; i < 40; i++)
    {
        uint32_t index = (i * 7919u) % 300;
        fill_random(d, BS, differencing ? index : 1000 + i);   /* differencing: parent data, droppable */
        if (i % 3 == 0) memset(d, 0, BS);
        if (differencing && i % 4 == 1) fill_random(d, BS, 5000 + i);  /* really differs */
        vb_add_block(&b, index, differencing && i % 5 == 2 ? partial : NULL, d);
    }
    vb_finish(&b, &sc->size);
    sc->raw = malloc(sc->size);
    memcpy(sc->raw, b.data, sc->size);
    vb_free(&b);
    free(d);
}

static void build_dynamic(struct scenario *sc, int differencing)
{
    build_dynamic_ex(sc, differencing, 0);
}

/* The parent of the differencing scenario: every block it could consult. */
static void write_parent(void)
{
    struct vhd_builder b;
    uint8_t *d = malloc(BS);
    size_t size;
    unsigned i;

    vb_init(&b, 300 * (uint64_t)BS, BS, uid_parent, NULL);
    for (i = 0; i < 40; i++)
    {
        uint32_t index = (i * 7919u) % 300;
        fill_random(d, BS, index);
        if (i % 6 == 3) continue;       /* some parent blocks absent: zeros below */
        vb_add_block(&b, index, NULL, d);
    }
    vb_finish(&b, &size);
    write_file("fault-parent.vhd", b.data, size);
    vb_free(&b);
    free(d);
}

static void prepare(struct scenario *sc, int differencing)
{
    sweep_move_batch_bytes = 3 * SPAN;
    if (differencing) write_parent();
    build_dynamic(sc, differencing);
    sc->path = "child.vhd";
    scenario_prepare(sc);
}

static void test_power_cut_dynamic(void **state)
{
    struct scenario sc = { 0 };

    (void)state;
    prepare(&sc, 0);
    sweep_power_cuts(&sc);
    scenario_free(&sc);
}

/* A blktap batmap: its bits are cleared, then its checksum, with a flush
 * between (a header whose checksum matches no bitmap is corrupt). */
static void test_power_cut_batmap(void **state)
{
    struct scenario sc = { 0 };

    (void)state;
    sweep_move_batch_bytes = 3 * SPAN;
    build_dynamic_ex(&sc, 0, 1);
    sc.path = "batmap.vhd";
    scenario_prepare(&sc);
    sweep_power_cuts(&sc);
    scenario_free(&sc);
}

/* The same sweep where the backend refuses copy_range and punch: block
 * moves go through a buffer (the fall-back path of file_ranges.c). */
static void test_power_cut_dynamic_read_write(void **state)
{
    struct scenario sc = { 0 };

    (void)state;
    sc.refuse_ranges = 1;
    prepare(&sc, 0);
    assert_int_equal(sc.refuse_ranges, 1);
    sweep_power_cuts(&sc);
    scenario_free(&sc);
}

static void test_errors_dynamic(void **state)
{
    struct scenario sc = { 0 };

    (void)state;
    prepare(&sc, 0);
    sweep_errors(&sc);
    scenario_free(&sc);
}

static void test_power_cut_differencing(void **state)
{
    struct scenario sc = { 0 };

    (void)state;
    prepare(&sc, 1);
    sweep_power_cuts(&sc);
    sweep_errors(&sc);
    scenario_free(&sc);
}

/* Mutants: bit flips in metadata, truncations, swapped BAT entries. */
static void test_bad_input_corpus(void **state)
{
    struct scenario sc = { 0 };
    unsigned i, refused = 0, accepted = 0;
    uint32_t rng = 12345;

    (void)state;
    sweep_move_batch_bytes = 3 * SPAN;
    build_dynamic(&sc, 0);
    for (i = 0; i < 400; i++)
    {
        uint8_t *m = malloc(sc.size);
        size_t size = sc.size;

        memcpy(m, sc.raw, sc.size);
        rng = rng * 1103515245u + 12345u;
        switch (i % 4)
        {
        case 0:     /* a bit in the footer copy, header or BAT */
            m[(rng >> 8) % 3072] ^= (uint8_t)(1u << (rng % 8));
            break;
        case 1:     /* a bit in the footer at the end */
            m[sc.size - 512 + (rng >> 8) % 512] ^= (uint8_t)(1u << (rng % 8));
            break;
        case 2:     /* truncated anywhere */
            size = (rng >> 4) % sc.size;
            break;
        default:    /* one BAT entry copied over another */
            memcpy(m + 1536 + 4 * ((rng >> 8) % 300), m + 1536 + 4 * ((rng >> 20) % 300), 4);
            break;
        }
        corpus_judge(m, size, "mutant.vhd", i, &refused, &accepted);
        free(m);
    }
    /* The corpus must exercise both outcomes to mean anything. */
    assert_true(refused > 100);
    assert_true(accepted > 20);
    free(sc.raw);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_power_cut_dynamic),
        cmocka_unit_test(test_power_cut_dynamic_read_write),
        cmocka_unit_test(test_power_cut_batmap),
        cmocka_unit_test(test_errors_dynamic),
        cmocka_unit_test(test_power_cut_differencing),
        cmocka_unit_test(test_bad_input_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
