/*
 * vdsshim_create: every format and type, the layouts and defaults readers
 * expect, differencing children whose locators find the parent (the relative
 * one alone, after the absolute one went stale), refusals that leave no file,
 * and a power cut after every write of a create: the file either is no image
 * at all or is the complete one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <direct.h>
#define make_dir(p) _mkdir(p)
#define remove_dir(p) _rmdir(p)
#else
#include <sys/stat.h>
#include <unistd.h>
#define make_dir(p) mkdir(p, 0777)
#define remove_dir(p) rmdir(p)
#endif

#include "fault_sweep.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1ull << 20)

static int file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");

    if (f) fclose(f);
    return !!f;
}

static struct vdsshim_image *open_file(const char *path, unsigned flags)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img = NULL;
    int st = vdsshim_open(path, flags, &img, &diag);

    if (st) fail_msg("open %s: %s: %s", path, vdsshim_status_name(st), diag.msg);
    return img;
}

static void create_ok(const char *path, const struct vdsshim_create_params *p)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    int st;

    remove(path);
    st = vdsshim_create(path, p, &diag);
    if (st) fail_msg("create %s: %s: %s", path, vdsshim_status_name(st), diag.msg);
}

/* All zeros, sampled at block starts and ends (a fresh disk). */
static void expect_zeros(struct vdsshim_image *img)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    uint8_t buf[4096];
    uint64_t off;
    size_t i;

    vdsshim_get_info(img, &info);
    for (off = 0; off < info.virtual_size; off += info.virtual_size / 64 / 512 * 512 + 512)
    {
        size_t n = info.virtual_size - off < sizeof(buf) ? (size_t)(info.virtual_size - off) : sizeof(buf);
        assert_status(vdsshim_read(img, off, buf, n, &diag), VDSSHIM_OK);
        for (i = 0; i < n; i++) assert_int_equal(buf[i], 0);
    }
}

static void test_dynamic_and_fixed(void **state)
{
    static const struct
    {
        enum vdsshim_format format;
        enum vdsshim_disk_type type;
        uint64_t size;
        uint32_t block, lss, want_block;
        uint64_t want_file;
    } cases[] =
    {
        /* footer copy + header + BAT (32 entries = 1 sector) + footer */
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 0, 0, 2u << 20, 512 + 1024 + 512 + 512 },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 100 * MiB + 512, 512u << 10, 0, 512u << 10, 512 + 1024 + 1024 + 512 },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_FIXED, 8 * MiB, 0, 0, 0, 8 * MiB + 512 },
        /* header section, log, metadata, BAT (1 MiB each) */
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 0, 0, 32u << 20, 4 * MiB },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 1u << 20, 4096, 1u << 20, 4 * MiB },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_FIXED, 8 * MiB, 0, 0, 2u << 20, 4 * MiB + 8 * MiB },
    };
    unsigned i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        struct vdsshim_create_params p = { 0 };
        struct vdsshim_image *img;
        struct vdsshim_info info;
        const char *path = cases[i].format == VDSSHIM_FORMAT_VHD ? "new.vhd" : "new.vhdx";

        p.format = cases[i].format;
        p.type = cases[i].type;
        p.virtual_size = cases[i].size;
        p.block_size = cases[i].block;
        p.logical_sector_size = cases[i].lss;
        create_ok(path, &p);
        img = open_file(path, 0);
        vdsshim_get_info(img, &info);
        assert_int_equal(info.format, cases[i].format);
        assert_int_equal(info.type, cases[i].type);
        assert_int_equal(info.virtual_size, cases[i].size);
        assert_int_equal(info.block_size, cases[i].want_block);
        assert_int_equal(info.logical_sector_size, cases[i].lss ? cases[i].lss : 512);
        assert_int_equal(info.file_size, cases[i].want_file);
        assert_int_equal(info.blocks_allocated, cases[i].type == VDSSHIM_DISK_FIXED ? info.block_count : 0);
        expect_zeros(img);
        vdsshim_close(img);

        /* A read-write open finds nothing to trim or repair: it writes nothing. */
        img = open_file(path, VDSSHIM_OPEN_WRITE);
        vdsshim_get_info(img, &info);
        assert_int_equal(info.file_size, cases[i].want_file);
        vdsshim_close(img);
        remove(path);
    }
}

