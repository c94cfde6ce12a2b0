/*
 * Crash safety of VHDX compaction: the shared sweep (power cut after every
 * write and truncate, EIO/ENOSPC at every write, every flush, the truncate)
 * over a dynamic and a differencing disk whose BAT changes go through the
 * log in several entries; plus a corpus of mutated images.
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fault_sweep.h"
#include "vhd_builder.h"
#include "vhdx.h"
#include "vhdx_builder.h"

#define BS ((uint32_t)MiB)


static const uint8_t dwg_parent[16] = { 0xd0, 0xd1, 0xd2, 0xd3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t dwg_child[16] = { 0xc0, 0xc1, 0xc2, 0xc3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* 16 blocks of 1 MiB (the smallest VHDX block), 10 with space in shuffled
 * order: zero-filled, random, and non-present blocks still holding space. */
static void build(struct scenario *sc, int differencing)
{
    struct vhdx_builder b;
    uint8_t *d = malloc(BS), *bits = calloc(1, BS / 512 / 8);
    char linkage[39];
    unsigned i;

    bits[0] = 0x0f;
    xb_guid_text(dwg_parent, linkage);
    xb_init(&b, 16 * (uint64_t)BS, BS, 512, differencing ? dwg_child : dwg_parent,
            differencing ? linkage : NULL, differencing ? "fault-parent.vhdx" : NULL);
    for (i = 0; i < 10; i++)
    {
        uint64_t block = (i * 7u) % 16;
        unsigned state = VHDX_PAYLOAD_FULLY_PRESENT;
        fill_random(d, BS, differencing && i % 2 ? (uint32_t)block : 500 + i);   /* odd: parent's data */
        if (i % 3 == 0) memset(d, 0, BS);
        if (i % 7 == 4) state = VHDX_PAYLOAD_ZERO;
        if (i % 9 == 8) block = 15;     /* the top block: it must move */
        if (differencing && i % 5 == 1) state = VHDX_PAYLOAD_PARTIALLY_PRESENT;
        xb_add_block(&b, block, state, d, state == VHDX_PAYLOAD_PARTIALLY_PRESENT ? bits : NULL);
    }
    xb_finish(&b, &sc->size);
    sc->raw = malloc(sc->size);
    memcpy(sc->raw, b.data, sc->size);
    sc->path = "child.vhdx";
    xb_free(&b);
    free(d);
    free(bits);
}

static void write_parent(void)
{
    struct vhdx_builder b;
    uint8_t *d = malloc(BS);
    size_t size;
    unsigned i;

    xb_init(&b, 16 * (uint64_t)BS, BS, 512, dwg_parent, NULL, NULL);
    for (i = 0; i < 10; i++)
    {
        uint64_t block = (i * 7u) % 16;
        if (i % 4 == 3) continue;
        fill_random(d, BS, (uint32_t)block);
        xb_add_block(&b, block, VHDX_PAYLOAD_FULLY_PRESENT, d, NULL);
    }
    xb_finish(&b, &size);
    write_file("fault-parent.vhdx", b.data, size);
    xb_free(&b);
    free(d);
}

