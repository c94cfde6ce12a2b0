/*
 * vdsshim_shrink: a dynamic VHDX of 16 MiB in 1 MiB blocks with data below
 * and past 6 MiB (and a block straddling nothing: 6 MiB is a block edge, then
 * 6.5 MiB inside one) is shrunk; the guest reads the same below the new size,
 * nothing past it is referenced, the file ends smaller. A power cut after
 * every write, in every crash state: the image opens with the old or the new
 * size, the same content below the new size, and a re-run finishes. The
 * refusals leave the bytes as they were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_states.h"
#include "test_util.h"
#include "vhdx.h"

#define MiB (1ull << 20)

/* A 16 MiB dynamic VHDX, blocks 1, 3 (below 6 MiB), 6, 9, 15 written, settled. */
static uint8_t *make_image(const char *path, enum vdsshim_disk_type type, size_t *size)
{
    static const unsigned blocks[] = { 1, 3, 6, 9, 15 };
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint8_t *buf = malloc(MiB), units[MiB / 512];
    unsigned i;

    remove(path);
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = type;
    p.virtual_size = 16 * MiB;
    p.block_size = (uint32_t)MiB;
    assert_status(vdsshim_create(path, &p, &diag), VDSSHIM_OK);
    if (type == VDSSHIM_DISK_DYNAMIC)
    {
        assert_status(vdsshim_open(path, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
        memset(units, 1, sizeof(units));
        for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        {
            memset(buf, 0x40 + blocks[i], MiB);
            if (img->ops->write_units(img, blocks[i] * MiB, buf, MiB, units, &diag)) fail_msg("write: %s", diag.msg);
        }
        assert_status(img->ops->settle(img, &diag), VDSSHIM_OK);
        vdsshim_close(img);
    }
    free(buf);
    return read_whole_file(path, size);
}

static int shrink_to(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    return vdsshim_shrink(img, *(const uint64_t *)ctx, NULL, diag);
}

static int shrink_on(const uint8_t *raw, size_t size, struct vdsshim_fault_plan plan, uint64_t new_size,
                     struct vdsshim_io **disk, struct vdsshim_fault_counters *c)
{
    return run_op_under_plan(raw, size, "s.vhdx", VDSSHIM_OPEN_WRITE, plan, shrink_to, &new_size, disk, c);
}

/* Opens; the size is the old or (new_only) the new one; reads content below new_size. */
static void expect_state(struct vdsshim_io *disk, const uint8_t *content, uint64_t new_size, int new_only,
                         const char *what, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    struct vdsshim_io *io;
    const uint8_t *d;
    uint8_t *now;
    uint64_t vs;
    size_t n;

    d = vdsshim_io_mem_data(disk, &n);
    assert_status(vdsshim_io_open_mem(d, n, &io), VDSSHIM_OK);
    if (vdsshim_open_io(io, "s.vhdx", 0, &img, &diag))
        fail_msg("%s after write %llu: the image does not open: %s", what, (unsigned long long)k, diag.msg);
    vdsshim_get_info(img, &info);
    if (info.virtual_size != new_size && (new_only || info.virtual_size != 16 * MiB))
        fail_msg("%s after write %llu: virtual size %llu", what, (unsigned long long)k,
                 (unsigned long long)info.virtual_size);
    now = read_all(img, &vs);
    if (memcmp(now, content, (size_t)new_size))
        fail_msg("%s after write %llu: the content below the new size changed", what, (unsigned long long)k);
    free(now);
    /* With the new size, no entry past it (the BAT region as the log shows
     * it) may still point at a block: a later growth would revive it. */
    if (info.virtual_size == new_size)
    {
        struct vhdx *v = img->fmt;
        uint8_t *bat = malloc(v->bat_region.length);
        uint64_t i;

        assert_status(vhdx_file_read(img, v, bat, v->bat_region.length, v->bat_region.offset, "BAT", &diag), VDSSHIM_OK);
        for (i = v->bat.entries; i < v->bat_region.length / 8; i++)
            if (VHDX_BAT_OFFSET(get_le64(bat + 8 * i)))
                fail_msg("%s after write %llu: BAT entry %llu past the new size still points at a block", what,
                         (unsigned long long)k, (unsigned long long)i);
        free(bat);
    }
    vdsshim_close(img);
}

static void test_shrink_and_power_cuts(void **state)
{
    const uint64_t new_size = 6 * MiB + 512 * 1024;      /* inside block 6: it stays */
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_io *disk;
    struct vdsshim_info info;
    uint8_t *raw, *content;
    uint64_t vs, writes, k;
    const uint8_t *d;
    size_t size, n;
    unsigned m;

    (void)state;
    raw = make_image("s.vhdx", VDSSHIM_DISK_DYNAMIC, &size);
    img = open_mem_image(raw, size, 0);
    content = read_all(img, &vs);
    vdsshim_close(img);

    assert_status(shrink_on(raw, size, plan, new_size, &disk, &c), VDSSHIM_OK);
    writes = c.writes;
    expect_state(disk, content, new_size, 1, "uninterrupted", 0);
    d = vdsshim_io_mem_data(disk, &n);
    img = open_mem_image(d, n, 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.blocks_allocated, 3);         /* blocks 1, 3 and 6 */
    assert_true(n < size);
    assert_int_equal(n, 4 * MiB + 3 * MiB);             /* header, log, metadata, BAT, then the 3 blocks */
    vdsshim_close(img);
    vdsshim_io_close(disk);
    print_message("shrink takes %llu writes, %llu flushes\n", (unsigned long long)writes, (unsigned long long)c.flushes);

    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            struct vdsshim_fault_plan none = { 0 };
            struct vdsshim_diag diag = { .msg = { 0 } };
            struct vdsshim_io *io;
            uint8_t *left;

            plan.cut_after_write = k;
            assert_status(shrink_on(raw, size, plan, new_size, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            expect_state(disk, content, new_size, 0, name, k);
            /* A re-run finishes: the new size (or nothing left to do). */
            d = vdsshim_io_mem_data(disk, &n);
            left = malloc(n);
            memcpy(left, d, n);
            vdsshim_io_close(disk);
            assert_status(vdsshim_io_open_mem(left, n, &io), VDSSHIM_OK);
            assert_status(vdsshim_open_io(io, "s.vhdx", 0, &img, &diag), VDSSHIM_OK);
            vdsshim_get_info(img, &info);
            vdsshim_close(img);
            if (info.virtual_size != new_size
                && shrink_on(left, n, none, new_size, &disk, &c))
                fail_msg("%s after write %llu: the re-run failed", name, (unsigned long long)k);
            if (info.virtual_size != new_size)
            {
                expect_state(disk, content, new_size, 1, name, k);
                vdsshim_io_close(disk);
            }
            free(left);
        }
    }
    free(raw);
    free(content);
}

/* Refused: nothing written. */
static void expect_refused(const uint8_t *raw, size_t size, uint64_t new_size, int want)
{
    expect_op_refused(raw, size, "s.vhdx", VDSSHIM_OPEN_WRITE, shrink_to, &new_size, want);
}

static void test_refusals(void **state)
{
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint8_t *raw;
    size_t size;

    (void)state;
    raw = make_image("s.vhdx", VDSSHIM_DISK_DYNAMIC, &size);
    expect_refused(raw, size, 0, VDSSHIM_E_INVALID_ARG);
    expect_refused(raw, size, 16 * MiB, VDSSHIM_E_INVALID_ARG);
    expect_refused(raw, size, 32 * MiB, VDSSHIM_E_INVALID_ARG);
    expect_refused(raw, size, 4 * MiB + 100, VDSSHIM_E_INVALID_ARG);
    free(raw);
    assert_status(vdsshim_open("s.vhdx", 0, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_shrink(img, 4 * MiB, NULL, &diag), VDSSHIM_E_READONLY);
    vdsshim_close(img);

    raw = make_image("s.vhdx", VDSSHIM_DISK_FIXED, &size);
    expect_refused(raw, size, 4 * MiB, VDSSHIM_E_WRONG_TYPE);
    free(raw);

    p.format = VDSSHIM_FORMAT_VHD;
    p.type = VDSSHIM_DISK_DYNAMIC;
    p.virtual_size = 16 * MiB;
    remove("s.vhd");
    assert_status(vdsshim_create("s.vhd", &p, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("s.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_shrink(img, 4 * MiB, NULL, &diag), VDSSHIM_E_UNSUPPORTED);
    vdsshim_close(img);
    memset(&p, 0, sizeof(p));
    p.format = VDSSHIM_FORMAT_VHDX;
    p.type = VDSSHIM_DISK_DIFFERENCING;
    p.parent_path = "s.vhdx";
    remove("c.vhdx");
    assert_status(vdsshim_create("c.vhdx", &p, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("c.vhdx", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    assert_status(vdsshim_shrink(img, 4 * MiB, NULL, &diag), VDSSHIM_E_WRONG_TYPE);
    vdsshim_close(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrink_and_power_cuts),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
