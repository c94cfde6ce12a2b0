/* vdsshim convert: a new image of another format or type with the same content. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "tool.h"

int cmd_convert(const char *src, const char *dst, const struct create_args *a, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    struct bar bar = { 0 };
    const char *fmt = a->format ? a->format : ends_with(dst, ".vhdx") || ends_with(dst, ".avhdx") ? "vhdx" : "vhd";
    int st;

    if (!strcmp(fmt, "vhd")) p.format = VDSSHIM_FORMAT_VHD;
    else if (!strcmp(fmt, "vhdx")) p.format = VDSSHIM_FORMAT_VHDX;
    else
    {
        fprintf(stderr, "vdsshim: --format is vhd or vhdx: %s (see vdsshim --help)\n", fmt);
        return EXIT_USAGE;
    }
    if (a->parent)
    {
        fprintf(stderr, "vdsshim: convert makes a fixed or dynamic disk: no --parent (see vdsshim --help)\n");
        return EXIT_USAGE;
    }
    p.type = a->fixed ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    if ((a->size && !(p.virtual_size = parse_size(a->size)))
        || (a->block_size && !(p.block_size = (uint32_t)parse_size(a->block_size)))
        || (a->sector_size && !(p.logical_sector_size = (uint32_t)parse_size(a->sector_size))))
    {
        fprintf(stderr, "vdsshim: bad --size, --block-size or --sector-size (see vdsshim --help)\n");
        return EXIT_USAGE;
    }
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    bar_begin(&bar, "converting", json, quiet);
    st = vdsshim_convert(src, dst, &p, &opts, &diag);
    bar_end(&bar);
    if (st)
    {
        if (json)
        {
            printf("{\"file\":");
            json_string(stdout, dst);
            printf(",\"status\":\"%s\"}\n", vdsshim_status_name(st));
        }
        return fail(st == VDSSHIM_E_EXISTS ? dst : src, st, &diag);
    }
    if ((st = vdsshim_open(dst, 0, &img, &diag))) return fail(dst, st, &diag);
    vdsshim_get_info(img, &info);
    vdsshim_close(img);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, dst);
        printf(",\"status\":\"OK\",\"format\":\"%s\",\"type\":\"%s\",\"virtual_size\":%llu,\"file_size\":%llu}\n",
               info.format == VDSSHIM_FORMAT_VHDX ? "vhdx" : "vhd", info.type == VDSSHIM_DISK_FIXED ? "fixed" : "dynamic",
               (unsigned long long)info.virtual_size, (unsigned long long)info.file_size);
    }
    else if (!quiet)
        printf("%s: converted from %s, %llu bytes virtual, %llu bytes on disk\n", dst, src,
               (unsigned long long)info.virtual_size, (unsigned long long)info.file_size);
    return EXIT_OK;
}
