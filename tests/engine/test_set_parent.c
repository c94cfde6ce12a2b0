/*
 * vdsshim_set_parent: a differencing VHDX moved to another parent that reads
 * the same (a conversion of the first, so another DataWriteGuid), and a
 * power cut after every write, in every crash state: the child opens with
 * the old parent or the new one and reads the same, and a re-run ends on the
 * new one. Then the refusals, each leaving the child's bytes as they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhdx.h"

#define MiB (1ull << 20)

/* p1.vhdx with data, p2.vhdx its conversion, c.vhdx a child of p1 with its own. */
static void make_chain(uint8_t **child, size_t *size, uint8_t **content, uint64_t *vsize)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;

    remove("p1.vhdx");
    remove("p2.vhdx");
    remove("c.vhdx");
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 8 * MiB;
    p.block_size = (uint32_t)MiB;
    assert_status(vdsshim_create("p1.vhdx", &p, &diag), VDSSHIM_OK);
    write_fill("p1.vhdx", 0, 0x51);
    write_fill("p1.vhdx", 3 * MiB, 0x53);
    memset(&p, 0, sizeof(p));
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DYNAMIC;
    assert_status(vdsshim_convert("p1.vhdx", "p2.vhdx", &p, NULL, &diag), VDSSHIM_OK);
    memset(&p, 0, sizeof(p));
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = "p1.vhdx";
    assert_status(vdsshim_create("c.vhdx", &p, &diag), VDSSHIM_OK);
    write_fill("c.vhdx", 2 * MiB, 0x52);
    assert_status(vdsshim_open("c.vhdx", 0, &img, &diag), VDSSHIM_OK);
    *content = read_all(img, vsize);
    vdsshim_close(img);
    *child = read_whole_file("c.vhdx", size);
    remove("c.vhdx");       /* from here on the child lives in memory, named c.vhdx */
}

/* With log_in_use the log is already active (as after an earlier change on
 * the same handle): no restart, and its flush, then comes between the new
 * locator's data and the table that names it. */
static int log_in_use;

static int set_parent_to(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    int st = log_in_use ? vhdx_log_restart(img, img->fmt, diag) : VDSSHIM_OK;

    return st ? st : vdsshim_set_parent(img, ctx, diag);
}

static int set_parent_on(const uint8_t *raw, size_t size, struct vdsshim_fault_plan plan, const char *parent,
                         struct vdsshim_io **disk, struct vdsshim_fault_counters *c)
{
    return run_op_under_plan(raw, size, "c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, plan, set_parent_to,
                             (void *)parent, disk, c);
}

/* The child left on disk opens with its chain, names p1 or p2 (or only p2
 * when must_be_new), and reads content. */
static void expect_chain(struct vdsshim_io *disk, const uint8_t *content, uint64_t vsize, int must_be_new,
                         const char *what, uint64_t k)
{
    struct vdsshim_image *img = open_left(disk, "c.vhdx", what, k);
    struct vdsshim_info info;
    const char *tail;

    vdsshim_get_info(img, &info);
    tail = strlen(info.parent_path) >= 7 ? info.parent_path + strlen(info.parent_path) - 7 : "";
    if (strcmp(tail, "p2.vhdx") && (must_be_new || strcmp(tail, "p1.vhdx")))
        fail_msg("%s after write %llu: the parent is %s", what, (unsigned long long)k, info.parent_path);
    expect_reads(img, content, vsize, what, k);
    vdsshim_close(img);
}

struct expected
{
    const uint8_t *content;
    uint64_t vsize;
};

static void check_chain(struct vdsshim_io *disk, void *ctx, int must_be_new, const char *what, uint64_t k)
{
    const struct expected *e = ctx;

    expect_chain(disk, e->content, e->vsize, must_be_new, what, k);
}

static void sweep(void)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk;
    struct expected e;
    uint8_t *child, *content;
    uint64_t vsize;
    size_t size;

    make_chain(&child, &size, &content, &vsize);
    assert_status(set_parent_on(child, size, plan, "p2.vhdx", &disk, &c), VDSSHIM_OK);
    expect_chain(disk, content, vsize, 1, "uninterrupted", 0);
    vdsshim_io_close(disk);
    print_message("set_parent takes %llu writes, %llu flushes\n", (unsigned long long)c.writes,
                  (unsigned long long)c.flushes);
    assert_true(c.writes >= 3);
    e.content = content;
    e.vsize = vsize;
    /* The locator switches through the log: any cut may leave either parent. */
    sweep_op_cuts(child, size, "c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, set_parent_to, (void *)"p2.vhdx",
                  c.writes, UINT64_MAX, check_chain, &e);
    free(child);
    free(content);
}

static void test_set_parent_and_power_cuts(void **state)
{
    (void)state;
    log_in_use = 0;
    sweep();
}

static void test_set_parent_and_power_cuts_log_in_use(void **state)
{
    (void)state;
    log_in_use = 1;
    sweep();
    log_in_use = 0;
}

/* Refused: nothing written. */
static void expect_refused(const uint8_t *raw, size_t size, const char *parent, int want)
{
    expect_op_refused(raw, size, "c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, set_parent_to, (void *)parent,
                      want);
}

