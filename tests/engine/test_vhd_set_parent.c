/*
 * vdsshim_set_parent on a differencing VHD (vhd_set_parent.c): the child
 * moved to another parent that reads the same (a conversion of the first,
 * so another unique id), through a shadow header. A power cut after every
 * write, in every crash state (reorderings included): the child opens with
 * the old parent or the new one (only the new one once the switch is
 * durable), reads the same, and a re-run ends on the new one with both
 * footers alike. Two layouts: new paths that fit the
 * locators' old space (the file ends where it did) and longer ones (the
 * locators move to the end). Then PARENT_LOCATOR's form and the refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define MiB (1ull << 20)

/* The new parents: one name as long as the old one's, and one whose
 * absolute path needs more than the one sector vdsshim create gave it
 * (a 240-character name: over 256 UTF-16 units with any directory). */
#define SAME_LENGTH "q1.vhd"
#define TEN "longer-nm-"
#define LONGER TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN "name.vhd"

static void convert_to(const char *from, const char *to)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };

    remove(to);
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DYNAMIC;
    assert_status(vdsshim_convert(from, to, &p, NULL, &diag), VDSSHIM_OK);
}

/* p1.vhd with data; q1.vhd and the longer name its conversions; c.vhd a child of p1 with its own data. */
static void make_chain(uint8_t **child, size_t *size, uint8_t **content, uint64_t *vsize)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;

    remove("p1.vhd");
    remove("c.vhd");
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 8 * MiB;
    p.block_size = (uint32_t)(2 * MiB);
    assert_status(vdsshim_create("p1.vhd", &p, &diag), VDSSHIM_OK);
    write_fill("p1.vhd", 0, 0x51);
    write_fill("p1.vhd", 5 * MiB, 0x53);
    convert_to("p1.vhd", SAME_LENGTH);
    convert_to("p1.vhd", LONGER);
    memset(&p, 0, sizeof(p));
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = "p1.vhd";
    assert_status(vdsshim_create("c.vhd", &p, &diag), VDSSHIM_OK);
    write_fill("c.vhd", 2 * MiB, 0x52);
    assert_status(vdsshim_open("c.vhd", 0, &img, &diag), VDSSHIM_OK);
    *content = read_all(img, vsize);
    vdsshim_close(img);
    *child = read_whole_file("c.vhd", size);
    remove("c.vhd");        /* from here on the child lives in memory, named c.vhd */
}

static int set_parent_to(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    return vdsshim_set_parent(img, ctx, diag);
}

static int set_parent_on(const uint8_t *raw, size_t size, struct vdsshim_fault_plan plan, const char *parent,
                         struct vdsshim_io **disk, struct vdsshim_fault_counters *c)
{
    return run_op_under_plan(raw, size, "c.vhd", VDSSHIM_OPEN_WRITE, plan, set_parent_to, (void *)parent, disk, c);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);

    return n >= m && !strcmp(s + n - m, tail);
}

/* The child left on disk opens with its chain, names p1 or `to` (only `to`
 * when must_be_new) and reads content; a read-write open and close then
 * leaves both footers alike, each naming a valid header. */
static void expect_chain(struct vdsshim_io *disk, const uint8_t *content, uint64_t vsize, const char *to,
                         int must_be_new, const char *what, uint64_t k)
{
    struct vdsshim_image *img = open_left(disk, "c.vhd", what, k);
    struct vdsshim_info info;
    struct vdsshim_io *after;
    const uint8_t *d;
    size_t n;

    vdsshim_get_info(img, &info);
    if (!ends_with(info.parent_path, to) && (must_be_new || !ends_with(info.parent_path, "p1.vhd")))
        fail_msg("%s after write %llu: the parent is %s", what, (unsigned long long)k, info.parent_path);
    expect_reads(img, content, vsize, what, k);
    vdsshim_close(img);

    img = open_left_rw(disk, "c.vhd", what, k, &after);
    vdsshim_close(img);
    d = vdsshim_io_mem_data(after, &n);
    if (memcmp(d, d + n - 512, 512))
        fail_msg("%s after write %llu: the footer copy differs after a read-write open", what, (unsigned long long)k);
    vdsshim_io_close(after);
}

/* The writes up to the switch (the footer moved on, the shadow, the two
 * footers): once the flush after them returns, the new parent holds, and no
 * power cut may bring the old one back. */
#define SWITCH_WRITES 4

struct expected
{
    const uint8_t *content;
    uint64_t vsize;
    const char *to;
};

static void check_chain(struct vdsshim_io *disk, void *ctx, int must_be_new, const char *what, uint64_t k)
{
    const struct expected *e = ctx;

    expect_chain(disk, e->content, e->vsize, e->to, must_be_new, what, k);
}

