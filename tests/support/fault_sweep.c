/*
 * The crash-safety sweep shared by the VHD and VHDX suites: for every write
 * (and truncate) index k of a compaction, cut the power after it (every
 * crash state of crash_states.h) or fail it (EIO/ENOSPC), also every flush and
 * the truncate; the disk left behind must open, read exactly as before, and a
 * re-run must end at the size of an uninterrupted run.
 */
#include <stdlib.h>
#include <string.h>

#include "crash_states.h"
#include "fault_sweep.h"

/* Run compaction over a fault plan; return the status and what the disk holds after. */
uint64_t sweep_move_batch_bytes;

/* The options of every compaction run here: the batch size the test chose. */
static const struct vdsshim_compact_options *sweep_options(void)
{
    static struct vdsshim_compact_options o;

    o.move_batch_bytes = sweep_move_batch_bytes;
    return &o;
}

int run_with_plan(const struct scenario *sc, struct vdsshim_fault_plan plan, struct vdsshim_io **disk,
                         struct vdsshim_fault_counters *c)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *mem, *io;
    struct vdsshim_image *img;
    int st;

    *disk = NULL;
    plan.refuse_ranges = sc->refuse_ranges;
    plan.inner_on_close = disk;
    plan.counters_on_close = c;
    assert_status(vdsshim_io_open_mem(sc->raw, sc->size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    st = vdsshim_open_io(io, sc->path, VDSSHIM_OPEN_WRITE, &img, &diag);
    assert_status(st, VDSSHIM_OK);
    st = vdsshim_compact(img, sweep_options(), NULL, &diag);
    if (st && strlen(diag.msg) < 10) fail_msg("no reason given for %s", vdsshim_status_name(st));
    vdsshim_close(img);
    assert_non_null(*disk);
    return st;
}

/* The disk after a crash or an error: valid, same content, and a re-run finishes. */
void check_recovers(const struct scenario *sc, struct vdsshim_io *disk, const char *what, uint64_t k)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_compact_result res;
    struct vdsshim_image *img;
    uint8_t *bytes, *now;
    const uint8_t *d;
    uint64_t vs;
    size_t n;
    int st;

    d = vdsshim_io_mem_data(disk, &n);
    bytes = malloc(n);
    memcpy(bytes, d, n);
    vdsshim_io_close(disk);

    /* Read-only first: the content is already right (a VHDX log is replayed in
     * memory) and not one byte is written. */
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c = { 0 };
        struct vdsshim_io *mem, *kept = NULL;

        plan.counters_on_close = &c;
        plan.inner_on_close = &kept;
        assert_status(vdsshim_io_open_mem(bytes, n, &mem), VDSSHIM_OK);
        assert_status(vdsshim_io_fault_wrap(mem, &plan, &disk), VDSSHIM_OK);
        st = vdsshim_open_io(disk, sc->path, 0, &img, &diag);
        if (st) fail_msg("%s at write %llu: read-only open failed: %s", what, (unsigned long long)k, diag.msg);
        now = read_all(img, &vs);
        if (vs != sc->vsize || memcmp(now, sc->content, (size_t)vs))
            fail_msg("%s at write %llu: a read-only open reads different data", what, (unsigned long long)k);
        free(now);
        vdsshim_close(img);
        assert_int_equal(c.writes + c.truncates, 0);
        vdsshim_io_close(kept);
    }
    assert_status(vdsshim_io_open_mem(bytes, n, &disk), VDSSHIM_OK);
    st = vdsshim_open_io(disk, sc->path, VDSSHIM_OPEN_WRITE, &img, &diag);
    if (st) fail_msg("%s at write %llu: reopen failed: %s", what, (unsigned long long)k, diag.msg);
    now = read_all(img, &vs);
    if (vs != sc->vsize || memcmp(now, sc->content, (size_t)vs))
        fail_msg("%s at write %llu: the guest would read different data", what, (unsigned long long)k);
    free(now);
    st = vdsshim_compact(img, sweep_options(), &res, &diag);
    if (st) fail_msg("%s at write %llu: re-run failed: %s", what, (unsigned long long)k, diag.msg);
    if (res.size_after != sc->final_size)
        fail_msg("%s at write %llu: re-run ends at %llu bytes, an uninterrupted run at %llu", what,
                 (unsigned long long)k, (unsigned long long)res.size_after, (unsigned long long)sc->final_size);
    now = read_all(img, &vs);
    assert_memory_equal(now, sc->content, (size_t)vs);
    free(now);
    vdsshim_close(img);
    free(bytes);
}

void scenario_prepare(struct scenario *sc)
{
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c;
    struct vdsshim_io *disk, *io;
    struct vdsshim_image *img;
    struct vdsshim_diag diag = { .msg = { 0 } };
    size_t n;

    assert_status(vdsshim_io_open_mem(sc->raw, sc->size, &io), VDSSHIM_OK);
    assert_status(vdsshim_open_io(io, sc->path, 0, &img, &diag), VDSSHIM_OK);
    sc->content = read_all(img, &sc->vsize);
    vdsshim_close(img);
    assert_status(run_with_plan(sc, plan, &disk, &c), VDSSHIM_OK);
    vdsshim_io_mem_data(disk, &n);
    sc->final_size = n;
    sc->writes = c.writes;
    sc->flushes = c.flushes;
    sc->truncates = c.truncates;
    vdsshim_io_close(disk);
    print_message("scenario %s%s: %llu writes, %llu flushes, %llu -> %llu bytes\n", sc->path,
                  sc->refuse_ranges ? " (no copy_range)" : "",
                  (unsigned long long)sc->writes, (unsigned long long)sc->flushes, (unsigned long long)sc->size,
                  (unsigned long long)sc->final_size);
    /* The scenario must really shrink the file, over many writes. */
    assert_true(sc->final_size < sc->size);
    assert_true(sc->writes >= 10);
    assert_true(sc->flushes >= 6);
    assert_int_equal(sc->truncates, 1);
}

