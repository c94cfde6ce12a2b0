/*
 * VHD compaction: what is reclaimed, what must stay, exact resulting sizes,
 * differencing chains, options, progress/cancel, locking and refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vhd.h"
#include "vhd_builder.h"

#define BS (64u << 10)
#define SPAN (512u + BS)
/* footer copy + dynamic header + a one-sector BAT (up to 128 entries) */
#define META_16 (512u + 1024u + 512u)

static const uint8_t uid_parent[16] = { 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uid_child[16] = { 0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t uid_grand[16] = { 0x33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static uint8_t *block_data(uint32_t seed)
{
    uint8_t *d = malloc(BS);

    fill_random(d, BS, seed);
    return d;
}

/*
 * 16 blocks; physical slots in file order:
 *   0: block 0 random   1: block 1 zeros      2: block 2 empty bitmap, junk data
 *   3: block 3 random   4: block 4 zeros      5: block 5 partial bitmap, present sectors zero
 *   6: block 6 random   7: block 7 random     blocks 8..15 unallocated
 */
static uint8_t *make_mixed(size_t *size)
{
    struct vhd_builder b;
    uint8_t empty[16] = { 0 }, partial[16] = { 0 }, *junk = block_data(99), *out;
    uint8_t *d0 = block_data(1), *d3 = block_data(3), *d6 = block_data(6), *d7 = block_data(7);
    uint8_t *p5 = block_data(5);

    partial[0] = 0xf0;                          /* sectors 0-3 present ... */
    memset(p5, 0, 4 * 512);                     /* ... and zero; the rest is junk nobody reads */
    vb_init(&b, 16 * (uint64_t)BS, BS, uid_parent, NULL);
    vb_add_block(&b, 0, NULL, d0);
    vb_add_block(&b, 1, NULL, NULL);
    vb_add_block(&b, 2, empty, junk);
    vb_add_block(&b, 3, NULL, d3);
    vb_add_block(&b, 4, NULL, NULL);
    vb_add_block(&b, 5, partial, p5);
    vb_add_block(&b, 6, NULL, d6);
    vb_add_block(&b, 7, NULL, d7);
    vb_finish(&b, size);
    out = malloc(*size);
    memcpy(out, b.data, *size);
    vb_free(&b);
    free(junk); free(d0); free(d3); free(d6); free(d7); free(p5);
    return out;
}

static uint8_t *compact_mem(const uint8_t *raw, size_t size, unsigned flags, int want,
                            struct vdsshim_compact_result *res, size_t *out_size)
{
    return compact_in_memory(raw, size, "child.vhd", flags, want, res, out_size);
}

static void test_compact_dynamic_reclaims_exactly(void **state)
{
    struct vdsshim_compact_result res;
    uint8_t *raw, *out;
    size_t size, n;

    (void)state;
    raw = make_mixed(&size);
    assert_int_equal(size, META_16 + 8 * SPAN + 512);
    out = compact_mem(raw, size, 0, VDSSHIM_OK, &res, &n);
    /* Four live blocks packed into slots 0-3: only slots 6 and 7 had to move. */
    assert_int_equal(n, META_16 + 4 * SPAN + 512);
    assert_int_equal(res.size_before, size);
    assert_int_equal(res.blocks_scanned, 8);
    assert_int_equal(res.blocks_dropped, 4);
    assert_int_equal(res.blocks_moved, 2);
    /* Bytes written: two block copies, BAT sectors, one footer; nothing more. */
    assert_true(res.bytes_written <= 2 * SPAN + 4 * 512 + 512);
    {
        struct vdsshim_image *img = open_mem_image(out, n, 0);
        struct vdsshim_info info;
        vdsshim_get_info(img, &info);
        assert_int_equal(info.blocks_allocated, 4);
        vdsshim_close(img);
    }
    /* The footer and its copy are unchanged (unique id, timestamp, sizes, creator). */
    assert_memory_equal(out + n - 512, raw + size - 512, 512);
    assert_memory_equal(out, raw, 512);
    /* Compacting again finds nothing to do and writes nothing. */
    {
        uint8_t *again = compact_mem(out, n, 0, VDSSHIM_OK, &res, &size);
        assert_int_equal(size, n);
        assert_int_equal(res.bytes_written, 0);
        assert_int_equal(res.blocks_dropped, 0);
        free(again);
    }
    free(out);
    free(raw);
}

static void test_compact_no_zero_scan(void **state)
{
    struct vdsshim_compact_result res;
    uint8_t *raw, *out;
    size_t size, n;

    (void)state;
    raw = make_mixed(&size);
    out = compact_mem(raw, size, VDSSHIM_COMPACT_NO_ZERO_SCAN, VDSSHIM_OK, &res, &n);
    /* Only the block with an empty bitmap goes; zero data is not even read. */
    assert_int_equal(res.blocks_dropped, 1);
    assert_int_equal(res.blocks_moved, 1);
    assert_int_equal(n, META_16 + 7 * SPAN + 512);
    assert_int_equal(res.bytes_read, 8 * 512);         /* 8 bitmaps */
    assert_int_equal(res.bytes_copied, SPAN);          /* the one block moved, by copy_range (no user-space read) */
    free(out);
    free(raw);
}

static void test_compact_no_block_moves(void **state)
{
    struct vdsshim_compact_result res;
    uint8_t *raw, *out;
    size_t size, n;

    (void)state;
    raw = make_mixed(&size);
    out = compact_mem(raw, size, VDSSHIM_COMPACT_NO_BLOCK_MOVES, VDSSHIM_OK, &res, &n);
    assert_int_equal(res.blocks_dropped, 4);
    assert_int_equal(res.blocks_moved, 0);
    assert_int_equal(n, size);                          /* no truncation */
    /* Only BAT entries changed: everything outside the BAT is byte-identical. */
    assert_memory_equal(out, raw, 1536);
    assert_memory_equal(out + 2048, raw + 2048, size - 2048);
    assert_int_equal(get_be32(out + 1536 + 4), VHD_BAT_UNUSED);
    assert_int_equal(get_be32(out + 1536), get_be32(raw + 1536));
    free(out);
    free(raw);
}

/* Parent on disk: blocks 0, 1, 3 random, block 2 unallocated. */
static void make_parent_file(const char *path, const uint8_t uid[16], const uint8_t *parent_uid,
                             const char *locator)
{
    struct vhd_builder b;
    uint8_t *d0 = block_data(10), *d1 = block_data(11), *d3 = block_data(13);
    size_t size;

    vb_init(&b, 8 * (uint64_t)BS, BS, uid, parent_uid);
    if (locator) vb_add_locator(&b, VHD_PLAT_W2RU, locator);
    vb_add_block(&b, 0, NULL, d0);
    vb_add_block(&b, 1, NULL, d1);
    vb_add_block(&b, 3, NULL, d3);
    vb_finish(&b, &size);
    write_file(path, b.data, size);
    vb_free(&b);
    free(d0); free(d1); free(d3);
}

/* A child of parent.vhd whose blocks exercise every differencing rule. */
static uint8_t *make_child(size_t *size, const uint8_t *parent_uid, const char *locator)
{
    struct vhd_builder b;
    uint8_t partial[16] = { 0 }, empty[16] = { 0 };
    uint8_t *p0 = block_data(10), *p1 = block_data(11), *junk = block_data(77), *diff = block_data(55);
    uint8_t *out;

    partial[0] = 0x80;          /* sector 0 present, equal to the parent's */
    partial[3] = 0x01;          /* sector 31 present, equal too */
    memcpy(junk, p1, 512);
    memcpy(junk + 31 * 512, p1 + 31 * 512, 512);

    vb_init(&b, 8 * (uint64_t)BS, BS, uid_child, parent_uid);
    vb_add_locator(&b, VHD_PLAT_W2RU, locator);
    vb_add_block(&b, 0, NULL, p0);          /* same as the parent: drop */
    vb_add_block(&b, 3, NULL, NULL);        /* zeros over random parent data: must stay */
    vb_add_block(&b, 2, NULL, NULL);        /* zeros over an unallocated parent block: drop */
    vb_add_block(&b, 1, partial, junk);     /* present sectors equal the parent: drop */
    vb_add_block(&b, 4, empty, junk);       /* nothing present: drop */
    vb_add_block(&b, 5, NULL, diff);        /* real data: stays */
    vb_finish(&b, size);
    out = malloc(*size);
    memcpy(out, b.data, *size);
    vb_free(&b);
    free(p0); free(p1); free(junk); free(diff);
    return out;
}

static void test_compact_differencing(void **state)
{
    struct vdsshim_compact_result res;
    uint8_t *raw, *out;
    size_t size, n;

    (void)state;
    make_parent_file("parent.vhd", uid_parent, NULL, NULL);
    raw = make_child(&size, uid_parent, ".\\parent.vhd");
    out = compact_mem(raw, size, 0, VDSSHIM_OK, &res, &n);
    assert_int_equal(res.blocks_scanned, 6);
    assert_int_equal(res.blocks_dropped, 4);
    {
        /* The zero block that masks parent data is still there. */
        struct vdsshim_image *img = open_mem_image(out, n, 0);
        struct vdsshim_info info;
        vdsshim_get_info(img, &info);
        assert_int_equal(info.blocks_allocated, 2);
        assert_int_equal(info.chain_depth, 2);
        assert_true(info.parent_open);
        vdsshim_close(img);
    }
    free(out);

    /* Without the zero scan only the empty-bitmap block can go. */
    out = compact_mem(raw, size, VDSSHIM_COMPACT_NO_ZERO_SCAN, VDSSHIM_OK, &res, &n);
    assert_int_equal(res.blocks_dropped, 1);
    free(out);
    free(raw);
    remove("parent.vhd");
}

static void test_chain_depth_three(void **state)
{
    struct vdsshim_compact_result res;
    uint8_t *raw, *out;
    size_t size, n;

    (void)state;
    make_parent_file("grand.vhd", uid_grand, NULL, NULL);
    make_parent_file("mid.vhd", uid_parent, uid_grand, "grand.vhd");
    raw = make_child(&size, uid_parent, "mid.vhd");
    out = compact_mem(raw, size, 0, VDSSHIM_OK, &res, &n);
    {
        struct vdsshim_image *img = open_mem_image(out, n, 0);
        struct vdsshim_info info;
        vdsshim_get_info(img, &info);
        assert_int_equal(info.chain_depth, 3);
        vdsshim_close(img);
    }
    free(out);
    free(raw);
    remove("grand.vhd");
    remove("mid.vhd");
}

static void test_chain_errors(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img = NULL;
    struct vdsshim_io *io;
    uint8_t *raw, buf[512];
    size_t size;

    (void)state;
    /* Missing parent. */
    raw = make_child(&size, uid_parent, "nowhere.vhd");
    assert_status(vdsshim_io_open_mem(raw, size, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "child.vhd", 0, &img, &diag), VDSSHIM_E_PARENT_NOT_FOUND);
    /* ... still readable without parents, but parent-backed sectors say so. */
    assert_status(vdsshim_io_open_mem(raw, size, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "child.vhd", VDSSHIM_OPEN_NO_PARENTS | VDSSHIM_OPEN_WRITE, &img, &diag),
                  VDSSHIM_OK);
    assert_status(vdsshim_read(img, 5 * (uint64_t)BS, buf, 512, &diag), VDSSHIM_OK);   /* own data */
    assert_status(vdsshim_read(img, 7 * (uint64_t)BS, buf, 512, &diag), VDSSHIM_E_PARENT_NOT_FOUND);
    assert_status(vdsshim_compact(img, NULL, NULL, &diag), VDSSHIM_E_PARENT_NOT_FOUND);
    vdsshim_close(img);
    free(raw);

    /* A file that is not the parent (unique id differs). */
    make_parent_file("other.vhd", uid_grand, NULL, NULL);
    raw = make_child(&size, uid_parent, "other.vhd");
    assert_status(vdsshim_io_open_mem(raw, size, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, "child.vhd", 0, &img, &diag), VDSSHIM_E_PARENT_MISMATCH);
    assert_non_null(strstr(diag.msg, "other.vhd"));
    free(raw);
    remove("other.vhd");

    /* A loop: a.vhd's parent is b.vhd, whose parent is a.vhd. */
    make_parent_file("a.vhd", uid_child, uid_parent, "b.vhd");
    make_parent_file("b.vhd", uid_parent, uid_child, "a.vhd");
    assert_status(vdsshim_open("a.vhd", 0, &img, &diag), VDSSHIM_E_CORRUPT);
    assert_non_null(strstr(diag.msg, "loop"));
    remove("a.vhd");
    remove("b.vhd");
}

struct progress_log
{
    unsigned values[4096];
    unsigned n;
    unsigned cancel_at;     /* cancel once this percent is reached (0 = never) */
};

static int log_progress(void *ctx, unsigned pct)
{
    struct progress_log *log = ctx;

    if (log->n < 4096) log->values[log->n++] = pct;
    return log->cancel_at && pct >= log->cancel_at;
}

static void test_progress_and_cancel(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_options opts = { 0 };
    struct vdsshim_compact_result res;
    struct progress_log *log = calloc(1, sizeof(*log));
    struct vdsshim_image *img;
    uint8_t *raw, *before, *after;
    uint64_t vs;
    size_t size;
    unsigned i;

    (void)state;
    raw = make_mixed(&size);
    write_file("progress.vhd", raw, size);
    opts.progress = log_progress;
    opts.progress_ctx = log;

    assert_status(vdsshim_open("progress.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    before = read_all(img, &vs);
    log->cancel_at = 30;
    assert_status(vdsshim_compact(img, &opts, &res, &diag), VDSSHIM_E_CANCELLED);
    assert_non_null(strstr(diag.msg, "cancelled"));
    vdsshim_close(img);
    for (i = 1; i < log->n; i++) assert_true(log->values[i] >= log->values[i - 1]);
    assert_true(log->values[log->n - 1] >= 30 && log->values[log->n - 1] < 100);

    /* The cancelled image is valid and reads the same; a re-run finishes the job. */
    log->n = 0;
    log->cancel_at = 0;
    assert_status(vdsshim_open("progress.vhd", VDSSHIM_OPEN_WRITE, &img, &diag), VDSSHIM_OK);
    after = read_all(img, &vs);
    assert_memory_equal(before, after, (size_t)vs);
    free(after);
    assert_status(vdsshim_compact(img, &opts, &res, &diag), VDSSHIM_OK);
    assert_int_equal(res.size_after, META_16 + 4 * SPAN + 512);
    after = read_all(img, &vs);
    assert_memory_equal(before, after, (size_t)vs);
    vdsshim_close(img);
    assert_true(log->n >= 3);
    assert_int_equal(log->values[0], 0);
    assert_int_equal(log->values[log->n - 1], 100);
    for (i = 1; i < log->n; i++) assert_true(log->values[i] >= log->values[i - 1]);
    free(before);
    free(after);
    free(log);
    free(raw);
    remove("progress.vhd");
}

static void test_lock_in_use(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *a, *b = (void *)1;
    uint8_t *raw;
    size_t size;

    (void)state;
    raw = make_mixed(&size);
    write_file("locked.vhd", raw, size);
    assert_status(vdsshim_open("locked.vhd", VDSSHIM_OPEN_WRITE, &a, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("locked.vhd", VDSSHIM_OPEN_WRITE, &b, &diag), VDSSHIM_E_IN_USE);
    assert_null(b);
    assert_string_equal(diag.msg, "in use by another process (vdsshim)");
    assert_status(vdsshim_open("locked.vhd", 0, &b, &diag), VDSSHIM_E_IN_USE);
    vdsshim_close(a);
    assert_status(vdsshim_open("locked.vhd", 0, &a, &diag), VDSSHIM_OK);
    assert_status(vdsshim_open("locked.vhd", 0, &b, &diag), VDSSHIM_OK);    /* readers share */
    vdsshim_close(a);
    vdsshim_close(b);
    free(raw);
    remove("locked.vhd");
}

static void test_fixed_and_readonly_refused(void **state)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_result res;
    struct vdsshim_image *img;
    struct vhd_footer f;

    memset(&f, 0, sizeof(f));
    uint8_t *raw = calloc(1, 4 * BS + 512);
    uint8_t *mixed;
    size_t size;

    (void)state;
    memcpy(f.cookie, "conectix", 8);
    f.features = 2;
    f.version = VHD_VERSION_1;
    f.data_offset = VHD_NO_DATA_OFFSET;
    f.current_size = f.original_size = 4 * BS;
    f.disk_type = VDSSHIM_DISK_FIXED;
    fill_random(raw, 4 * BS, 4);
    vhd_footer_encode(&f, raw + 4 * BS);
    img = open_mem_image(raw, 4 * BS + 512, VDSSHIM_OPEN_WRITE);
    assert_status(vdsshim_compact(img, NULL, &res, &diag), VDSSHIM_E_WRONG_TYPE);
    assert_non_null(strstr(diag.msg, "fixed"));
    {
        uint8_t buf[1000];
        assert_status(vdsshim_read(img, 1000, buf, sizeof(buf), &diag), VDSSHIM_OK);
        assert_memory_equal(buf, raw + 1000, sizeof(buf));
    }
    vdsshim_close(img);

    mixed = make_mixed(&size);
    img = open_mem_image(mixed, size, 0);
    assert_status(vdsshim_compact(img, NULL, &res, &diag), VDSSHIM_E_READONLY);
    {
        struct vdsshim_compact_options bad = { .flags = 0x80 };
        assert_status(vdsshim_compact(img, &bad, &res, &diag), VDSSHIM_E_INVALID_ARG);
    }
    vdsshim_close(img);
    free(mixed);
    free(raw);
}

static void test_open_write_trims_tail(void **state)
{
    struct vhd_builder b;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *d = block_data(3);
    size_t size;

    (void)state;
    vb_init(&b, 4 * (uint64_t)BS, BS, uid_parent, NULL);
    vb_add_block(&b, 1, NULL, d);
    vb_add_gap(&b, 3 * SPAN);               /* what an interrupted run leaves behind */
    vb_finish(&b, &size);
    img = open_mem_image(b.data, size, 0);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.file_size, size);             /* read-only: untouched */
    vdsshim_close(img);
    img = open_mem_image(b.data, size, VDSSHIM_OPEN_WRITE);
    vdsshim_get_info(img, &info);
    assert_int_equal(info.file_size, META_16 + SPAN + 512);
    vdsshim_close(img);
    vb_free(&b);
    free(d);
}

/* A Xen batmap stays reserved; dropped blocks lose their bit; its checksum stays valid. */
static void test_batmap_kept_consistent(void **state)
{
    struct vdsshim_compact_result res;
    struct vhd_builder b;
    uint8_t *d = block_data(8), *out, *bad;
    uint64_t hdr;
    size_t size, n;

    (void)state;
    vb_init(&b, 8 * (uint64_t)BS, BS, uid_parent, NULL);
    vb_add_batmap(&b);
    hdr = b.batmap_header;
    vb_add_block(&b, 0, NULL, NULL);        /* zero: dropped */
    vb_add_block(&b, 1, NULL, d);
    vb_add_block(&b, 2, NULL, NULL);        /* zero: dropped */
    vb_add_block(&b, 3, NULL, d);           /* moves into slot 0, after the batmap */
    vb_finish(&b, &size);
    assert_int_equal(b.data[hdr + 512], 0xf0);

    out = compact_mem(b.data, size, 0, VDSSHIM_OK, &res, &n);
    assert_int_equal(res.blocks_dropped, 2);
    assert_int_equal(n, META_16 + 1024 + 2 * SPAN + 512);
    assert_memory_equal(out + hdr, "tdbatmap", 8);
    assert_int_equal(out[hdr + 512], 0x50);                 /* blocks 1 and 3 */
    assert_int_equal(get_be32(out + hdr + 24), vhd_checksum(out + hdr + 512, 512, 512));
    free(out);

    /* A batmap whose checksum does not match (an update cut off between its
     * two sectors) is stale, not corrupt: it opens, and compaction clears
     * every bit (a clear bit is never wrong) with a matching checksum. */
    bad = malloc(size);
    memcpy(bad, b.data, size);
    bad[hdr + 512] ^= 0x08;     /* block 4's bit: set, though it is not allocated */
    out = compact_mem(bad, size, 0, VDSSHIM_OK, &res, &n);
    assert_memory_equal(out + hdr, "tdbatmap", 8);
    assert_int_equal(out[hdr + 512], 0x00);
    assert_int_equal(get_be32(out + hdr + 24), vhd_checksum(out + hdr + 512, 512, 512));
    free(out);
    free(bad);
    vb_free(&b);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] =
    {
        cmocka_unit_test(test_compact_dynamic_reclaims_exactly),
        cmocka_unit_test(test_compact_no_zero_scan),
        cmocka_unit_test(test_compact_no_block_moves),
        cmocka_unit_test(test_compact_differencing),
        cmocka_unit_test(test_chain_depth_three),
        cmocka_unit_test(test_chain_errors),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_lock_in_use),
        cmocka_unit_test(test_fixed_and_readonly_refused),
        cmocka_unit_test(test_open_write_trims_tail),
        cmocka_unit_test(test_batmap_kept_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
