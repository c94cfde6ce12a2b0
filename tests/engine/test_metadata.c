/*
 * VHDX user metadata written by the engine (vdsshim_metadata_set/delete):
 * add, replace, delete, read back, the limits and refusals (with the file
 * byte for byte untouched), and a crash sweep: a power cut after any write,
 * in every crash state, leaves a valid image whose item is the old value or
 * the new one, whole, and whose other item is intact; a re-run then succeeds.
 * The same sweep for the file's own items changed in place: the virtual
 * disk id and the physical sector size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_sweep.h"
#include "vhdx.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

static const uint8_t id_a[16] = { 0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t id_b[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 9, 9, 9, 9, 9, 9, 9, 9 };

struct image { uint8_t *raw; size_t size; };

static void build(struct image *im)
{
    static const uint8_t dwg[16] = { 0x72, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    struct vhdx_builder b;
    uint8_t *d = malloc(MiB);

    xb_init(&b, 16 * MiB, MiB, 512, dwg, NULL, NULL);
    fill_random(d, MiB, 7);
    xb_add_block(&b, 3, 6, d, NULL);
    xb_finish(&b, &im->size);
    im->raw = malloc(im->size);
    memcpy(im->raw, b.data, im->size);
    xb_free(&b);
    free(d);
}

/* An open image whose bytes survive its close: vdsshim_close closes the I/O
 * it was given, so it goes through a fault wrapper (no faults) that hands
 * the inner memory file back (struct session). */
struct session
{
    struct vdsshim_fault_plan plan;
    struct vdsshim_io *disk;
};

static struct vdsshim_image *open_session(const struct image *im, unsigned flags, struct session *s)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *mem, *io;
    struct vdsshim_image *img;

    memset(s, 0, sizeof(*s));
    s->plan.inner_on_close = &s->disk;
    assert_status(vdsshim_io_open_mem(im->raw, im->size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &s->plan, &io), VDSSHIM_OK);
    if (vdsshim_open_io(io, "meta.vhdx", flags, &img, &diag)) fail_msg("open: %s", diag.msg);
    return img;
}

/* Close, and make im the bytes the session left. */
static void close_session(struct vdsshim_image *img, struct session *s, struct image *im)
{
    const uint8_t *d;
    size_t n;

    vdsshim_close(img);
    d = vdsshim_io_mem_data(s->disk, &n);
    free(im->raw);
    im->raw = malloc(n);
    memcpy(im->raw, d, n);
    im->size = n;
    vdsshim_io_close(s->disk);
}

/* The item's value: size (or -1 when absent), and the bytes into buf. */
static long item(struct vdsshim_image *img, const uint8_t id[16], uint8_t *buf, uint32_t cap)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint32_t size = 0;
    int st = vdsshim_metadata_get(img, id, buf, cap, &size, &diag);

    if (st == VDSSHIM_E_NOT_FOUND) return -1;
    if (st) fail_msg("get: %s", diag.msg);
    return (long)size;
}

static void test_set_get_delete(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct session ses;
    struct image im;
    uint8_t got[9000], big[9000], ids[4][16];
    struct vdsshim_info info;
    unsigned count;

    (void)state;
    build(&im);
    fill_random(big, sizeof(big), 3);
    img = open_session(&im, VDSSHIM_OPEN_WRITE, &ses);
    assert_status(vdsshim_metadata_set(img, id_a, "hello, vdsshim", 14, &diag), VDSSHIM_OK);
    assert_int_equal(item(img, id_a, got, sizeof(got)), 14);
    assert_memory_equal(got, "hello, vdsshim", 14);
    /* Replaced by a larger value (two sectors and more), a second item beside it. */
    assert_status(vdsshim_metadata_set(img, id_a, big, sizeof(big), &diag), VDSSHIM_OK);
    assert_status(vdsshim_metadata_set(img, id_b, "b", 1, &diag), VDSSHIM_OK);
    assert_status(vdsshim_metadata_set(img, id_b, NULL, 0, &diag), VDSSHIM_OK);
    assert_status(vdsshim_metadata_list(img, ids, 4, &count), VDSSHIM_OK);
    assert_int_equal(count, 2);
    close_session(img, &ses, &im);

    /* Reopened (a fresh read of the table): both there, the values whole. */
    img = open_session(&im, 0, &ses);
    assert_int_equal(item(img, id_a, got, sizeof(got)), (long)sizeof(big));
    assert_memory_equal(got, big, sizeof(big));
    assert_int_equal(item(img, id_b, got, sizeof(got)), 0);
    close_session(img, &ses, &im);

    img = open_session(&im, VDSSHIM_OPEN_WRITE, &ses);
    assert_status(vdsshim_metadata_delete(img, id_a, &diag), VDSSHIM_OK);
    assert_int_equal(item(img, id_a, got, sizeof(got)), -1);
    assert_status(vdsshim_metadata_delete(img, id_a, &diag), VDSSHIM_E_NOT_FOUND);
    close_session(img, &ses, &im);
    img = open_session(&im, 0, &ses);
    assert_int_equal(item(img, id_a, got, sizeof(got)), -1);
    assert_int_equal(item(img, id_b, got, sizeof(got)), 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.virtual_size, 16 * MiB);     /* the file's own items untouched */
    close_session(img, &ses, &im);
    free(im.raw);
}