void scenario_free(struct scenario *sc)
{
    free(sc->raw);
    free(sc->content);
}

void sweep_power_cuts(struct scenario *sc)
{
    uint64_t k;

    /* Success means durable: the power cut as the image is closed, every
     * unflushed write lost, leaves the finished result. */
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c;
        struct vdsshim_io *disk;
        struct vdsshim_image *img;
        uint8_t *now;
        uint64_t vs;
        size_t n;

        plan.cut_at_close = 1;
        plan.cut_mode = VDSSHIM_CUT_DROP;
        assert_status(run_with_plan(sc, plan, &disk, &c), VDSSHIM_OK);
        vdsshim_io_mem_data(disk, &n);
        if (n != sc->final_size)
            fail_msg("power cut just after success: %llu bytes, the finished run has %llu", (unsigned long long)n,
                     (unsigned long long)sc->final_size);
        img = open_mem_image(vdsshim_io_mem_data(disk, &n), n, 0);
        now = read_all(img, &vs);
        assert_memory_equal(now, sc->content, (size_t)vs);
        free(now);
        vdsshim_close(img);
        vdsshim_io_close(disk);
    }
    /* Every write, then every truncate (index writes + t), is a place to cut;
     * at each, every crash state (crash_states.h). */
    for (k = 1; k <= sc->writes + sc->truncates; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        uint64_t pending = 0;
        char name[96];
        unsigned m;

        for (m = 0; crash_state(m, pending, &plan, name, sizeof(name)); m++)
        {
            struct vdsshim_fault_counters c;
            struct vdsshim_io *disk;

            if (k <= sc->writes) plan.cut_after_write = k;
            else plan.cut_after_truncate = k - sc->writes;
            assert_status(run_with_plan(sc, plan, &disk, &c), VDSSHIM_E_IO);
            pending = c.pending_at_cut;
            check_recovers(sc, disk, name, k);
        }
    }
}

void sweep_errors(struct scenario *sc)
{
    uint64_t k;

    for (k = 1; k <= sc->writes; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c;
        struct vdsshim_io *disk;

        plan.fail_write = k;
        plan.fail_status = k % 2 ? VDSSHIM_E_IO : VDSSHIM_E_NOSPC;
        assert_status(run_with_plan(sc, plan, &disk, &c), plan.fail_status);
        /* Nothing more was attempted after the failure, but for a VHDX's two
         * header copies marking a fully applied log empty (vhdx_compact.c). */
        if (c.writes != k && c.writes != k + 2)
            fail_msg("%s at write %llu: %llu writes after it", k % 2 ? "EIO" : "ENOSPC", (unsigned long long)k,
                     (unsigned long long)(c.writes - k));
        check_recovers(sc, disk, k % 2 ? "EIO" : "ENOSPC", k);
    }
    for (k = 1; k <= sc->flushes; k++)
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c;
        struct vdsshim_io *disk;

        plan.fail_flush = k;
        assert_status(run_with_plan(sc, plan, &disk, &c), VDSSHIM_E_IO);
        check_recovers(sc, disk, "flush failure", k);
    }
    {
        struct vdsshim_fault_plan plan = { 0 };
        struct vdsshim_fault_counters c;
        struct vdsshim_io *disk;

        plan.fail_truncate = 1;
        plan.fail_status = VDSSHIM_E_NOSPC;
        assert_status(run_with_plan(sc, plan, &disk, &c), VDSSHIM_E_NOSPC);
        check_recovers(sc, disk, "truncate failure", 1);
    }
}


void corpus_judge(const uint8_t *m, size_t size, const char *path, unsigned i, unsigned *refused, unsigned *accepted)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_io *mem, *io, *kept = NULL;
    struct vdsshim_image *img = NULL;
    int st;

    plan.inner_on_close = &kept;
    plan.counters_on_close = &c;
    assert_status(vdsshim_io_open_mem(m, size, &mem), VDSSHIM_OK);
    assert_status(vdsshim_io_fault_wrap(mem, &plan, &io), VDSSHIM_OK);
    st = vdsshim_open_io(io, path, VDSSHIM_OPEN_WRITE, &img, &diag);
    if (st)
    {
        const uint8_t *after;
        size_t n;

        (*refused)++;
        if (st != VDSSHIM_E_CORRUPT && st != VDSSHIM_E_UNSUPPORTED && st != VDSSHIM_E_UNKNOWN_FORMAT
            && st != VDSSHIM_E_PARENT_NOT_FOUND)
            fail_msg("mutant %u: unexpected status %s (%s)", i, vdsshim_status_name(st), diag.msg);
        assert_true(diag.msg[0] != 0);
        assert_int_equal(c.writes + c.truncates, 0);
        after = vdsshim_io_mem_data(kept, &n);
        assert_int_equal(n, size);
        if (size) assert_memory_equal(after, m, size);
    }
    else
    {
        struct vdsshim_image *again;
        uint8_t *before, *after;
        const uint8_t *d;
        uint64_t vs;
        size_t n;

        (*accepted)++;
        before = read_all(img, &vs);
        st = vdsshim_compact(img, sweep_options(), NULL, &diag);
        if (st) fail_msg("mutant %u accepted but compaction failed: %s", i, diag.msg);
        vdsshim_close(img);
        d = vdsshim_io_mem_data(kept, &n);
        again = open_mem_image(d, n, 0);
        after = read_all(again, &vs);
        assert_memory_equal(before, after, (size_t)vs);
        vdsshim_close(again);
        free(before);
        free(after);
    }
    vdsshim_io_close(kept);
}