static void test_refusals(void **state)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint8_t *child, *content, *raw;
    uint64_t vsize;
    size_t size, n;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    expect_refused(child, size, "missing.vhdx", VDSSHIM_E_PARENT_NOT_FOUND);
    /* A parent of another size. */
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 16 * MiB;
    remove("big.vhdx");
    assert_status(vdsshim_create("big.vhdx", &p, &diag), VDSSHIM_OK);
    expect_refused(child, size, "big.vhdx", VDSSHIM_E_INVALID_ARG);
    /* A VHD parent for a VHDX child. */
    p.format = VDSSHIM_FORMAT_VHD;
    p.virtual_size = 8 * MiB;
    remove("p.vhd");
    assert_status(vdsshim_create("p.vhd", &p, &diag), VDSSHIM_OK);
    expect_refused(child, size, "p.vhd", VDSSHIM_E_INVALID_ARG);
    /* Not an image at all. */
    write_file("junk.vhdx", "not an image", 12);
    expect_refused(child, size, "junk.vhdx", VDSSHIM_E_UNKNOWN_FORMAT);

    /* The child as its own parent, on a real file. */
    write_file("self.vhdx", child, size);
    assert_status(vdsshim_open("self.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "self.vhdx", &diag), VDSSHIM_E_INVALID_ARG);
    vdsshim_close(img);
    raw = read_whole_file("self.vhdx", &n);
    assert_int_equal(n, size);
    assert_memory_equal(raw, child, size);
    free(raw);

    /* A disk without a parent, a VHD child given a VHDX, a read-only open. */
    assert_status(vdsshim_open("p1.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "p2.vhdx", &diag), VDSSHIM_E_WRONG_TYPE);
    vdsshim_close(img);
    memset(&p, 0, sizeof(p));
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = "p.vhd";
    remove("c.vhd");
    assert_status(vdsshim_create("c.vhd", &p, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("c.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "p2.vhdx", &diag), VDSSHIM_E_INVALID_ARG);  /* a VHD child needs a VHD */
    vdsshim_close(img);
    assert_status(vdsshim_open("self.vhdx", VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "p2.vhdx", &diag), VDSSHIM_E_READONLY);
    vdsshim_close(img);
    free(child);
    free(content);
}

/* A parent's identifier changed: its child no longer matches it (the
 * parent_linkage names the old one) until set-parent relinks it; a power cut
 * after either header write leaves the old identifier or the new one. */
static void test_identifier_then_relink(void **state)
{
    static const uint8_t new_id[16] = { 0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_identity ident;
    struct vdsshim_image *img;
    uint8_t *child, *content, *now, *p2, old_id[16];
    uint64_t vsize, vs, k;
    size_t size, p2size;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    write_file("c.vhdx", child, size);
    assert_status(vdsshim_open("c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "p2.vhdx", &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("p2.vhdx", 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &ident), VDSSHIM_OK);
    memcpy(old_id, ident.id, 16);
    vdsshim_close(img);
    p2 = read_whole_file("p2.vhdx", &p2size);

    /* A cut after each header write: the old identifier or the new one. */
    for (k = 1; k <= 2; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_io *mem, *io, *disk = NULL;
        const uint8_t *d;
        size_t n;

        plan.cut_after_write = k;
        plan.cut_mode = VDSSHIM_CUT_TEAR;
        plan.inner_on_close = &disk;
        assert_status(vdsshim_io_open_mem(p2, p2size, &mem), VDSSHIM_OK);
        assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
        assert_status(vdsshim_open_io(io, "p2.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
        assert_status(vdsshim_set_identifier(img, new_id, &diag), VDSSHIM_E_IO);   /* its flush meets the cut */
        vdsshim_close(img);
        d = vdsshim_io_mem_data(disk, &n);
        img = open_mem_image(d, n, 0);
        assert_status(vdsshim_get_identity(img, &ident), VDSSHIM_OK);
        if (memcmp(ident.id, old_id, 16) && memcmp(ident.id, new_id, 16))
            fail_msg("a cut after header write %llu: the identifier is neither old nor new", (unsigned long long)k);
        vdsshim_close(img);
        vdsshim_io_close(disk);
    }

    assert_status(vdsshim_open("p2.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_identifier(img, new_id, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("p2.vhdx", 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &ident), VDSSHIM_OK);
    assert_memory_equal(ident.id, new_id, 16);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhdx", 0, &img, &diag), VDSSHIM_E_PARENT_MISMATCH);
    assert_status(vdsshim_open("c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent(img, "p2.vhdx", &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhdx", 0, &img, &diag), VDSSHIM_OK);
    now = read_all(img, &vs);
    assert_int_equal(vs, vsize);
    assert_memory_equal(now, content, (size_t)vs);
    free(now);
    vdsshim_close(img);
    /* PARENT_LOCATOR: the old identifier written back without the parent's
     * say: the child then no longer matches, until the new one is written. */
    assert_status(vdsshim_open("c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent_locator(img, old_id, "p2.vhdx", &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhdx", 0, &img, &diag), VDSSHIM_E_PARENT_MISMATCH);
    assert_status(vdsshim_open("c.vhdx", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent_locator(img, new_id, "p2.vhdx", &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent_locator(img, new_id, "", &diag), VDSSHIM_E_INVALID_ARG);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhdx", 0, &img, &diag), VDSSHIM_OK);
    vdsshim_close(img);
    remove("c.vhdx");
    free(p2);
    free(child);
    free(content);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_parent_and_power_cuts),
        cmocka_unit_test(test_set_parent_and_power_cuts_log_in_use),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_identifier_then_relink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
