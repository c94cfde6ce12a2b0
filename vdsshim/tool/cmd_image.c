/* vdsshim create, merge and expand. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || !*s || *s == '-') return 0;
    v = strtoull(s, &end, 10);
    switch (*end)
    {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    }
    if (*end == 'i' && shift) end++;            /* "GiB" */
    if ((*end == 'b' || *end == 'B') && shift) end++;
    if (*end || (shift && v > (~0ull >> shift))) return 0;
    return (uint64_t)v << shift;
}

int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix), i;

    if (n < m) return 0;
    for (i = 0; i < m; i++)
        if ((s[n - m + i] | 0x20) != suffix[i]) return 0;
    return 1;
}

static int usage_error(const char *msg, const char *value)
{
    fprintf(stderr, "vdsshim: %s%s%s (see vdsshim --help)\n", msg, value ? ": " : "", value ? value : "");
    return EXIT_USAGE;
}

int cmd_create(const char *path, const struct create_args *a, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_create_params p = { 0 };
    struct vdsshim_image *img;
    struct vdsshim_info info;
    const char *fmt = a->format;
    int st;

    if (!fmt) fmt = ends_with(path, ".vhdx") || ends_with(path, ".avhdx") ? "vhdx" : "vhd";
    if (!strcmp(fmt, "vhd")) p.format = VDSSHIM_FORMAT_VHD;
    else if (!strcmp(fmt, "vhdx")) p.format = VDSSHIM_FORMAT_VHDX;
    else return usage_error("--format is vhd or vhdx", fmt);
    if (a->parent && a->fixed) return usage_error("a differencing disk cannot be fixed", NULL);
    p.type = a->parent ? VDSSHIM_DISK_DIFFERENCING : a->fixed ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    p.parent_path = a->parent;
    if (a->size && !(p.virtual_size = parse_size(a->size))) return usage_error("bad --size", a->size);
    if (!a->size && !a->parent) return usage_error("create needs --size (or --parent)", NULL);
    if (a->block_size && !(p.block_size = (uint32_t)parse_size(a->block_size)))
        return usage_error("bad --block-size", a->block_size);
    if (a->sector_size && !(p.logical_sector_size = (uint32_t)parse_size(a->sector_size)))
        return usage_error("bad --sector-size", a->sector_size);
    /* A parent made from another format is found out by the engine, with its reason. */
    if (a->parent && !a->format)
        p.format = ends_with(a->parent, ".vhdx") || ends_with(a->parent, ".avhdx") ? VDSSHIM_FORMAT_VHDX
                 : ends_with(a->parent, ".vhd") || ends_with(a->parent, ".avhd") ? VDSSHIM_FORMAT_VHD : p.format;

    if ((st = vdsshim_create(path, &p, &diag))) return fail(path, st, &diag);
    if ((st = vdsshim_open(path, 0, &img, &diag))) return fail(path, st, &diag);
    vdsshim_get_info(img, &info);
    vdsshim_close(img);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"status\":\"OK\",\"format\":\"%s\",\"type\":\"%s\",\"virtual_size\":%llu,\"file_size\":%llu,"
               "\"block_size\":%u,\"logical_sector_size\":%u}\n",
               info.format == VDSSHIM_FORMAT_VHDX ? "vhdx" : "vhd",
               info.type == VDSSHIM_DISK_FIXED ? "fixed" : info.type == VDSSHIM_DISK_DYNAMIC ? "dynamic" : "differencing",
               (unsigned long long)info.virtual_size, (unsigned long long)info.file_size, info.block_size,
               info.logical_sector_size);
    }
    else if (!quiet)
        printf("%s: created, %llu bytes virtual, %llu bytes on disk\n", path,
               (unsigned long long)info.virtual_size, (unsigned long long)info.file_size);
    return EXIT_OK;
}

int cmd_merge(const char *path, unsigned depth, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_merge_result res = { 0 };
    struct vdsshim_image *img;
    struct bar bar = { 0 };
    int st;

    if (!depth || depth > 254) return usage_error("--depth is 1 to 254", NULL);
    /* The child is only read, but the chain opens writable up to the target. */
    if ((st = vdsshim_open(path, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_PARENTS_WRITE(depth), &img, &diag)))
        return fail(path, st, &diag);
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    bar_begin(&bar, "merging", json, quiet);
    st = vdsshim_merge(img, depth, &opts, &res, &diag);
    bar_end(&bar);
    vdsshim_close(img);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"status\":\"%s\",\"depth\":%u,\"bytes_merged\":%llu,\"blocks_allocated\":%llu}\n",
               vdsshim_status_name(st), depth, (unsigned long long)res.bytes_merged,
               (unsigned long long)res.blocks_allocated);
    }
    if (st) return fail(path, st, &diag);
    if (!json && !quiet)
        printf("%s: %llu bytes merged into parent %u (%llu blocks allocated there)\n", path,
               (unsigned long long)res.bytes_merged, depth, (unsigned long long)res.blocks_allocated);
    return EXIT_OK;
}

