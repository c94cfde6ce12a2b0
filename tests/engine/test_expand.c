/*
 * vdsshim_expand: VHD growth that moves the blocks sitting where the BAT
 * grows, VHDX growth in place and with the BAT moved to a new region, fixed
 * VHD and VHDX growth (footer moved, blocks allocated), the refusals, and a power cut after every write (drop, apply, tear) and every
 * write error: the image opens read-only without a write, has the old or the
 * new size, reads the old content below the old size and zeros above, and a
 * re-run reaches the new size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_sweep.h"
#include "vhdx.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

struct grow
{
    const char *name;
    uint8_t *raw;
    size_t size;
    uint64_t old_size, new_size;
    uint8_t *content;           /* the old virtual disk */
    /* VHDX: the log is already in use when the expansion starts (an earlier
     * operation on the same open image left it so), so no log restart and
     * its flush come before the expansion's first entry. */
    int log_in_use;
    unsigned min_writes;        /* 0: 4 (a fixed VHD takes 3: footer, zeros, footer) */
};

static void build_vhd(struct grow *g)
{
    static const uint8_t uid[16] = { 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    const uint32_t bs = 64u << 10;
    struct vhd_builder b;
    uint8_t *d = malloc(bs);
    unsigned i;

    /* 256 entries (two BAT sectors); the first blocks follow the BAT directly,
     * so growing to 1024 entries must move them. */
    vb_init(&b, 256ull * bs, bs, uid, NULL);
    for (i = 0; i < 12; i++)
    {
        fill_random(d, bs, 300 + i);
        vb_add_block(&b, (i * 37) % 256, NULL, d);
    }
    vb_finish(&b, &g->size);
    g->raw = malloc(g->size);
    memcpy(g->raw, b.data, g->size);
    vb_free(&b);
    free(d);
    g->old_size = 256ull * bs;
    g->new_size = 1024ull * bs;
}

/* No blocks: the file ends right after the BAT, so the grown BAT reaches
 * past the old footer, which must move out of its way first. */
static void build_vhd_empty(struct grow *g)
{
    static const uint8_t uid[16] = { 0x73, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    const uint32_t bs = 64u << 10;
    struct vhd_builder b;

    vb_init(&b, 256ull * bs, bs, uid, NULL);
    vb_finish(&b, &g->size);
    g->raw = malloc(g->size);
    memcpy(g->raw, b.data, g->size);
    vb_free(&b);
    g->old_size = 256ull * bs;
    g->new_size = 1024ull * bs;
}

static void build_vhdx(struct grow *g, uint64_t new_size)
{
    static const uint8_t dwg[16] = { 0x72, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    struct vhdx_builder b;
    uint8_t *d = malloc(MiB);
    unsigned i;

    xb_init(&b, 24 * MiB, MiB, 512, dwg, NULL, NULL);
    for (i = 0; i < 6; i++)
    {
        fill_random(d, MiB, 400 + i);
        xb_add_block(&b, (i * 5) % 24, 6, d, NULL);
    }
    xb_set_state(&b, 7, 2);
    xb_finish(&b, &g->size);
    g->raw = malloc(g->size);
    memcpy(g->raw, b.data, g->size);
    xb_free(&b);
    free(d);
    g->old_size = 24 * MiB;
    g->new_size = new_size;
}

/* A fixed disk made by vdsshim_create in memory, its data random. */
static void build_fixed(struct grow *g, enum vdsshim_format format, uint64_t old_size, uint64_t new_size)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_io *mem, *io, *kept = NULL;
    const uint8_t *d;
    size_t n;

    p.format = format;
    p.type = VDSSHIM_DISK_FIXED;
    p.virtual_size = old_size;
    p.block_size = format == VDSSHIM_FORMAT_VHDX ? (uint32_t)MiB : 0;
    /* vdsshim_create_io closes its io: the fault layer hands the memory back. */
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(NULL, 0, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_create_io(io, g->name, &p, &diag), VDSSHIM_OK);
    io = kept;
    d = vdsshim_io_mem_data(io, &n);
    g->size = n;
    g->raw = malloc(n);
    memcpy(g->raw, d, n);
    vdsshim_io_close(io);
    if (format == VDSSHIM_FORMAT_VHD)
        fill_random(g->raw, (size_t)old_size, 500);      /* the data is the file's start */
    else
    {
        struct vdsshim_image *img = open_mem_image(g->raw, g->size, 0);
        struct vhdx *v = img->fmt;
        uint64_t b;

        for (b = 0; b < v->payload_blocks; b++)
            fill_random(g->raw + VHDX_BAT_OFFSET(vhdx_bat_get(&v->bat, vhdx_payload_index(v, b))), (size_t)MiB, 600 + (uint32_t)b);
        vdsshim_close(img);
    }
    g->old_size = old_size;
    g->new_size = new_size;
}

static void grow_prepare(struct grow *g)
{
    struct vdsshim_image *img = open_mem_image(g->raw, g->size, 0);
    uint64_t vs;

    g->content = read_all(img, &vs);
    assert_int_equal(vs, g->old_size);
    vdsshim_close(img);
}

static void grow_free(struct grow *g)
{
    free(g->raw);
    free(g->content);
}

/* (With log_in_use its two header writes count: a cut there fails it like the expansion.) */
static int expand_grow(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    const struct grow *g = ctx;
    int st;

    if (g->log_in_use && (st = vhdx_log_restart(img, img->fmt, diag))) return st;
    return vdsshim_expand(img, g->new_size, NULL, diag);
}

static int run_expand(const struct grow *g, struct vdsshim_fault_plan plan, struct vdsshim_io **disk,
                      struct vdsshim_fault_counters *c)
{
    return run_op_under_plan(g->raw, g->size, g->name, VDSSHIM_OPEN_WRITE, plan, expand_grow, (void *)g, disk, c);
}

/* Old content below the old size; zeros sampled above it (the new space). */
static void expect_grown_content(const struct grow *g, struct vdsshim_image *img, const char *what, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    uint8_t *buf = malloc((size_t)g->old_size), tail[4096];
    uint64_t off;
    size_t i;

    vdsshim_get_info(img, &info);
    if (info.virtual_size != g->old_size && info.virtual_size != g->new_size)
        fail_msg("%s at %llu: virtual size %llu is neither old nor new", what, (unsigned long long)k,
                 (unsigned long long)info.virtual_size);
    assert_status(vdsshim_read(img, 0, buf, (size_t)g->old_size, &diag), VDSSHIM_OK);
    if (memcmp(buf, g->content, (size_t)g->old_size))
        fail_msg("%s at %llu: the old content changed", what, (unsigned long long)k);
    for (off = g->old_size; off < info.virtual_size; off += (info.virtual_size - g->old_size) / 16)
    {
        uint64_t at = off + sizeof(tail) > info.virtual_size ? info.virtual_size - sizeof(tail) : off;
        assert_status(vdsshim_read(img, at, tail, sizeof(tail), &diag), VDSSHIM_OK);
        for (i = 0; i < sizeof(tail); i++)
            if (tail[i]) fail_msg("%s at %llu: new space at %llu is not zero", what, (unsigned long long)k,
                                  (unsigned long long)(at + i));
    }
    free(buf);
}

static void check_after(const struct grow *g, struct vdsshim_io *disk, const char *what, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_io *mem, *io, *kept = NULL;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    const uint8_t *d;
    size_t n;
    int st;

    d = vdsshim_io_mem_data(disk, &n);
    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(d, n, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    if ((st = vdsshim_open_io(io, g->name, 0, &img, &diag)))
        fail_msg("%s at %llu: read-only open failed: %s", what, (unsigned long long)k, diag.msg);
    expect_grown_content(g, img, what, k);
    vdsshim_close(img);
    assert_int_equal(c.writes + c.truncates, 0);

    /* Read-write (repairs what it must), then the re-run completes. */
    d = vdsshim_io_mem_data(kept, &n);
    assert_status(vdsshim_io_open_mem(d, n, &io), VDSSHIM_OK);
    vdsshim_io_close(kept);
    if ((st = vdsshim_open_io(io, g->name, VDSSHIM_OPEN_WRITE, &img, &diag)))
        fail_msg("%s at %llu: read-write open failed: %s", what, (unsigned long long)k, diag.msg);
    if ((st = vdsshim_expand(img, g->new_size, NULL, &diag)))
        fail_msg("%s at %llu: re-run failed: %s", what, (unsigned long long)k, diag.msg);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.virtual_size, g->new_size);
    expect_grown_content(g, img, what, k);
    vdsshim_close(img);
}

static void sweep(struct grow *g)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk;
    uint64_t writes, k;
    unsigned m;

    grow_prepare(g);
    assert_status(run_expand(g, plan, &disk, &c), VDSSHIM_OK);
    check_after(g, disk, "uninterrupted", 0);
    vdsshim_io_close(disk);
    writes = c.writes;
    print_message("%s: expansion takes %llu writes, %llu flushes\n", g->name, (unsigned long long)writes,
                  (unsigned long long)c.flushes);
    /* Success means durable: a power cut at close, unflushed writes lost, keeps the new size. */
    memset(&plan, 0, sizeof(plan));
    plan.cut_at_close = 1;
    plan.cut_mode = VDSSHIM_CUT_DROP;
    assert_status(run_expand(g, plan, &disk, &c), VDSSHIM_OK);
    {
        size_t n;
        const uint8_t *d = vdsshim_io_mem_data(disk, &n);
        struct vdsshim_image *img = open_mem_image(d, n, 0);
        struct vdsshim_info info;

        vdsshim_get_info(img, &info);
        if (info.virtual_size != g->new_size)
            fail_msg("power cut just after a successful expansion: the size is %llu again",
                     (unsigned long long)info.virtual_size);
        expect_grown_content(g, img, "power cut just after success", 0);
        vdsshim_close(img);
    }
    vdsshim_io_close(disk);
    assert_true(writes >= (g->min_writes ? g->min_writes : 4));
    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            plan.cut_after_write = k;
            assert_status(run_expand(g, plan, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            check_after(g, disk, name, k);
            vdsshim_io_close(disk);
        }
        memset(&plan, 0, sizeof(plan));
        plan.fail_write = k;
        plan.fail_status = k % 2 ? VDSSHIM_E_IO : VDSSHIM_E_NOSPC;
        assert_status(run_expand(g, plan, &disk, &c), plan.fail_status);
        check_after(g, disk, "write error", k);
        vdsshim_io_close(disk);
    }
}

static void test_vhd_empty_footer_moves(void **state)
{
    struct grow g = { .name = "grow-empty.vhd" };

    (void)state;
    build_vhd_empty(&g);
    sweep(&g);
    free(g.raw);
    free(g.content);
}

static void test_vhd_moves_blocks(void **state)
{
    struct grow g = { .name = "grow.vhd" };
    struct vdsshim_image *img;
    struct vdsshim_info info;

    (void)state;
    build_vhd(&g);
    sweep(&g);
    /* The blocks in the way really moved: the file grew by more than the BAT. */
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c = { 0 };
        struct vdsshim_io *disk;
        const uint8_t *d;
        size_t n;

        assert_status(run_expand(&g, plan, &disk, &c), VDSSHIM_OK);
        d = vdsshim_io_mem_data(disk, &n);
        img = open_mem_image(d, n, 0);
        vdsshim_get_info(img, &info);
        assert_int_equal(info.blocks_allocated, 12);
        assert_true(n > g.size + (64u << 10));
        vdsshim_close(img);
        vdsshim_io_close(disk);
    }
    grow_free(&g);
}

