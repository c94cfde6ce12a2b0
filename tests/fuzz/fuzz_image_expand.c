/*
 * Expansion of a fuzzed VHD or VHDX (a sparse image, see fuzz.h) on the
 * in-memory backend, to a size taken from the input's last byte (up to 2x).
 * Properties: a refused open never writes; an accepted image either expands
 * or fails with a status, and in both cases reopens with the old or the new
 * size, reading what it read before below the old size and zeros above it.
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
    struct vdsshim_info before_info, after_info;
    uint8_t *before, *after, tail[4096];
    size_t lb = 0, la = 0, i;
    uint64_t digest, new_size;
    int st, sb, sa;

    if (!(file = fuzz_sparse_image(data, size))) return 0;
    digest = fuzz_sparse_digest(file);
    plan.counters_on_close = &c;
    plan.inner_on_close = &kept;
    if (vdsshim_io_fault_wrap(file, &plan, &io)) abort();

    st = vdsshim_open_io(io, "fuzz.img", VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    if (st == VDSSHIM_E_NOSPC)
    {
        vdsshim_io_close(kept);     /* the harness's size limit, as in fuzz_image_compact */
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
    vdsshim_get_info(img, &before_info);
    before = fuzz_guest_view(img, &lb, &sb);
    new_size = before_info.virtual_size + (before_info.virtual_size / 256 * (size ? data[size - 1] : 1)
                                           / before_info.logical_sector_size * before_info.logical_sector_size);
    st = vdsshim_expand(img, new_size, NULL, &diag);
    FUZZ_CHECK(st == VDSSHIM_OK || fuzz_is_refusal(st) || st == VDSSHIM_E_WRONG_TYPE || st == VDSSHIM_E_NOSPC
               || st == VDSSHIM_E_INVALID_ARG,
               "expansion failed with %s: %s", vdsshim_status_name(st), diag.msg);
    vdsshim_close(img);

    st = vdsshim_open_io(kept, "fuzz.img", VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    FUZZ_CHECK(st == VDSSHIM_OK, "after expansion the image no longer opens: %s", diag.msg);
    vdsshim_get_info(img, &after_info);
    FUZZ_CHECK(after_info.virtual_size == before_info.virtual_size || after_info.virtual_size == new_size,
               "virtual size %llu is neither %llu nor %llu", (unsigned long long)after_info.virtual_size,
               (unsigned long long)before_info.virtual_size, (unsigned long long)new_size);
    if (before && after_info.virtual_size == before_info.virtual_size)
    {
        after = fuzz_guest_view(img, &la, &sa);
        FUZZ_CHECK(after && la == lb && !memcmp(before, after, lb), "a failed expansion changed the content");
        free(after);
    }
    else if (before && before_info.virtual_size <= (1u << 20))
    {
        /* Small disks were read whole: the same bytes, then zeros. */
        after = malloc((size_t)before_info.virtual_size + 1);
        FUZZ_CHECK(vdsshim_read(img, 0, after, (size_t)before_info.virtual_size, &diag) == VDSSHIM_OK,
                   "the old range no longer reads: %s", diag.msg);
        FUZZ_CHECK(!memcmp(before, after, lb), "expansion changed the old content");
        free(after);
    }
    if (after_info.virtual_size > before_info.virtual_size && after_info.virtual_size - before_info.virtual_size >= sizeof(tail))
    {
        st = vdsshim_read(img, after_info.virtual_size - sizeof(tail), tail, sizeof(tail), &diag);
        if (st == VDSSHIM_OK)
            for (i = 0; i < sizeof(tail); i++) FUZZ_CHECK(!tail[i], "the new space does not read zeros");
    }
    free(before);
    vdsshim_close(img);
    return 0;
}
