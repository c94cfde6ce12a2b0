/*
 * vdsshim_merge: VHD and VHDX children (full and partial blocks, blocks the
 * parent has and has not allocated, zero blocks) merged into their parent,
 * a depth-2 merge into a grandparent, a differencing target, the refusals,
 * and a power cut after every write of the target (drop, apply, tear): the
 * chain still reads the child's content, the target reads, unit by unit,
 * either what it read before or what the child reads, and a re-run makes
 * the target read exactly as the child.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhd.h"
#include "fault_sweep.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1ull << 20)
#define VBS (64u << 10)         /* VHD block size of these chains */
#define VBLOCKS 48u

static const uint8_t uid_g[16] = { 0x91, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uid_p[16] = { 0x92, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uid_c[16] = { 0x93, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* The merge target's file goes through a fault plan (image_open_file_hook). */
static const char *hook_target;
static struct vdsshim_fault_plan hook_plan;
static struct vdsshim_fault_counters hook_counters;
static struct vdsshim_io *hook_kept;

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    d = malloc(n ? (size_t)n : 1);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return d;
}

static int hook_open(const char *path, int writable, struct vdsshim_io **out)
{
    size_t n = strlen(path), m = strlen(hook_target), size;
    struct vdsshim_io *mem;
    uint8_t *d;

    if (!writable || n < m || strcmp(path + n - m, hook_target)) return vdsshim_io_open_file(path, writable, out);
    d = slurp(path, &size);
    assert_status(vdsshim_io_open_mem(d, size, &mem), VDSSHIM_OK);
    free(d);
    hook_plan.inner_on_close = &hook_kept;
    hook_plan.counters_on_close = &hook_counters;
    return vdsshim_io_fault_wrap(mem, &hook_plan, out);
}

/* Write the target's state back to its file (what a crash left there). */
static void hook_store(void)
{
    const uint8_t *d;
    size_t n;

    assert_non_null(hook_kept);
    d = vdsshim_io_mem_data(hook_kept, &n);
    write_file(hook_target, d, n);
    vdsshim_io_close(hook_kept);
    hook_kept = NULL;
}

static uint8_t *view(const char *path, unsigned flags, uint64_t *vs)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint8_t *d;
    int st = vdsshim_open(path, flags, &img, &diag);

    if (st) fail_msg("open %s: %s", path, diag.msg);
    d = read_all(img, vs);
    vdsshim_close(img);
    return d;
}

struct chain
{
    const char *child, *parent, *grand;     /* grand NULL: two levels */
    uint8_t *child_view, *parent_view;      /* before any merge */
    uint64_t vsize;
};

/* VHD chain: parent (dynamic, or a child of grand) and child with full and partial blocks. */
static void build_vhd_chain(struct chain *c)
{
    struct vhd_builder b;
    uint8_t *d = malloc(VBS), bits[VBS / 512 / 8];
    size_t size;
    unsigned i;

    if (c->grand)
    {
        vb_init(&b, VBLOCKS * (uint64_t)VBS, VBS, uid_g, NULL);
        for (i = 0; i < VBLOCKS; i += 3)
        {
            fill_random(d, VBS, 100 + i);
            vb_add_block(&b, i, NULL, d);
        }
        vb_finish(&b, &size);
        write_file(c->grand, b.data, size);
        vb_free(&b);
    }
    vb_init(&b, VBLOCKS * (uint64_t)VBS, VBS, uid_p, c->grand ? uid_g : NULL);
    if (c->grand) vb_add_locator(&b, VHD_PLAT_W2RU, c->grand);
    /* Every fourth block, and 46: the child's last block then lands in
     * place, so the merge ends with writes only its closing flush secures. */
    for (i = 0; i < VBLOCKS; i = i == 44 ? 46 : i + 4)
    {
        fill_random(d, VBS, 200 + i);
        memset(bits, 0, sizeof(bits));
        memset(bits + sizeof(bits) / 2, 0xff, sizeof(bits) / 2);   /* a differencing parent: its second half */
        vb_add_block(&b, i, c->grand ? bits : NULL, d);
    }
    vb_finish(&b, &size);
    write_file(c->parent, b.data, size);
    vb_free(&b);

    vb_init(&b, VBLOCKS * (uint64_t)VBS, VBS, uid_c, uid_p);
    vb_add_locator(&b, VHD_PLAT_W2RU, c->parent);
    for (i = 1; i < VBLOCKS; i += 5)
    {
        fill_random(d, VBS, 300 + i);
        if (i % 3 == 0) memset(d, 0, VBS);          /* zeros that mask the parent */
        memset(bits, 0, sizeof(bits));
        bits[0] = 0xf0;                              /* sectors 0-3 */
        bits[5] = 0x81;                              /* sectors 40 and 47 */
        vb_add_block(&b, i, i % 2 ? NULL : bits, d);
    }
    vb_finish(&b, &size);
    write_file(c->child, b.data, size);
    vb_free(&b);
    free(d);
}

/* VHDX chain: a dynamic parent, a child with full, partial and zero blocks. */
static void build_vhdx_chain(struct chain *c)
{
    static const uint8_t dwg_p[16] = { 0xa2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    struct vhdx_builder b;
    uint8_t *d = malloc(MiB), bits[MiB / 512 / 8];
    char linkage[39];
    size_t size;
    unsigned i;

    /* Small (8 blocks): every case of the sweep writes the chain afresh. */
    xb_init(&b, 8 * MiB, MiB, 512, dwg_p, NULL, NULL);
    for (i = 0; i < 8; i += 3)
    {
        fill_random(d, MiB, 500 + i);
        xb_add_block(&b, i, 6, d, NULL);
    }
    xb_finish(&b, &size);
    write_file(c->parent, b.data, size);
    xb_free(&b);

    xb_guid_text(dwg_p, linkage);
    xb_init(&b, 8 * MiB, MiB, 512, uid_c, linkage, c->parent);
    for (i = 0; i < 8; i += 2)
    {
        fill_random(d, MiB, 600 + i);
        memset(bits, 0, sizeof(bits));
        memset(bits + 10, 0x0f, 7);                 /* some sectors, LSB first */
        bits[255] = 0x80;
        if (i % 8 == 6) xb_set_state(&b, i, 2);     /* ZERO: masks the parent */
        else xb_add_block(&b, i, i % 4 ? 7 : 6, d, i % 4 ? bits : NULL);
    }
    xb_finish(&b, &size);
    write_file(c->child, b.data, size);
    xb_free(&b);
    free(d);
}

static void chain_prepare(struct chain *c)
{
    uint64_t vs;

    c->child_view = view(c->child, 0, &c->vsize);
    c->parent_view = view(c->parent, 0, &vs);
    assert_int_equal(vs, c->vsize);
    /* The scenario means something: the views differ. */
    assert_true(memcmp(c->child_view, c->parent_view, (size_t)vs) != 0);
}

static int run_merge(const struct chain *c, unsigned depth, struct vdsshim_merge_result *res)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    int st = vdsshim_open(c->child, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(depth), &img, &diag);

    if (st) fail_msg("open %s: %s", c->child, diag.msg);
    st = vdsshim_merge(img, depth, NULL, res, &diag);
    if (st && strlen(diag.msg) < 10) fail_msg("no reason for %s", vdsshim_status_name(st));
    vdsshim_close(img);
    return st;
}

/* After a crash: the chain reads the child's content; the target reads old or new per unit. */
static void check_crash_state(const struct chain *c, const char *what, uint64_t k)
{
    uint64_t vs, i;
    uint8_t *cv = view(c->child, 0, &vs), *pv;

    if (memcmp(cv, c->child_view, (size_t)vs))
        fail_msg("%s after write %llu: the chain reads different data", what, (unsigned long long)k);
    pv = view(c->parent, VDSSHIM_OPEN_NO_PARENTS * !c->grand, &vs);
    for (i = 0; i < vs; i += 512)
        if (memcmp(pv + i, c->parent_view + i, 512) && memcmp(pv + i, c->child_view + i, 512))
            fail_msg("%s after write %llu: the parent's sector at %llu is neither its old data nor the child's",
                     what, (unsigned long long)k, (unsigned long long)i);
    free(cv);
    free(pv);
}

static void expect_merged(const struct chain *c, const char *target)
{
    uint64_t vs;
    uint8_t *tv = view(target, 0, &vs), *cv = view(c->child, 0, &vs);

    assert_memory_equal(tv, c->child_view, (size_t)vs);
    assert_memory_equal(cv, c->child_view, (size_t)vs);
    free(tv);
    free(cv);
}

static void sweep(struct chain *c, void (*build)(struct chain *))
{
    struct vdsshim_merge_result res;
    uint64_t writes, k;
    unsigned m;

    build(c);
    chain_prepare(c);
    hook_target = c->parent;
    image_open_file_hook = hook_open;
    memset(&hook_plan, 0, sizeof(hook_plan));
    assert_status(run_merge(c, 1, &res), VDSSHIM_OK);
    hook_store();
    expect_merged(c, c->parent);
    writes = hook_counters.writes;
    print_message("%s: %llu bytes merged, %llu blocks allocated, %llu writes, %llu flushes\n", c->child,
                  (unsigned long long)res.bytes_merged, (unsigned long long)res.blocks_allocated,
                  (unsigned long long)writes, (unsigned long long)hook_counters.flushes);
    assert_true(res.bytes_merged > 0 && res.blocks_allocated > 0 && writes >= 10);
    /* Success means durable: a power cut at close, unflushed writes lost, keeps the merge. */
    build(c);
    memset(&hook_plan, 0, sizeof(hook_plan));
    hook_plan.cut_at_close = 1;
    hook_plan.cut_mode = VDSSHIM_CUT_DROP;
    assert_status(run_merge(c, 1, &res), VDSSHIM_OK);
    hook_store();
    expect_merged(c, c->parent);
    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&hook_plan, 0, sizeof(hook_plan));
        for (m = 0; crash_state(m, pending, &hook_plan, name, sizeof(name)); m++)
        {
            build(c);
            hook_plan.cut_after_write = k;
            assert_status(run_merge(c, 1, &res), VDSSHIM_E_IO);
            hook_store();
            pending = hook_counters.pending_at_cut;
            check_crash_state(c, name, k);
            {
                struct vdsshim_fault_plan keep = hook_plan;
                memset(&hook_plan, 0, sizeof(hook_plan));
                if (run_merge(c, 1, &res)) fail_msg("%s after write %llu: the re-run failed", name, (unsigned long long)k);
                hook_store();
                expect_merged(c, c->parent);
                hook_plan = keep;
            }
        }
    }
    image_open_file_hook = NULL;
    free(c->child_view);
    free(c->parent_view);
}