static void test_vhdx_in_place(void **state)
{
    struct grow g = { .name = "grow.vhdx" };

    (void)state;
    build_vhdx(&g, 20 * GiB);       /* 20480 entries: the builder's 1 MiB BAT region holds them */
    sweep(&g);
    grow_free(&g);
}

static void test_vhdx_bat_moves(void **state)
{
    struct grow g = { .name = "grow2.vhdx" };

    (void)state;
    build_vhdx(&g, 200 * GiB);      /* 204800 entries: a new 2 MiB BAT region at the end */
    sweep(&g);
    grow_free(&g);
}

/* The same with the log already in use: the new BAT must be durable before
 * the entry that points the region table at it, by its own flush. */
static void test_vhdx_bat_moves_log_in_use(void **state)
{
    struct grow g = { .name = "grow3.vhdx", .log_in_use = 1 };

    (void)state;
    build_vhdx(&g, 200 * GiB);
    sweep(&g);
    grow_free(&g);
}

/* Fixed VHD: the old footer becomes data (zeros), the new one lands at the
 * new end; every cut leaves the old or the new size. */
static void test_vhd_fixed(void **state)
{
    struct grow g = { .name = "grow-fixed.vhd", .min_writes = 3 };

    (void)state;
    build_fixed(&g, VDSSHIM_FORMAT_VHD, 3 * MiB, 7 * MiB + 512 * 3);
    sweep(&g);
    grow_free(&g);
}