/* img expanded or shrunk to size under a progress bar, then closed; after
 * gets its info as it was left. A shrink to the size it has writes nothing. */
static int resize_and_close(struct vdsshim_image *img, uint64_t size, int shrink, int json, int quiet,
                            struct vdsshim_info *after, struct vdsshim_diag *diag)
{
    struct vdsshim_op_options opts = { 0 };
    struct vdsshim_info before;
    struct bar bar = { 0 };
    int st;

    vdsshim_get_info(img, &before);
    opts.progress = on_progress;
    opts.progress_ctx = &bar;
    bar_begin(&bar, shrink ? "shrinking" : "expanding", json, quiet);
    if (!shrink) st = vdsshim_expand(img, size, &opts, diag);
    else st = size == before.virtual_size ? VDSSHIM_OK : vdsshim_shrink(img, size, &opts, diag);
    bar_end(&bar);
    vdsshim_get_info(img, after);
    vdsshim_close(img);
    return st;
}

int cmd_expand(const char *path, const char *new_size, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info before, after;
    uint64_t size = parse_size(new_size);
    int st;

    if (!size) return usage_error("bad NEWSIZE", new_size);
    if ((st = open_for_write(path, &img, &diag))) return fail(path, st, &diag);
    vdsshim_get_info(img, &before);
    st = resize_and_close(img, size, 0, json, quiet, &after, &diag);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"status\":\"%s\",\"virtual_size_before\":%llu,\"virtual_size\":%llu,\"file_size\":%llu}\n",
               vdsshim_status_name(st), (unsigned long long)before.virtual_size,
               (unsigned long long)after.virtual_size, (unsigned long long)after.file_size);
    }
    if (st) return fail(path, st, &diag);
    if (!json && !quiet)
        printf("%s: virtual size %llu -> %llu bytes\n", path, (unsigned long long)before.virtual_size,
               (unsigned long long)after.virtual_size);
    return EXIT_OK;
}

int cmd_set_parent(const char *path, const char *parent, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    int st;

    /* The old parent need not exist any more: that is what this is for. */
    if ((st = vdsshim_open(path, VDSSHIM_OPEN_WRITE | VDSSHIM_OPEN_NO_PARENTS, &img, &diag))) return fail(path, st, &diag);
    st = vdsshim_set_parent(img, parent, &diag);
    vdsshim_close(img);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"status\":\"%s\",\"parent\":", vdsshim_status_name(st));
        json_string(stdout, parent);
        printf("}\n");
    }
    if (st) return fail(path, st, &diag);
    if (!json && !quiet) printf("%s: parent is now %s\n", path, parent);
    return EXIT_OK;
}

/* Never below the smallest safe size (the end of the last partition, GPT's
 * backup included): what lies past it would be lost. */
int cmd_shrink(const char *path, const char *new_size, int json, int quiet)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_image *img;
    struct vdsshim_info before, after;
    uint64_t size = new_size ? parse_size(new_size) : 0, safe = 0;
    int st;

    if (new_size && !size) return usage_error("bad NEWSIZE", new_size);
    if ((st = open_for_write(path, &img, &diag))) return fail(path, st, &diag);
    vdsshim_get_info(img, &before);
    if ((st = vdsshim_smallest_safe_size(img, &safe, &diag)))
    {
        vdsshim_close(img);
        return fail(path, st, &diag);
    }
    if (!size) size = safe;
    if (size < safe)
    {
        vdsshim_close(img);
        fprintf(stderr, "vdsshim: %s: %llu bytes would cut the last partition, which ends at %llu\n", path,
                (unsigned long long)size, (unsigned long long)safe);
        return EXIT_USAGE;
    }
    st = resize_and_close(img, size, 1, json, quiet, &after, &diag);
    if (json)
    {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"status\":\"%s\",\"virtual_size_before\":%llu,\"virtual_size\":%llu,\"smallest_safe\":%llu,"
               "\"file_size\":%llu}\n", vdsshim_status_name(st), (unsigned long long)before.virtual_size,
               (unsigned long long)after.virtual_size, (unsigned long long)safe, (unsigned long long)after.file_size);
    }
    if (st) return fail(path, st, &diag);
    if (!json && !quiet)
        printf("%s: virtual size %llu -> %llu bytes (file %llu bytes)\n", path, (unsigned long long)before.virtual_size,
               (unsigned long long)after.virtual_size, (unsigned long long)after.file_size);
    return EXIT_OK;
}