static void test_refusals_leave_no_file(void **state)
{
    static const struct { enum vdsshim_format f; enum vdsshim_disk_type t; uint64_t size; uint32_t block, lss; const char *parent; int want; } cases[] =
    {
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 0, 0, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 1000, 0, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 2041ull << 30, 0, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 3u << 20, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 0, 4096, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 512u << 10, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 64 * MiB + 512, 0, 4096, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 65ull << 40, 0, 0, NULL, VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DYNAMIC, 64 * MiB, 0, 0, "p.vhdx", VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DIFFERENCING, 0, 0, 0, "no-such-parent.vhdx", VDSSHIM_E_PARENT_NOT_FOUND },
        { VDSSHIM_FORMAT_VHDX, VDSSHIM_DISK_DIFFERENCING, 0, 0, 0, "p.vhd", VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, VDSSHIM_DISK_DIFFERENCING, 32 * MiB, 0, 0, "p.vhd", VDSSHIM_E_INVALID_ARG },
        { VDSSHIM_FORMAT_VHD, 5, 64 * MiB, 0, 0, NULL, VDSSHIM_E_INVALID_ARG },
    };
    struct vdsshim_create_params p = { 0 };
    unsigned i;

    (void)state;
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 64 * MiB;
    create_ok("p.vhd", &p);
    p.format = VDSSHIM_FORMAT_VHDX;
    create_ok("p.vhdx", &p);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        struct vdsshim_create_params q = { 0 };
        int st;

        q.format = cases[i].f;
        q.type = cases[i].t;
        q.virtual_size = cases[i].size;
        q.block_size = cases[i].block;
        q.logical_sector_size = cases[i].lss;
        q.parent_path = cases[i].parent;
        remove("bad.img");
        st = vdsshim_create("bad.img", &q, &diag);
        if (st != cases[i].want)
            fail_msg("case %u: %s (%s), expected %s", i, vdsshim_status_name(st), diag.msg,
                     vdsshim_status_name(cases[i].want));
        assert_true(strlen(diag.msg) > 10);
        assert_false(file_exists("bad.img"));
    }

    /* An existing file is never overwritten. */
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        static const char sentinel[] = "not a disk, keep me";
        char back[sizeof(sentinel)] = { 0 };
        FILE *f;

        write_file("exists.vhd", sentinel, sizeof(sentinel));
        p.format = VDSSHIM_FORMAT_VHD;
        assert_status(vdsshim_create("exists.vhd", &p, &diag), VDSSHIM_E_EXISTS);
        f = fopen("exists.vhd", "rb");
        assert_non_null(f);
        assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(sentinel));
        fclose(f);
        assert_memory_equal(back, sentinel, sizeof(sentinel));
        remove("exists.vhd");
    }
    remove("p.vhd");
    remove("p.vhdx");
}

/* A parent with data, a child made by vdsshim_create in another directory:
 * the child reads as the parent; moving the whole tree leaves the relative
 * locator as the only one that works, and it does. */