/* An earlier run that aimed higher left a longer file: its footer is cut
 * off only once the new end holds one, and the space reads zeros. */
static void test_vhd_fixed_after_larger_attempt(void **state)
{
    struct grow g = { .name = "grow-fixed2.vhd", .min_writes = 3 };
    uint8_t *longer;

    (void)state;
    build_fixed(&g, VDSSHIM_FORMAT_VHD, 3 * MiB, 5 * MiB);
    /* The state a cut leaves after step (1) of a run to 9 MiB: the old
     * footer still at 3 MiB, the same footer again at 9 MiB. */
    longer = calloc(1, 9 * MiB + 512);
    memcpy(longer, g.raw, g.size);
    memcpy(longer + 9 * MiB, g.raw + 3 * MiB, 512);
    free(g.raw);
    g.raw = longer;
    g.size = 9 * MiB + 512;
    sweep(&g);
    grow_free(&g);
}

/* Fixed VHDX: the new blocks are allocated (FULLY_PRESENT, zeros) before
 * the size says they exist. (Moving a fixed disk's BAT needs more than
 * 128 GiB of new blocks: cli_images.sh does that once, on a sparse file.) */
static void test_vhdx_fixed(void **state)
{
    struct grow g = { .name = "grow-fixed.vhdx" };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    const uint8_t *d;
    size_t n;

    (void)state;
    build_fixed(&g, VDSSHIM_FORMAT_VHDX, 6 * MiB, 20 * MiB);
    sweep(&g);
    assert_status(run_expand(&g, plan, &disk, &c), VDSSHIM_OK);
    d = vdsshim_io_mem_data(disk, &n);
    img = open_mem_image(d, n, 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.type, VDSSHIM_DISK_FIXED);
    assert_int_equal(info.blocks_allocated, 20);
    assert_true(n >= g.size + 14 * MiB);
    vdsshim_close(img);
    vdsshim_io_close(disk);
    grow_free(&g);
}

