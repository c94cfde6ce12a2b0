#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_states.h"
#include "image.h"
#include "test_util.h"

void assert_status_(int got, int want, const char *file, int line)
{
    if (got != want)
    {
        print_error("%s:%d: status %s (%d), expected %s (%d)\n", file, line, vdsshim_status_name(got), got,
                    vdsshim_status_name(want), want);
        _fail(file, line);
    }
}

struct vdsshim_image *open_mem_image(const void *data, size_t size, unsigned flags)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img = NULL;
    struct vdsshim_io *io;
    int st;

    assert_status(vdsshim_io_open_mem(data, size, &io), VDSSHIM_OK);
    st = vdsshim_open_io(io, "mem.vhd", flags, &img, &diag);
    if (st) print_error("open: %s: %s\n", vdsshim_status_name(st), diag.msg);
    assert_status(st, VDSSHIM_OK);
    return img;
}

uint8_t *read_all(struct vdsshim_image *img, uint64_t *size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    uint8_t *buf;
    int st;

    vdsshim_get_info(img, &info);
    buf = malloc(info.virtual_size ? (size_t)info.virtual_size : 1);
    assert_non_null(buf);
    st = vdsshim_read(img, 0, buf, (size_t)info.virtual_size, &diag);
    if (st) print_error("read: %s\n", diag.msg);
    assert_status(st, VDSSHIM_OK);
    *size = info.virtual_size;
    return buf;
}

int run_op_under_plan(const uint8_t *raw, size_t size, const char *path, unsigned flags, struct vdsshim_fault_plan plan,
                      image_op op, void *ctx, struct vdsshim_io **disk, struct vdsshim_fault_counters *c)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *mem, *io;
    struct vdsshim_image *img;
    int st;

    *disk = NULL;
    plan.inner_on_close = disk;
    plan.counters_on_close = c;
    assert_status(vdsshim_io_open_mem(raw, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    /* The open's own writes meet the plan too (a settled log, a stale footer copy). */
    if ((st = vdsshim_open_io(io, path, flags, &img, &diag))) return st;
    st = op(img, ctx, &diag);
    if (st && strlen(diag.msg) < 10) fail_msg("no reason given for %s", vdsshim_status_name(st));
    vdsshim_close(img);
    return st;
}

void sweep_op_cuts(const uint8_t *raw, size_t size, const char *path, unsigned flags, image_op op, void *ctx,
                   uint64_t writes, uint64_t switch_writes, cut_check check, void *check_ctx)
{
    struct vdsshim_fault_counters c = { 0 };
    uint64_t k;
    unsigned m;

    for (k = 1; k <= writes; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        uint64_t pending = 0;
        char name[96];

        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            struct vdsshim_fault_plan none = { 0 };
            struct vdsshim_io *disk, *again;
            const uint8_t *d;
            uint8_t *left;
            size_t n;

            plan.cut_after_write = k;
            assert_status(run_op_under_plan(raw, size, path, flags, plan, op, ctx, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            check(disk, check_ctx, k > switch_writes, name, k);
            /* A re-run from what the cut left finishes the job. */
            d = vdsshim_io_mem_data(disk, &n);
            left = malloc(n);
            assert_non_null(left);
            memcpy(left, d, n);
            vdsshim_io_close(disk);
            if (run_op_under_plan(left, n, path, flags, none, op, ctx, &again, &c))
                fail_msg("%s after write %llu: the re-run failed", name, (unsigned long long)k);
            check(again, check_ctx, 1, name, k);
            vdsshim_io_close(again);
            free(left);
        }
    }
}

struct vdsshim_image *open_left(struct vdsshim_io *disk, const char *path, const char *what, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_io *io;
    const uint8_t *d;
    size_t n;

    d = vdsshim_io_mem_data(disk, &n);
    assert_status(vdsshim_io_open_mem(d, n, &io), VDSSHIM_OK);
    if (vdsshim_open_io(io, path, 0, &img, &diag))
        fail_msg("%s after write %llu: the image does not open: %s", what, (unsigned long long)k, diag.msg);
    return img;
}

struct vdsshim_image *open_left_rw(struct vdsshim_io *disk, const char *path, const char *what, uint64_t k,
                                   struct vdsshim_io **after)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_io *io, *mem;
    const uint8_t *d;
    size_t n;

    *after = NULL;
    d = vdsshim_io_mem_data(disk, &n);
    assert_status(vdsshim_io_open_mem(d, n, &mem), VDSSHIM_OK);
    plan.inner_on_close = after;
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    if (vdsshim_open_io(io, path, VDSSHIM_OPEN_WRITE, &img, &diag))
        fail_msg("%s after write %llu: no read-write open: %s", what, (unsigned long long)k, diag.msg);
    return img;
}

void expect_reads(struct vdsshim_image *img, const uint8_t *content, uint64_t vsize, const char *what, uint64_t k)
{
    uint64_t vs;
    uint8_t *now = read_all(img, &vs);

    if (vs != vsize || memcmp(now, content, (size_t)vs))
        fail_msg("%s after write %llu: the guest reads different data", what, (unsigned long long)k);
    free(now);
}

void expect_op_refused(const uint8_t *raw, size_t size, const char *path, unsigned flags, image_op op, void *ctx,
                       int want)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *disk;
    const uint8_t *d;
    size_t n;

    assert_status(run_op_under_plan(raw, size, path, flags, plan, op, ctx, &disk, &c), want);
    d = vdsshim_io_mem_data(disk, &n);
    assert_int_equal(n, size);
    assert_memory_equal(d, raw, size);
    vdsshim_io_close(disk);
}