static void prepare(struct scenario *sc, int differencing)
{
    sweep_move_batch_bytes = 1 * MiB;    /* several log entries per run */
    if (differencing) write_parent();
    build(sc, differencing);
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

/*
 * Replay is crash-safe too. A log entry that rewrites one data sector of an
 * allocated block (so replaying it changes what the guest reads, as another
 * writer's entries do) is made durable and left unapplied; the read-write
 * open that replays it is then cut after each of its own writes, in every
 * crash state: the image must read either as replayed, and open again.
 */
static void test_replay_power_cuts(void **state)
{
    struct scenario sc = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan0 = { 0 };
    struct vdsshim_io *mem, *io, *kept = NULL;
    struct vdsshim_image *img;
    struct vhdx *v;
    uint8_t *pending = NULL, *sector = malloc(VHDX_LOG_SECTOR);
    const uint8_t *d;
    size_t npending = 0;
    uint64_t k, tried = 0, b, at = 0, guest = 0;

    (void)state;
    prepare(&sc, 0);
    /* Restart (2 header writes), then the entry: cut after it, applied. */
    plan0.cut_after_write = 3;
    plan0.cut_mode = VDSSHIM_CUT_APPLY;
    plan0.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(sc.raw, sc.size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan0, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, sc.path, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    v = img->fmt;
    for (b = 0; b < v->payload_blocks && !at; b++)
        if (VHDX_BAT_STATE(vhdx_bat_get(&v->bat, vhdx_payload_index(v, b))) == VHDX_PAYLOAD_FULLY_PRESENT)
        {
            at = VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, vhdx_payload_index(v, b))) + 8192;
            guest = b * v->meta.block_size + 8192;
        }
    assert_true(at != 0);
    memset(sector, 0xee, VHDX_LOG_SECTOR);
    assert_status(vhdx_log_restart(img, v, &diag), VDSSHIM_OK);
    assert_status(vhdx_log_commit(img, v, &at, &sector, 1, v->file_size, v->file_size, &diag), VDSSHIM_E_IO);
    vdsshim_close(img);
    d = vdsshim_io_mem_data(kept, &npending);
    pending = malloc(npending);
    memcpy(pending, d, npending);
    vdsshim_io_close(kept);
    kept = NULL;
    /* What the guest reads once the entry is replayed. */
    memset(sc.content + guest, 0xee, VHDX_LOG_SECTOR);
    img = open_mem_image(pending, npending, 0);
    assert_true(((struct vhdx *)img->fmt)->log.replayed);
    vdsshim_close(img);
    assert_non_null(pending);
    for (k = 1;; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        uint64_t npend = 0;
        char name[96];
        unsigned m;
        int done = 0;

        for (m = 0; crash_state(m, npend, &plan, name, sizeof(name)); m++)
        {
            struct vdsshim_fault_counters c = { 0 };
            struct vdsshim_io *mem, *io, *kept = NULL;
            struct vdsshim_image *img;
            const uint8_t *d;
            uint8_t *now;
            uint64_t vs;
            size_t n;
            int st;

            plan.cut_after_write = k;
            plan.inner_on_close = &kept;
            plan.counters_on_close = &c;
            assert_status(vdsshim_io_open_mem(pending, npending, &mem), VDSSHIM_OK);
            assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
            st = vdsshim_open_io(io, sc.path, VDSSHIM_OPEN_WRITE, &img, &diag);
            if (st == VDSSHIM_OK) vdsshim_close(img);
            npend = c.pending_at_cut;
            if (st == VDSSHIM_OK && k > c.writes)
            {
                done = 1;               /* past the open's last write */
                vdsshim_io_close(kept);
                break;
            }
            assert_status(st, VDSSHIM_E_IO);
            d = vdsshim_io_mem_data(kept, &n);
            img = open_mem_image(d, n, 0);
            now = read_all(img, &vs);
            if (vs != sc.vsize || memcmp(now, sc.content, (size_t)vs))
                fail_msg("replay cut after write %llu, %s: the guest would read different data", (unsigned long long)k, name);
            free(now);
            vdsshim_close(img);
            vdsshim_close(open_mem_image(d, n, VDSSHIM_OPEN_WRITE));    /* and it replays again */
            vdsshim_io_close(kept);
            tried++;
        }
        if (done) break;
    }
    print_message("replay: %llu crash states tried\n", (unsigned long long)tried);
    assert_true(tried >= 6);
    free(pending);
    free(sector);
    scenario_free(&sc);
}

/* Mutants of the metadata areas and truncations: refused untouched, or accepted unchanged. */
static void test_bad_input_corpus(void **state)
{
    static const uint64_t areas[][2] =
    {
        { 64 * 1024, 4096 }, { 128 * 1024, 4096 }, { 192 * 1024, 256 }, { 2 * MiB, 256 },
        { 2 * MiB + 65536, 64 }, { 3 * MiB, 8 * 48 },
    };
    struct scenario sc = { 0 };
    unsigned i, refused = 0, accepted = 0;
    uint32_t rng = 777;

    (void)state;
    build(&sc, 0);
    for (i = 0; i < 300; i++)
    {
        uint8_t *m = malloc(sc.size);
        size_t size = sc.size;

        memcpy(m, sc.raw, sc.size);
        rng = rng * 1103515245u + 12345u;
        if (i % 5 == 4)
            size = (rng >> 4) % sc.size;
        else
        {
            const uint64_t *a = areas[(rng >> 8) % 6];
            m[a[0] + (rng >> 12) % a[1]] ^= (uint8_t)(1u << (rng % 8));
            /* Fix the checksum of a mutated header half of the time: then the field itself is judged. */
            if (a[0] < 192 * 1024 && (rng >> 30) & 1)
                put_le32(m + a[0] + 4, crc32c_with_zero_field(m + a[0], 4096, 4));
        }
        corpus_judge(m, size, "mutant.vhdx", i, &refused, &accepted);
        free(m);
    }
    assert_true(refused > 80);
    assert_true(accepted > 20);
    free(sc.raw);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_power_cut_dynamic),
        cmocka_unit_test(test_power_cut_dynamic_read_write),
        cmocka_unit_test(test_errors_dynamic),
        cmocka_unit_test(test_power_cut_differencing),
        cmocka_unit_test(test_replay_power_cuts),
        cmocka_unit_test(test_bad_input_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
