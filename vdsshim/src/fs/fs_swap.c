/*
 * Linux swap (formats.md §6 has none; the layout is the kernel's
 * include/linux/swap.h union swap_header): one header page whose last ten
 * bytes say "SWAPSPACE2", the page size being the kernel's (4 KiB on x86,
 * 16 or 64 KiB elsewhere: all three are tried). Nothing in a swap area
 * outlives the shutdown of the system that used it, so everything after the
 * header page is free. A hibernation image writes its own signature there
 * instead ("S1SUSPEND", "S2SUSPEND", "ULSUSPEND", "LINHIB0001"): the pages
 * then hold the image to resume from, and the volume falls back.
 */
#include <stdio.h>
#include <string.h>

#include "fsmap.h"

#define SWAP_MAGIC_LEN 10
#define SWAP_VERSION_AT 1024u       /* after the boot-bits area */

static int is_hibernation(const uint8_t *magic)
{
    static const char *const sigs[] = { "S1SUSPEND", "S2SUSPEND", "ULSUSPEND", "LINHIB0001" };
    size_t i;

    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (!memcmp(magic, sigs[i], strlen(sigs[i]))) return 1;
    return 0;
}

int fs_swap_map(const struct fs_volume *vol, struct fsmap *map, struct vdsshim_fs_report *r)
{
    static const uint32_t page_sizes[] = { 4096, 16384, 65536 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    uint8_t magic[SWAP_MAGIC_LEN], version[4];
    size_t i;
    int st;

    for (i = 0; i < sizeof(page_sizes) / sizeof(page_sizes[0]); i++)
    {
        uint32_t page = page_sizes[i];

        if (vol->size < 2ull * page) break;
        if ((st = fs_read(vol, page - SWAP_MAGIC_LEN, magic, sizeof(magic), &diag))) return st;
        if (is_hibernation(magic))
        {
            strcpy(r->fs, "swap");
            return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "the swap area holds a hibernation image to resume from");
        }
        if (memcmp(magic, "SWAPSPACE2", SWAP_MAGIC_LEN)) continue;
        strcpy(r->fs, "swap");
        /* Version 1, in either byte order (the kernel writes its own). */
        if ((st = fs_read(vol, SWAP_VERSION_AT, version, sizeof(version), &diag))) return st;
        if (get_le32(version) != 1 && get_be32(version) != 1)
            return fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "swap header version %u is not 1", get_le32(version));
        return fsmap_add_free(map, vol, page, vol->size - page, r);
    }
    return VDSSHIM_E_UNKNOWN_FORMAT;
}