static void test_refusals(void **state)
{
    static const uint8_t zero[16];
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct session ses;
    struct image im, before;
    uint8_t *huge = calloc(1, MiB + 1);
    unsigned i;

    (void)state;
    build(&im);
    before.size = im.size;
    before.raw = malloc(im.size);
    memcpy(before.raw, im.raw, im.size);
    img = open_session(&im, VDSSHIM_OPEN_WRITE, &ses);
    assert_status(vdsshim_metadata_set(img, zero, "x", 1, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_metadata_set(img, vhdx_meta_disk_size, "x", 1, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_metadata_delete(img, vhdx_meta_disk_size, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_metadata_set(img, id_a, huge, MiB + 1, &diag), VDSSHIM_E_INVALID_ARG);
    assert_status(vdsshim_metadata_delete(img, id_b, &diag), VDSSHIM_E_NOT_FOUND);
    close_session(img, &ses, &im);
    if (im.size != before.size || memcmp(im.raw, before.raw, im.size)) fail_msg("a refused call wrote to the file");
    /* Read-only: refused. */
    img = open_session(&im, 0, &ses);
    assert_status(vdsshim_metadata_set(img, id_a, "x", 1, &diag), VDSSHIM_E_READONLY);
    close_session(img, &ses, &im);
    /* The region fills: items of 1 MiB less a sector until there is no room, then E_NOSPC. */
    img = open_session(&im, VDSSHIM_OPEN_WRITE, &ses);
    for (i = 0; i < 64; i++)
    {
        uint8_t id[16];
        int st;

        memcpy(id, id_a, 16);
        id[15] = (uint8_t)(0x80 + i);
        if ((st = vdsshim_metadata_set(img, id, huge, MiB - 4096, &diag)))
        {
            assert_status(st, VDSSHIM_E_NOSPC);
            break;
        }
    }
    assert_true(i < 64);
    close_session(img, &ses, &im);
    /* A VHD has no user metadata. */
    {
        static const uint8_t uid[16] = { 1, 2, 3 };
        struct vhd_builder vb;
        struct vdsshim_io *io;
        struct vdsshim_image *r;
        size_t size;

        vb_init(&vb, 8 * MiB, 2 * MiB, uid, NULL);
        vb_finish(&vb, &size);
        assert_status(vdsshim_io_open_mem(vb.data, size, &io), VDSSHIM_OK);
        assert_status(vdsshim_open_io(io, "m.vhd", VDSSHIM_OPEN_WRITE, &r, &diag), VDSSHIM_OK);
        assert_status(vdsshim_metadata_set(r, id_a, "x", 1, &diag), VDSSHIM_E_WRONG_TYPE);
        vdsshim_close(r);
        vb_free(&vb);
    }
    free(huge);
    free(im.raw);
    free(before.raw);
}

/* The replace sweep: id_a's old value, id_b beside it untouched. */
static const char old_value[] = "the old value, one sector";

/* One operation of a sweep, on an image opened read-write through a fault plan. */
typedef int (*meta_op)(struct vdsshim_image *img, const void *ctx, struct vdsshim_diag *diag);

/* What run_op runs: the log restarted first when log_in_use, then op. */
struct logged_op
{
    int log_in_use;
    meta_op op;
    const void *ctx;
};

static int restart_then(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag)
{
    const struct logged_op *l = ctx;
    /* (Its two header writes count: a cut there fails it like the operation.) */
    int st = l->log_in_use ? vhdx_log_restart(img, img->fmt, diag) : VDSSHIM_OK;

    return st ? st : l->op(img, l->ctx, diag);
}

/* Open base through plan (with the log already active when log_in_use: then no
 * restart, and its flush, comes between an item's data and the table), run op,
 * close; the disk left behind comes back in *disk. */
static int run_op(const struct image *base, struct vdsshim_fault_plan plan, int log_in_use, meta_op op,
                  const void *ctx, struct vdsshim_io **disk, struct vdsshim_fault_counters *c)
{
    struct logged_op l = { log_in_use, op, ctx };

    return run_op_under_plan(base->raw, base->size, "meta.vhdx", VDSSHIM_OPEN_WRITE, plan, restart_then, &l, disk, c);
}

/* The replace sweep's operation: id_a gets the new value. */
struct new_value { const uint8_t *data; uint32_t size; };

static int replace_item(struct vdsshim_image *img, const void *ctx, struct vdsshim_diag *diag)
{
    const struct new_value *nv = ctx;

    return vdsshim_metadata_set(img, id_a, nv->data, nv->size, diag);
}

static int run_replace(const struct image *base, struct vdsshim_fault_plan plan, int log_in_use,
                       struct vdsshim_io **disk, struct vdsshim_fault_counters *c, const uint8_t *value,
                       uint32_t size)
{
    struct new_value nv = { value, size };

    return run_op(base, plan, log_in_use, replace_item, &nv, disk, c);
}

static void check_after_cut(struct vdsshim_io *disk, const uint8_t *value, uint32_t size, const char *what,
                            uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t *got = malloc(size + 64);
    struct vdsshim_image *img;
    struct vdsshim_io *io;
    struct session ses;
    struct image left;
    const uint8_t *d;
    long n;
    size_t len;

    d = vdsshim_io_mem_data(disk, &len);
    left.raw = malloc(len);
    memcpy(left.raw, d, len);
    left.size = len;
    assert_status(vdsshim_io_open_mem(d, len, &io), VDSSHIM_OK);
    if (vdsshim_open_io(io, "meta.vhdx", 0, &img, &diag))
        fail_msg("%s after write %llu: the image does not open: %s", what, (unsigned long long)k, diag.msg);
    n = item(img, id_a, got, size + 64);
    if (!(n == (long)sizeof(old_value) && !memcmp(got, old_value, sizeof(old_value)))
        && !(n == (long)size && !memcmp(got, value, size)))
        fail_msg("%s after write %llu: the item is neither the old value nor the new one (%ld bytes)", what,
                 (unsigned long long)k, n);
    if (item(img, id_b, got, 64) != 2 || memcmp(got, "bb", 2))
        fail_msg("%s after write %llu: the other item changed", what, (unsigned long long)k);
    vdsshim_close(img);
    /* A re-run finishes the job. */
    img = open_session(&left, VDSSHIM_OPEN_WRITE, &ses);
    if (vdsshim_metadata_set(img, id_a, value, size, &diag))
        fail_msg("%s after write %llu: the re-run failed: %s", what, (unsigned long long)k, diag.msg);
    assert_int_equal(item(img, id_a, got, size + 64), (long)size);
    close_session(img, &ses, &left);
    free(left.raw);
    free(got);
}

static void sweep(int log_in_use)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_io *disk;
    struct session ses;
    struct image base;
    uint8_t value[6000];
    uint64_t writes, k;
    unsigned m;
    size_t n;

    build(&base);
    /* The starting point: id_a holds the old value, id_b "bb". */
    img = open_session(&base, VDSSHIM_OPEN_WRITE, &ses);
    assert_status(vdsshim_metadata_set(img, id_a, old_value, sizeof(old_value), &diag), VDSSHIM_OK);
    assert_status(vdsshim_metadata_set(img, id_b, "bb", 2, &diag), VDSSHIM_OK);
    close_session(img, &ses, &base);
    fill_random(value, sizeof(value), 11);

    assert_status(run_replace(&base, plan, log_in_use, &disk, &c, value, sizeof(value)), VDSSHIM_OK);
    check_after_cut(disk, value, sizeof(value), "uninterrupted", 0);
    vdsshim_io_close(disk);
    writes = c.writes;
    print_message("replacing an item takes %llu writes, %llu flushes\n", (unsigned long long)writes,
                  (unsigned long long)c.flushes);
    assert_true(writes >= 3);
    /* Success is durable: a power cut at close, unflushed writes lost, keeps the new value. */
    memset(&plan, 0, sizeof(plan));
    plan.cut_at_close = 1;
    plan.cut_mode = VDSSHIM_CUT_DROP;
    assert_status(run_replace(&base, plan, log_in_use, &disk, &c, value, sizeof(value)), VDSSHIM_OK);
    {
        const uint8_t *d = vdsshim_io_mem_data(disk, &n);
        struct vdsshim_image *r = open_mem_image(d, n, 0);
        uint8_t got[6100];

        if (item(r, id_a, got, sizeof(got)) != (long)sizeof(value) || memcmp(got, value, sizeof(value)))
            fail_msg("power cut just after a successful set: the old value is back");
        vdsshim_close(r);
    }
    vdsshim_io_close(disk);
    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            int st;

            plan.cut_after_write = k;
            st = run_replace(&base, plan, log_in_use, &disk, &c, value, sizeof(value));
            if (st != VDSSHIM_E_IO) fail_msg("%s after write %llu: status %s", name, (unsigned long long)k,
                                             vdsshim_status_name(st));
            pending = c.pending_at_cut;
            check_after_cut(disk, value, sizeof(value), name, k);
            vdsshim_io_close(disk);
        }
        memset(&plan, 0, sizeof(plan));
        plan.fail_write = k;
        plan.fail_status = k % 2 ? VDSSHIM_E_IO : VDSSHIM_E_NOSPC;
        assert_status(run_replace(&base, plan, log_in_use, &disk, &c, value, sizeof(value)), plan.fail_status);
        check_after_cut(disk, value, sizeof(value), "write error", k);
        vdsshim_io_close(disk);
    }
    free(base.raw);
}