/* The whole sweep for one new parent; returns the uninterrupted result's size. */
static size_t sweep(const char *to)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk;
    struct expected e;
    uint8_t *child, *content;
    uint64_t vsize, writes;
    size_t size, result;

    make_chain(&child, &size, &content, &vsize);
    assert_status(set_parent_on(child, size, plan, to, &disk, &c), VDSSHIM_OK);
    writes = c.writes;
    expect_chain(disk, content, vsize, to, 1, "uninterrupted", 0);
    vdsshim_io_mem_data(disk, &result);
    vdsshim_io_close(disk);
    print_message("set_parent to %.20s...: %llu writes, %llu flushes, %llu bytes before, %llu after\n", to,
                  (unsigned long long)writes, (unsigned long long)c.flushes, (unsigned long long)size,
                  (unsigned long long)result);

    /* Success survives a cut right after it returns. */
    plan.cut_at_close = 1;
    plan.cut_mode = VDSSHIM_CUT_DROP;
    assert_status(set_parent_on(child, size, plan, to, &disk, &c), VDSSHIM_OK);
    expect_chain(disk, content, vsize, to, 1, "a cut after success", 0);
    vdsshim_io_close(disk);

    e.content = content;
    e.vsize = vsize;
    e.to = to;
    sweep_op_cuts(child, size, "c.vhd", VDSSHIM_OPEN_WRITE, set_parent_to, (void *)to, writes, SWITCH_WRITES,
                  check_chain, &e);
    free(child);
    free(content);
    return result;
}

/* Paths no longer than the old ones go in the old locator space: the file ends where it did. */
static void test_same_length_in_place(void **state)
{
    uint8_t *child, *content;
    uint64_t vsize;
    size_t size;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    assert_int_equal(sweep(SAME_LENGTH), size);
    free(child);
    free(content);
}

/* Longer paths: the locators stay at the end, in whole sectors (the
 * absolute one and ".\\" + the name, UTF-16). */
static void test_longer_moves_locators(void **state)
{
    uint8_t *child, *content;
    uint64_t vsize;
    size_t size, result;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    result = sweep(LONGER);
    assert_true(result > size);
    assert_int_equal((result - size) % 512, 0);
    free(child);
    free(content);
}

/* The link itself: the new parent's unique id and time stamp in the header,
 * its name in the parent-name field; PARENT_LOCATOR's form takes a given id
 * (GUID form) and keeps the old time stamp. */
static void test_link_fields(void **state)
{
    static const uint8_t given[16] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 9, 10, 11, 12, 13, 14, 15, 16 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_identity before, after, parent;
    struct vdsshim_image *img;
    uint8_t *child, *content;
    uint64_t vsize;
    size_t size;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    write_file("c.vhd", child, size);
    assert_status(vdsshim_open(SAME_LENGTH, 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &parent), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &before), VDSSHIM_OK);
    assert_true(memcmp(before.parent_id, parent.id, 16) != 0);
    assert_status(vdsshim_set_parent(img, SAME_LENGTH, &diag), VDSSHIM_OK);
    /* The open handle follows: the new link and the chain read through it. */
    assert_status(vdsshim_get_identity(img, &after), VDSSHIM_OK);
    assert_memory_equal(after.parent_id, parent.id, 16);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhd", 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &after), VDSSHIM_OK);
    assert_memory_equal(after.parent_id, parent.id, 16);
    assert_true(after.has_parent_timestamp);
    vdsshim_close(img);

    assert_status(vdsshim_open("c.vhd", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_set_parent_locator(img, given, "elsewhere.vhd", &diag), VDSSHIM_OK);
    vdsshim_close(img);
    assert_status(vdsshim_open("c.vhd", VDSSHIM_OPEN_NO_PARENTS, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_get_identity(img, &before), VDSSHIM_OK);
    assert_memory_equal(before.parent_id, given, 16);
    assert_int_equal(before.parent_timestamp, after.parent_timestamp);
    vdsshim_close(img);
    /* elsewhere.vhd does not exist: the chain no longer opens. */
    assert_status(vdsshim_open("c.vhd", 0, &img, &diag), VDSSHIM_E_PARENT_NOT_FOUND);
    remove("c.vhd");
    free(child);
    free(content);
}

/* Refused: nothing written. */
static void expect_refused(const uint8_t *raw, size_t size, const char *parent, int want)
{
    expect_op_refused(raw, size, "c.vhd", VDSSHIM_OPEN_WRITE, set_parent_to, (void *)parent, want);
}

static void test_refusals(void **state)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *child, *content;
    uint64_t vsize;
    size_t size;

    (void)state;
    make_chain(&child, &size, &content, &vsize);
    expect_refused(child, size, "missing.vhd", VDSSHIM_E_PARENT_NOT_FOUND);
    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 16 * MiB;
    remove("big.vhd");
    assert_status(vdsshim_create("big.vhd", &p, &diag), VDSSHIM_OK);
    expect_refused(child, size, "big.vhd", VDSSHIM_E_INVALID_ARG);
    p.format = VDSSHIM_FORMAT_VHDX;
    p.virtual_size = 8 * MiB;
    remove("x.vhdx");
    assert_status(vdsshim_create("x.vhdx", &p, &diag), VDSSHIM_OK);
    expect_refused(child, size, "x.vhdx", VDSSHIM_E_INVALID_ARG);
    remove("big.vhd");
    remove("x.vhdx");
    free(child);
    free(content);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_same_length_in_place),
        cmocka_unit_test(test_longer_moves_locators),
        cmocka_unit_test(test_link_fields),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