static void test_differencing(void **state)
{
    const int vhdx = *(const int *)*state;
    const char *ext = vhdx ? "vhdx" : "vhd";
    char parent[64], child[64], moved_child[64];
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *want, *got, *data = malloc(MiB);
    uint64_t vs, vs2;
    size_t size;

    sprintf(parent, "tree-%s/base/parent.%s", ext, ext);
    sprintf(child, "tree-%s/kids/child.%s", ext, ext);
    sprintf(moved_child, "moved-%s/kids/child.%s", ext, ext);
    make_dir(vhdx ? "tree-vhdx" : "tree-vhd");
    sprintf((char *)data, "tree-%s/base", ext); make_dir((char *)data);
    sprintf((char *)data, "tree-%s/kids", ext); make_dir((char *)data);

    fill_random(data, MiB, 77);
    if (vhdx)
    {
        static const uint8_t dwg[16] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
        struct vhdx_builder b;
        xb_init(&b, 16 * MiB, MiB, 512, dwg, NULL, NULL);
        xb_add_block(&b, 3, 6, data, NULL);
        xb_add_block(&b, 15, 6, data, NULL);
        xb_finish(&b, &size);
        write_file(parent, b.data, size);
        xb_free(&b);
    }
    else
    {
        static const uint8_t uid[16] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
        struct vhd_builder b;
        vb_init(&b, 16 * MiB, MiB, uid, NULL);
        vb_add_block(&b, 3, NULL, data);
        vb_add_block(&b, 15, NULL, data);
        vb_finish(&b, &size);
        write_file(parent, b.data, size);
        vb_free(&b);
    }
    img = open_file(parent, 0);
    want = read_all(img, &vs);
    vdsshim_close(img);

    p.format = vhdx ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = parent;
    create_ok(child, &p);
    img = open_file(child, 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.type, VDSSHIM_DISK_DIFFERENCING);
    assert_int_equal(info.virtual_size, 16 * MiB);
    assert_int_equal(info.chain_depth, 2);
    assert_int_equal(info.blocks_allocated, 0);
    got = read_all(img, &vs2);
    assert_int_equal(vs2, vs);
    assert_memory_equal(got, want, (size_t)vs);
    free(got);
    vdsshim_close(img);

    /* The absolute locator now names nothing; only "..\base\parent.ext" can work. */
    sprintf((char *)data, "moved-%s", ext);
    assert_int_equal(rename(vhdx ? "tree-vhdx" : "tree-vhd", (char *)data), 0);
    img = open_file(moved_child, 0);
    vdsshim_get_info(img, &info);
    assert_non_null(strstr(info.parent_path, "base"));
    got = read_all(img, &vs2);
    assert_memory_equal(got, want, (size_t)vs);
    free(got);
    vdsshim_close(img);
    free(want);

    /* Leave the working directory as it was, so the test can run again. */
    remove(moved_child);
    sprintf((char *)data, "moved-%s/base/parent.%s", ext, ext); remove((char *)data);
    sprintf((char *)data, "moved-%s/base", ext); remove_dir((char *)data);
    sprintf((char *)data, "moved-%s/kids", ext); remove_dir((char *)data);
    sprintf((char *)data, "moved-%s", ext); remove_dir((char *)data);
    free(data);
}

/* Whether a file left by a cut create carries the mark that says "complete"
 * (the VHD footer at the end, the VHDX file identifier), written last. */
static int has_commit_mark(const uint8_t *d, size_t n, size_t complete_size, int vhdx)
{
    if (vhdx) return n >= 8 && !memcmp(d, "vhdxfile", 8);
    return n == complete_size && !memcmp(d + n - 512, "conectix", 8);
}

/* The leftover of a cut create: the complete image, or no image at all. A
 * file that bears the commit mark but does not open means the mark was
 * durable before the rest (a missing flush). */
static int judge_leftover(const uint8_t *d, size_t n, size_t complete_size, const struct vdsshim_create_params *p,
                          const char *name, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_io *io;
    int st;

    assert_status(vdsshim_io_open_mem(d, n, &io), VDSSHIM_OK);
    st = vdsshim_open_io(io, "cut.img", 0, &img, &diag);
    if (st == VDSSHIM_OK)
    {
        struct vdsshim_info info;
        vdsshim_get_info(img, &info);
        assert_int_equal(info.virtual_size, 40 * MiB);
        assert_int_equal(info.type, p->type);
        expect_zeros(img);
        vdsshim_close(img);
        return 1;
    }
    if (st != VDSSHIM_E_UNKNOWN_FORMAT && st != VDSSHIM_E_CORRUPT)
        fail_msg("%s after write %llu: %s (%s)", name, (unsigned long long)k, vdsshim_status_name(st), diag.msg);
    if (has_commit_mark(d, n, complete_size, p->format == VDSSHIM_FORMAT_VHDX))
        fail_msg("%s after write %llu: the file is marked complete but does not open: %s", name,
                 (unsigned long long)k, diag.msg);
    return 0;
}