static void test_refusals(void **state)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct grow g = { .name = "grow.vhdx" };

    (void)state;
    build_vhdx(&g, 0);
    /* Smaller, not whole sectors, past the format's limit, read-only. */
    img = open_mem_image(g.raw, g.size, VDSSHIM_OPEN_WRITE);
    assert_status(vdsshim_expand(img, 16 * MiB, NULL, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_expand(img, 24 * MiB + 100, NULL, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_expand(img, 65ull << 40, NULL, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_expand(img, 24 * MiB, NULL, &diag), VDSSHIM_OK);      /* same size: nothing to do */
    vdsshim_close(img);
    img = open_mem_image(g.raw, g.size, 0);
    assert_status(vdsshim_expand(img, 48 * MiB, NULL, &diag), VDSSHIM_E_READONLY);
    vdsshim_close(img);
    grow_free(&g);

    /* Differencing disks: their size is their parent's. */
    p.format = VDSSHIM_FORMAT_VHD;
    p.virtual_size = 4 * MiB;
    p.type = VDSSHIM_DISK_DYNAMIC;
    remove("base.vhd");
    remove("kid.vhd");
    assert_status(vdsshim_create("base.vhd", &p, &diag), VDSSHIM_OK);
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.virtual_size = 0;
    p.parent_path = "base.vhd";
    assert_status(vdsshim_create("kid.vhd", &p, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("kid.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_expand(img, 8 * MiB, NULL, &diag), VDSSHIM_E_WRONG_TYPE);
    vdsshim_close(img);
    remove("base.vhd");
    remove("kid.vhd");
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_vhd_moves_blocks),
        cmocka_unit_test(test_vhd_empty_footer_moves),
        cmocka_unit_test(test_vhdx_in_place),
        cmocka_unit_test(test_vhdx_bat_moves),
        cmocka_unit_test(test_vhdx_bat_moves_log_in_use),
        cmocka_unit_test(test_vhd_fixed),
        cmocka_unit_test(test_vhd_fixed_after_larger_attempt),
        cmocka_unit_test(test_vhdx_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