void write_fill(const char *path, uint64_t off, uint8_t fill)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    uint8_t *buf = malloc(1u << 20), units[(1u << 20) / 512];

    assert_non_null(buf);
    memset(buf, fill, 1u << 20);
    memset(units, 1, sizeof(units));
    assert_status(vdsshim_open(path, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    if (img->ops->write_units(img, off, buf, 1u << 20, units, &diag)) fail_msg("write %s: %s", path, diag.msg);
    /* A clean log: the next read-write open then writes nothing itself. */
    if (img->ops->settle && img->ops->settle(img, &diag)) fail_msg("settle %s: %s", path, diag.msg);
    vdsshim_close(img);
    free(buf);
}

void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

uint8_t *read_whole_file(const char *path, size_t *size)
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

void expect_open_rw(const uint8_t *img, size_t size, const char *path, int status, const char *needle)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_image *out = (void *)1;
    struct vdsshim_io *mem, *io, *kept = NULL;
    const uint8_t *after;
    size_t n;

    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(img, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, path, VDSSHIM_OPEN_WRITE, &out, &diag), status);
    if (status == VDSSHIM_OK)
    {
        vdsshim_close(out);
        vdsshim_io_close(kept);
        return;
    }
    assert_null(out);
    if (needle && !strstr(diag.msg, needle)) fail_msg("diagnostic \"%s\" does not mention \"%s\"", diag.msg, needle);
    assert_true(strlen(diag.msg) > 10 && !strchr(diag.msg, '\n'));
    assert_non_null(kept);
    assert_int_equal(c.writes + c.truncates, 0);
    after = vdsshim_io_mem_data(kept, &n);
    assert_int_equal(n, size);
    if (size) assert_memory_equal(after, img, size);
    vdsshim_io_close(kept);
}

uint8_t *compact_in_memory(const uint8_t *raw, size_t size, const char *path, unsigned flags, int want,
                           struct vdsshim_compact_result *res, size_t *out_size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_options opts = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_io *mem, *io, *kept = NULL;
    struct vdsshim_image *img;
    uint8_t *before, *after, *bytes;
    uint64_t vs1, vs2;
    const uint8_t *d;
    size_t n;
    int st;

    plan.inner_on_close = &kept;
    assert_status(vdsshim_io_open_mem(raw, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, path, VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    before = read_all(img, &vs1);
    opts.flags = flags;
    st = vdsshim_compact(img, &opts, res, &diag);
    if (st != want) fail_msg("compact: %s (%s), expected %s", vdsshim_status_name(st), diag.msg,
                             vdsshim_status_name(want));
    vdsshim_close(img);

    d = vdsshim_io_mem_data(kept, &n);
    bytes = malloc(n);
    memcpy(bytes, d, n);
    vdsshim_io_close(kept);
    *out_size = n;
    if (res) assert_int_equal(res->size_after, n);

    /* Reopened from scratch (under the same name, for parent locators), the guest sees the same bytes. */
    assert_status(vdsshim_io_open_mem(bytes, n, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, path, 0, &img, &diag), VDSSHIM_OK);
    after = read_all(img, &vs2);
    assert_int_equal(vs1, vs2);
    assert_memory_equal(before, after, (size_t)vs1);
    vdsshim_close(img);
    free(before);
    free(after);
    return bytes;
}