/* Power cut after every write of a create (every crash state), and just
 * after it returned: what is left either opens as the complete image or
 * is no image at all. State: bit 0 VHDX, bit 1 fixed, bit 2 differencing. */
static void test_create_power_cuts(void **state)
{
    const int which = *(const int *)*state;
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *mem, *io, *kept = NULL;
    uint64_t writes, k;
    unsigned m, complete = 0, refused = 0;
    const uint8_t *d;
    size_t n, complete_size;

    p.format = which & 1 ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    p.type = which & 2 ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 40 * MiB;
    if (which & 4)
    {
        /* A child of an empty 40 MiB parent: locators, parent ids, and for
         * VHDX the parent locator metadata, all before the commit mark. */
        struct vdsshim_create_params pp = p;
        const char *parent = which & 1 ? "cut-parent.vhdx" : "cut-parent.vhd";
        remove(parent);
        assert_status(vdsshim_create(parent, &pp, &diag), VDSSHIM_OK);
        p.type = VDSSHIM_DISK_DIFFERENCING;
        p.virtual_size = 0;
        p.parent_path = parent;
    }
    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(NULL, 0, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_create_io(io, "cut.img", &p, &diag), VDSSHIM_OK);
    writes = c.writes;
    vdsshim_io_mem_data(kept, &complete_size);
    vdsshim_io_close(kept);
    assert_true(writes >= (p.type == VDSSHIM_DISK_FIXED ? 1u : 4u));

    /* Success means durable: cut as the file is closed, unflushed writes lost. */
    memset(&plan, 0, sizeof(plan));
    plan.cut_at_close = 1;
    plan.cut_mode = VDSSHIM_CUT_DROP;
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(NULL, 0, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_create_io(io, "cut.img", &p, &diag), VDSSHIM_OK);
    d = vdsshim_io_mem_data(kept, &n);
    if (!judge_leftover(d, n, complete_size, &p, "power cut just after success", 0))
        fail_msg("power cut just after a successful create: no image is left");
    vdsshim_io_close(kept);

    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            int st;

            plan.cut_after_write = k;
            plan.inner_on_close = &kept;
            plan.counters_on_close = &c;
            assert_status(vdsshim_io_open_mem(NULL, 0, &mem), VDSSHIM_OK);
            assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
            st = vdsshim_create_io(io, "cut.img", &p, &diag);
            assert_true(st == VDSSHIM_E_IO || (st == VDSSHIM_OK && k == writes));
            pending = c.pending_at_cut;
            d = vdsshim_io_mem_data(kept, &n);
            if (judge_leftover(d, n, complete_size, &p, name, k))
            {
                if (k != writes) fail_msg("%s after write %llu of %llu: an image opens", name,
                                          (unsigned long long)k, (unsigned long long)writes);
                complete++;
            }
            else
                refused++;
            vdsshim_io_close(kept);
        }
    }
    /* Only a cut after the very last write (the identifier, or the VHD footer) can leave an image. */
    assert_true(complete >= 1);
    assert_true(refused >= writes - 1);
}

static int vhd_case = 0, vhdx_case = 1, vhd_fixed_case = 2, vhdx_fixed_case = 3, vhd_child_case = 4, vhdx_child_case = 5;

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_dynamic_and_fixed),
        cmocka_unit_test(test_refusals_leave_no_file),
        cmocka_unit_test_prestate(test_differencing, &vhd_case),
        cmocka_unit_test_prestate(test_differencing, &vhdx_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhd_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhdx_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhd_fixed_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhdx_fixed_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhd_child_case),
        cmocka_unit_test_prestate(test_create_power_cuts, &vhdx_child_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
