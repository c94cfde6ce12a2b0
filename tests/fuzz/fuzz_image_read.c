/*
 * The virtual-disk reader over a fuzzed VHD or VHDX (a sparse image, see
 * fuzz.h), opened read-only from memory without parents. Covers probing, the
 * footer/header/BAT/locators of VHD, the headers, region tables, metadata,
 * BAT and in-memory log replay of VHDX, and reads through bitmaps and block
 * states. Properties: a refusal is one of the image statuses with a reason;
 * an accepted image reports sane facts and reads the same twice; nothing is
 * ever written.
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
    struct vdsshim_io *file, *io;
    struct vdsshim_image *img;
    struct vdsshim_info info;
    uint8_t *a, *b;
    size_t la, lb;
    int st, sa, sb;

    if (!(file = fuzz_sparse_image(data, size))) return 0;
    plan.counters_on_close = &c;
    if (vdsshim_io_fault_wrap(file, &plan, &io)) abort();

    st = vdsshim_open_io(io, "fuzz.img", VDSSHIM_OPEN_NO_PARENTS, &img, &diag);
    if (st)
    {
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "refused with %s, reason '%s'", vdsshim_status_name(st),
                   diag.msg);
        FUZZ_CHECK(c.writes + c.truncates == 0, "a refused read-only open wrote");
        return 0;
    }
    vdsshim_get_info(img, &info);
    FUZZ_CHECK(info.blocks_allocated <= info.block_count, "%llu of %llu blocks allocated",
               (unsigned long long)info.blocks_allocated, (unsigned long long)info.block_count);
    FUZZ_CHECK(info.logical_sector_size == 512 || info.logical_sector_size == 4096, "sector size %u",
               info.logical_sector_size);
    FUZZ_CHECK(info.virtual_size % 512 == 0, "virtual size %llu", (unsigned long long)info.virtual_size);

    a = fuzz_guest_view(img, &la, &sa);
    b = fuzz_guest_view(img, &lb, &sb);
    FUZZ_CHECK(sa == sb, "the same reads gave %s, then %s", vdsshim_status_name(sa), vdsshim_status_name(sb));
    FUZZ_CHECK(!a == !b && (!a || (la == lb && !memcmp(a, b, la))), "the same reads gave different bytes");
    if (!a)
        FUZZ_CHECK(sa == VDSSHIM_E_CORRUPT || sa == VDSSHIM_E_PARENT_NOT_FOUND, "read failed with %s",
                   vdsshim_status_name(sa));
    free(a);
    free(b);
    vdsshim_close(img);
    FUZZ_CHECK(c.writes + c.truncates == 0, "a read-only open wrote");
    return 0;
}
