/*
 * Compaction of a fuzzed VHD or VHDX (a sparse image, see fuzz.h) on the
 * in-memory backend: open read-write (which replays a VHDX log on disk),
 * compact, reopen. Properties: a refused open never writes; an accepted image
 * either compacts or fails with a status, and in both cases reopens and reads
 * exactly what it read before.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vdsshim_io_fault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_fault_counters c = { 0 };
    struct vdsshim_fault_plan plan = { 0 };
    struct vdsshim_io *file, *io, *kept = NULL;
    struct vdsshim_image *img;
    uint8_t *before, *after;
    size_t lb = 0, la = 0;
    uint64_t digest;
    int st, sb, sa;

    if (!(file = fuzz_sparse_image(data, size))) return 0;
    digest = fuzz_sparse_digest(file);
    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    if (vdsshim_io_fault_wrap(file, &plan, &io)) abort();

    st = vdsshim_open_io(io, "fuzz.img", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    if (st == VDSSHIM_E_NOSPC)
    {
        /* The image asked to grow past what the harness gives (a replayed log
         * extending the file): an environment limit, not a refusal. */
        vdsshim_io_close(kept);
        return 0;
    }
    if (st)
    {
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "refused with %s, reason '%s'", vdsshim_status_name(st),
                   diag.msg);
        FUZZ_CHECK(c.writes + c.truncates == 0, "a refused image was written");
        FUZZ_CHECK(fuzz_sparse_digest(kept) == digest, "a refused image changed");
        vdsshim_io_close(kept);
        return 0;
    }

    before = fuzz_guest_view(img, &lb, &sb);
    st = vdsshim_compact(img, NULL, NULL, &diag);
    FUZZ_CHECK(st == VDSSHIM_OK || fuzz_is_refusal(st) || st == VDSSHIM_E_WRONG_TYPE || st == VDSSHIM_E_NOSPC,
               "compaction failed with %s: %s", vdsshim_status_name(st), diag.msg);
    vdsshim_close(img);

    /* The image takes the file back; closing it frees the file. */
    st = vdsshim_open_io(kept, "fuzz.img", VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    FUZZ_CHECK(st == VDSSHIM_OK, "after compaction the image no longer opens: %s", diag.msg);
    after = fuzz_guest_view(img, &la, &sa);
    if (before)
        FUZZ_CHECK(after && la == lb && !memcmp(before, after, lb), "compaction changed what the guest reads (%s)",
                   after ? "different bytes" : vdsshim_status_name(sa));
    free(before);
    free(after);
    vdsshim_close(img);
    return 0;
}
