/*
 * The partition-table readers (MBR, extended chains, GPT) and the free-space
 * maps of NTFS, FAT, exFAT and ext2/3/4, over a fuzzed raw disk (a sparse
 * image, see fuzz.h) presented as a fixed VHD. Properties: the map is sorted,
 * disjoint and inside the disk; every free byte lies in a volume that was
 * mapped; a volume that fell back says why and contributes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "fs/fsmap.h"
#include "fuzz.h"
#include "vhd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_io *file;
    struct vdsshim_image *img;
    struct vhd_footer f;
    struct fsmap map;
    uint8_t footer[VHD_FOOTER_SIZE];
    uint64_t disk, prev_end = 0;
    size_t i;
    unsigned k;
    int st;

    if (!(file = fuzz_sparse_image(data, size))) return 0;
    if (vdsshim_io_size(file, &disk) || disk < 4096) goto out;
    {
        /* A disk that starts like a VHDX file would be probed as one. */
        uint8_t magic[8];
        if (vdsshim_io_read(file, magic, 8, 0) || !memcmp(magic, "vhdxfile", 8)) goto out;
    }
    disk &= ~511ull;
    /* A fixed VHD is the raw disk plus a footer: the engine reads it as is. */
    memset(&f, 0, sizeof(f));
    memcpy(f.cookie, "conectix", 8);
    f.features = 2;
    f.version = VHD_VERSION_1;
    f.data_offset = VHD_NO_DATA_OFFSET;
    f.current_size = f.original_size = disk;
    f.disk_type = VDSSHIM_DISK_FIXED;
    vhd_footer_encode(&f, footer);
    if (vdsshim_io_truncate(file, disk) || vdsshim_io_write(file, footer, sizeof(footer), disk)) goto out;
    if ((st = vdsshim_open_io(file, "fuzz.vhd", 0, &img, &diag)))
    {
        FUZZ_CHECK(0, "a fixed VHD around the disk did not open: %s", diag.msg);
        return 0;
    }
    st = fsmap_build(img, &map, &diag);
    FUZZ_CHECK(st == VDSSHIM_OK || st == VDSSHIM_E_NOMEM, "fsmap_build: %s (%s)", vdsshim_status_name(st), diag.msg);
    if (!st)
    {
        for (i = 0; i < map.n; i++)
        {
            const struct fs_extent *e = &map.ext[i];
            int inside = 0;

            FUZZ_CHECK(e->len && e->start >= prev_end && e->start + e->len <= disk,
                       "free extent %zu (%llu+%llu) is empty, overlapping or past the disk", i,
                       (unsigned long long)e->start, (unsigned long long)e->len);
            prev_end = e->start + e->len;
            for (k = 0; k < map.nreports && !inside; k++)
                inside = map.reports[k].used && e->start >= map.reports[k].offset
                      && e->start + e->len <= map.reports[k].offset + map.reports[k].size;
            FUZZ_CHECK(inside, "free extent %zu lies in no mapped volume", i);
        }
        for (k = 0; k < map.nreports; k++)
            FUZZ_CHECK(map.reports[k].used || (map.reports[k].reason[0] && !map.reports[k].free_bytes),
                       "volume %u fell back without a reason or kept free bytes", k);
        fsmap_free(&map);
    }
    vdsshim_close(img);
    return 0;
out:
    vdsshim_io_close(file);
    return 0;
}