static void test_crash_sweep(void **state)
{
    (void)state;
    sweep(0);
}

static void test_crash_sweep_log_in_use(void **state)
{
    (void)state;
    sweep(1);
}

/* The system-item sweep's operation: the virtual disk id, then the physical sector size. */
static int change_system_items(struct vdsshim_image *img, const void *id, struct vdsshim_diag *diag)
{
    int st = vdsshim_set_virtual_disk_id(img, id, diag);

    return st ? st : vdsshim_set_physical_sector_size(img, 512, diag);
}

static void test_system_items_sweep(void **state)
{
    static const uint8_t new_id[16] = { 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk, *io;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    struct image base;
    uint8_t old_id[16];
    uint64_t writes, k;
    unsigned m;
    const uint8_t *d;
    size_t n;

    (void)state;
    build(&base);
    assert_status(vdsshim_io_open_mem(base.raw, base.size, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "meta.vhdx", 0, &img, &diag), VDSSHIM_OK);
    vdsshim_get_info(img, &info);
    memcpy(old_id, info.unique_id, 16);
    assert_int_equal(info.physical_sector_size, 4096);
    vdsshim_close(img);

    assert_status(run_op(&base, plan, 0, change_system_items, new_id, &disk, &c), VDSSHIM_OK);
    writes = c.writes;
    d = vdsshim_io_mem_data(disk, &n);
    img = open_mem_image(d, n, 0);
    vdsshim_get_info(img, &info);
    assert_memory_equal(info.unique_id, new_id, 16);
    assert_int_equal(info.physical_sector_size, 512);
    vdsshim_close(img);
    vdsshim_io_close(disk);
    print_message("the id and the sector size take %llu writes\n", (unsigned long long)writes);
    for (k = 1; k <= writes; k++)
    {
        uint64_t pending = 0;
        char name[96];

        memset(&plan, 0, sizeof(plan));
        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            plan.cut_after_write = k;
            assert_status(run_op(&base, plan, 0, change_system_items, new_id, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            d = vdsshim_io_mem_data(disk, &n);
            assert_status(vdsshim_io_open_mem(d, n, &io), VDSSHIM_OK);
            if (vdsshim_open_io(io, "meta.vhdx", 0, &img, &diag))
                fail_msg("%s after write %llu: the image does not open: %s", name, (unsigned long long)k, diag.msg);
            vdsshim_get_info(img, &info);
            if (memcmp(info.unique_id, old_id, 16) && memcmp(info.unique_id, new_id, 16))
                fail_msg("%s after write %llu: the id is neither old nor new", name, (unsigned long long)k);
            if (info.physical_sector_size != 4096 && info.physical_sector_size != 512)
                fail_msg("%s after write %llu: physical sector size %u", name, (unsigned long long)k,
                         info.physical_sector_size);
            /* The sector size is changed second: changed means the id is too. */
            if (info.physical_sector_size == 512 && memcmp(info.unique_id, new_id, 16))
                fail_msg("%s after write %llu: the second change landed before the first", name, (unsigned long long)k);
            vdsshim_close(img);
            vdsshim_io_close(disk);
        }
    }
    free(base.raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_delete),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_crash_sweep),
        cmocka_unit_test(test_crash_sweep_log_in_use),
        cmocka_unit_test(test_system_items_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
