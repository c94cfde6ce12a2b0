/*
 * The relocation planner: the smallest reachable end, the fewest moves, and
 * the ordering rule (a target never overlaps a source that is still in use).
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "test_util.h"

#define M (1ull << 20)

static void run(struct plan_object *objs, size_t n, uint64_t align, struct plan_move **moves, size_t *nmoves,
                size_t *barrier, uint64_t *end)
{
    assert_status(plan_relocation(objs, n, align, moves, nmoves, barrier, end), VDSSHIM_OK);
}

/* Everything the executors rely on, checked for any plan. */
static void check_invariants(const struct plan_object *in, size_t n, uint64_t align, const struct plan_move *mv,
                             size_t nm, size_t barrier, uint64_t end)
{
    size_t i, j;

    for (i = 0; i < nm; i++)
    {
        const struct plan_object *src = NULL;
        for (j = 0; j < n; j++)
            if (in[j].start == mv[i].from) src = &in[j];
        assert_non_null(src);
        assert_true(src->movable);
        assert_true(src->start + src->size > end);         /* only what ends above the end moves */
        assert_int_equal(mv[i].to % align, 0);
        assert_true(mv[i].to + mv[i].size <= end);
        /* A target never overlaps an object that stays, nor another target. */
        for (j = 0; j < n; j++)
        {
            int moved = 0;
            size_t k;
            for (k = 0; k < nm; k++) moved |= mv[k].from == in[j].start;
            if (!moved)
                assert_false(mv[i].to < in[j].start + in[j].size && in[j].start < mv[i].to + mv[i].size);
        }
        for (j = 0; j < nm; j++)
            if (j != i) assert_false(mv[i].to < mv[j].to + mv[j].size && mv[j].to < mv[i].to + mv[i].size);
        /* A target may overlap the source of an earlier, committed move only. */
        for (j = 0; j < nm; j++)
            if (mv[i].to < mv[j].from + mv[j].size && mv[j].from < mv[i].to + mv[i].size)
                assert_true(j < barrier && i >= barrier);
    }
    for (i = 0; i < n; i++)
    {
        int moved = 0;
        for (j = 0; j < nm; j++) moved |= mv[j].from == in[i].start;
        if (!moved) assert_true(in[i].start + in[i].size <= end);
    }
    /* After the barrier, the writes go forward through the file. */
    for (i = barrier + 1; i < nm; i++) assert_true(mv[i - 1].to < mv[i].to);
}

static void test_plan_straddler_first(void **state)
{
    /* qemu's 32 MiB-block VHDX after drops: metadata to 4 MiB, blocks at 40 and 168 MiB. */
    struct plan_object objs[] =
    {
        { 0, 4 * M, 0, 0 },
        { 168 * M, 32 * M, 15, 1 },
        { 40 * M, 32 * M, 2, 1 },
    };
    struct plan_object copy[3];
    struct plan_move *mv;
    size_t nm, barrier;
    uint64_t end;

    (void)state;
    memcpy(copy, objs, sizeof(objs));
    run(objs, 3, M, &mv, &nm, &barrier, &end);
    assert_int_equal(end, 68 * M);                      /* a greedy top-down plan stops at 72 */
    assert_int_equal(nm, 2);
    assert_int_equal(barrier, 1);
    assert_int_equal(mv[0].id, 2);
    assert_int_equal(mv[0].to, 4 * M);
    assert_int_equal(mv[1].id, 15);
    assert_int_equal(mv[1].to, 36 * M);                 /* into the slot block 2 left */
    check_invariants(copy, 3, M, mv, nm, barrier, end);
    free(mv);
}

static void test_plan_fixed_above_blocks(void **state)
{
    struct plan_object objs[] =
    {
        { 0, 3 * M, 0, 0 },
        { 3 * M, M, 1, 1 },
        { 10 * M, M, 2, 1 },
        { 20 * M, 2 * M, 0, 0 },        /* metadata at the top: the end cannot go lower */
    };
    struct plan_move *mv;
    size_t nm, barrier;
    uint64_t end;

    (void)state;
    run(objs, 4, M, &mv, &nm, &barrier, &end);
    assert_int_equal(end, 22 * M);
    assert_int_equal(nm, 0);
    free(mv);
}

static void test_plan_mixed_sizes(void **state)
{
    /* 8 MiB payload blocks and 1 MiB bitmap blocks, holes of odd sizes. */
    struct plan_object objs[] =
    {
        { 0, 4 * M, 0, 0 },
        { 5 * M, M, 100, 1 },           /* a bitmap block leaving a 1 MiB hole below it */
        { 16 * M, 8 * M, 1, 1 },
        { 40 * M, M, 101, 1 },
        { 50 * M, 8 * M, 2, 1 },
        { 70 * M, 8 * M, 3, 1 },
    };
    struct plan_object copy[6];
    struct plan_move *mv;
    size_t nm, barrier;
    uint64_t end;

    (void)state;
    memcpy(copy, objs, sizeof(objs));
    run(objs, 6, M, &mv, &nm, &barrier, &end);
    /* 30 MiB of objects, but reaching 30 would also move the block at 16 MiB,
     * which already lies below the end: only blocks beyond the end move, so
     * the end is 32 (bitmap into the 1 MiB hole at 4, payloads to 6 and 24). */
    assert_int_equal(end, 32 * M);
    assert_int_equal(nm, 3);
    check_invariants(copy, 6, M, mv, nm, barrier, end);
    free(mv);
}

static void test_plan_random_layouts(void **state)
{
    uint32_t rng = 99;
    unsigned iter;

    (void)state;
    for (iter = 0; iter < 2000; iter++)
    {
        struct plan_object objs[40], copy[40];
        struct plan_move *mv;
        size_t n = 0, nm, barrier, i;
        uint64_t pos = 0, end, total = 0, span = 512 * (1 + iter % 5);

        /* Sectors as the unit: fixed metadata first, then blocks with random gaps. */
        objs[n++] = (struct plan_object){ 0, 3 * 512, 0, 0 };
        pos = 3 * 512;
        while (n < 40)
        {
            rng = rng * 1103515245u + 12345u;
            pos += 512 * ((rng >> 16) % 4);
            if ((rng >> 8) % 17 == 0)
                objs[n] = (struct plan_object){ pos, 512, 0, 0 };           /* locator data in the way */
            else
                objs[n] = (struct plan_object){ pos, span, n, 1 };
            pos += objs[n].size;
            total += objs[n].size;
            n++;
        }
        memcpy(copy, objs, sizeof(objs));
        run(objs, n, 512, &mv, &nm, &barrier, &end);
        check_invariants(copy, n, 512, mv, nm, barrier, end);
        assert_true(end <= pos);
        assert_true(end >= 3 * 512 + total);        /* never below the bytes that exist */
        for (i = 0; i < nm; i++) assert_int_equal(mv[i].size, span);
        free(mv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_plan_straddler_first),
        cmocka_unit_test(test_plan_fixed_above_blocks),
        cmocka_unit_test(test_plan_mixed_sizes),
        cmocka_unit_test(test_plan_random_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