static void test_vhd_power_cuts(void **state)
{
    struct chain c = { "m-child.vhd", "m-parent.vhd", NULL, NULL, NULL, 0 };

    (void)state;
    sweep(&c, build_vhd_chain);
}

/* The target is itself differencing: in-place writes set sector bitmap bits. */
static void test_vhd_power_cuts_differencing_target(void **state)
{
    struct chain c = { "d-child.vhd", "d-parent.vhd", "d-grand.vhd", NULL, NULL, 0 };

    (void)state;
    sweep(&c, build_vhd_chain);
}

static void test_vhdx_power_cuts(void **state)
{
    struct chain c = { "m-child.vhdx", "m-parent.vhdx", NULL, NULL, NULL, 0 };

    (void)state;
    sweep(&c, build_vhdx_chain);
}

/* Depth 2 into the grandparent; and depth 1 into a differencing parent. */
static void test_three_levels(void **state)
{
    struct chain c = { "t-child.vhd", "t-parent.vhd", "t-grand.vhd", NULL, NULL, 0 };
    struct vdsshim_merge_result res;
    uint8_t *before, *after;
    size_t n1, n2;

    (void)state;
    build_vhd_chain(&c);
    chain_prepare(&c);
    before = slurp(c.parent, &n1);
    assert_status(run_merge(&c, 2, &res), VDSSHIM_OK);
    expect_merged(&c, c.grand);
    /* The parent in between is not written (what it reads through the
     * grandparent changes, as merging into a shared ancestor does). */
    after = slurp(c.parent, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    free(before);
    free(after);
    free(c.child_view);
    free(c.parent_view);

    build_vhd_chain(&c);
    chain_prepare(&c);
    assert_status(run_merge(&c, 1, &res), VDSSHIM_OK);
    expect_merged(&c, c.parent);
    free(c.child_view);
    free(c.parent_view);
}

static void test_refusals(void **state)
{
    struct chain c = { "r-child.vhd", "r-parent.vhd", NULL, NULL, NULL, 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint64_t vs;
    uint8_t *pv;

    (void)state;
    build_vhd_chain(&c);
    chain_prepare(&c);
    assert_status(vdsshim_open(c.child, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_merge(img, 1, NULL, NULL, &diag), VDSSHIM_E_READONLY);
    assert_non_null(strstr(diag.msg, "read-only"));
    assert_status(vdsshim_merge(img, 0, NULL, NULL, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_merge(img, 2, NULL, NULL, &diag), VDSSHIM_E_INVALID_ARG);
    vdsshim_close(img);
    assert_status(vdsshim_open(c.parent, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_merge(img, 1, NULL, NULL, &diag), VDSSHIM_E_WRONG_TYPE);
    vdsshim_close(img);
    /* Writable parents need a writable child that opens its chain. */
    assert_status(vdsshim_open(c.child, VDSSHIM_OPEN_PARENTS_WRITE(1), &img, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_open(c.child, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS | VDSSHIM_OPEN_PARENTS_WRITE(1),
                               &img, &diag), VDSSHIM_E_INVALID_ARG);
    /* Nothing was written by any of that. */
    pv = view(c.parent, 0, &vs);
    assert_memory_equal(pv, c.parent_view, (size_t)vs);
    free(pv);
    free(c.child_view);
    free(c.parent_view);
}

static int cancel_after(void *ctx, unsigned pct)
{
    unsigned *calls = ctx;

    (void)pct;
    return ++*calls > 3;
}

/* Cancelled midway: E_CANCELLED, the chain reads as before, the parent holds
 * a prefix of the work, and a second merge finishes it. */
static void test_cancel(void **state)
{
    struct chain c = { "k-child.vhdx", "k-parent.vhdx", NULL, NULL, NULL, 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_merge_result res;
    struct vdsshim_image *img;
    unsigned calls = 0;

    (void)state;
    build_vhdx_chain(&c);
    chain_prepare(&c);
    opts.progress = cancel_after;
    opts.progress_ctx = &calls;
    assert_status(vdsshim_open(c.child, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(1), &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_merge(img, 1, &opts, &res, &diag), VDSSHIM_E_CANCELLED);
    assert_non_null(strstr(diag.msg, "cancelled"));
    vdsshim_close(img);
    check_crash_state(&c, "cancel", 0);
    assert_status(run_merge(&c, 1, &res), VDSSHIM_OK);
    expect_merged(&c, c.parent);
    free(c.child_view);
    free(c.parent_view);
}

/* Mutated children (bytes flipped in the footer, header, BAT and data): the
 * merge is refused with the parent byte-identical, or the parent ends up
 * reading exactly as the mutated child did. */
static void test_mutated_children(void **state)
{
    struct chain c = { "x-child.vhd", "x-parent.vhd", NULL, NULL, NULL, 0 };
    uint8_t *child, *parent, *m;
    size_t nc, np, n2;
    unsigned i, refused = 0, merged = 0;

    (void)state;
    build_vhd_chain(&c);
    child = slurp(c.child, &nc);
    parent = slurp(c.parent, &np);
    m = malloc(nc);
    for (i = 0; i < 150; i++)
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_image *img;
        uint32_t r = i * 2654435761u;
        size_t at;
        int st;

        memcpy(m, child, nc);
        /* Structures: the footer copy, header, BAT, locator (first 4 KiB), the footer (last 512). */
        at = i % 3 == 0 ? nc - 512 + r % 512 : i % 3 == 1 ? r % 4096 : r % nc;
        m[at] ^= (uint8_t)(1u << (r >> 29));
        if (i % 5 == 0) m[(r >> 7) % 4096] ^= 0x40;
        write_file(c.child, m, nc);
        write_file(c.parent, parent, np);
        st = vdsshim_open(c.child, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(1), &img, &diag);
        if (st)
        {
            uint8_t *p2;
            if (st != VDSSHIM_E_CORRUPT && st != VDSSHIM_E_UNSUPPORTED && st != VDSSHIM_E_UNKNOWN_FORMAT
                && st != VDSSHIM_E_PARENT_NOT_FOUND && st != VDSSHIM_E_PARENT_MISMATCH)
                fail_msg("mutant %u: refused with %s (%s)", i, vdsshim_status_name(st), diag.msg);
            p2 = slurp(c.parent, &n2);
            assert_int_equal(n2, np);
            assert_memory_equal(p2, parent, np);
            free(p2);
            refused++;
            continue;
        }
        {
            uint64_t vs;
            uint8_t *want = read_all(img, &vs), *got;

            st = vdsshim_merge(img, 1, NULL, NULL, &diag);
            vdsshim_close(img);
            if (st) fail_msg("mutant %u: accepted, but the merge failed: %s", i, diag.msg);
            got = view(c.parent, 0, &vs);
            assert_memory_equal(got, want, (size_t)vs);
            free(want);
            free(got);
            merged++;
        }
    }
    print_message("150 mutated children: %u refused with the parent untouched, %u merged exactly\n", refused, merged);
    assert_true(refused > 0 && merged > 0);
    free(child);
    free(parent);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mutated_children),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_three_levels),
        cmocka_unit_test(test_vhd_power_cuts),
        cmocka_unit_test(test_vhd_power_cuts_differencing_target),
        cmocka_unit_test(test_vhdx_power_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
