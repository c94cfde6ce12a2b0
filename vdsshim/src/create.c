/*
 * Creating images: parameters and defaults, the parent a child is made
 * from, and the paths its locators record. The layouts are in vhd_create.c
 * and vhdx_create.c.
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "create.h"
#include "image.h"
#include "paths.h"

#define VHD_MAX_SIZE   (2040ull << 30)      /* the VHD format's limit (formats.md §1) */
#define VHDX_MAX_SIZE  (64ull << 40)


static int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int check_params(struct create_spec *s, struct vdsshim_diag *diag)
{
    struct vdsshim_create_params *p = &s->p;
    int vhd = p->format == VDSSHIM_FORMAT_VHD;

    if (p->format != VDSSHIM_FORMAT_VHD && p->format != VDSSHIM_FORMAT_VHDX)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "unknown format %d", (int)p->format);
    if (p->type != VDSSHIM_DISK_FIXED && p->type != VDSSHIM_DISK_DYNAMIC && p->type != VDSSHIM_DISK_DIFFERENCING)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "unknown disk type %d", (int)p->type);
    if ((p->type == VDSSHIM_DISK_DIFFERENCING) != !!p->parent_path)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, p->parent_path ? "only a differencing disk has a parent"
                                                                       : "a differencing disk needs a parent");
    if (!p->block_size)
        p->block_size = vhd ? 2u << 20 : p->type == VDSSHIM_DISK_DYNAMIC ? 32u << 20 : 2u << 20;
    if (!p->logical_sector_size) p->logical_sector_size = 512;
    if (!p->physical_sector_size) p->physical_sector_size = vhd ? 512 : 4096;
    if (vhd)
    {
        if (p->logical_sector_size != 512 || p->physical_sector_size != 512)
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "VHD sectors are 512 bytes");
        if (!is_pow2(p->block_size) || p->block_size < (512u << 10) || p->block_size > (256u << 20))
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                            "VHD block size %u is not a power of two from 512 KiB to 256 MiB", p->block_size);
    }
    else
    {
        if ((p->logical_sector_size != 512 && p->logical_sector_size != 4096)
            || (p->physical_sector_size != 512 && p->physical_sector_size != 4096))
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "VHDX sector sizes are 512 or 4096 bytes");
        if (!is_pow2(p->block_size) || p->block_size < (1u << 20) || p->block_size > (256u << 20))
            return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                            "VHDX block size %u is not a power of two from 1 MiB to 256 MiB", p->block_size);
    }
    if (!p->virtual_size || p->virtual_size % p->logical_sector_size
        || p->virtual_size > (vhd ? VHD_MAX_SIZE : VHDX_MAX_SIZE))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0,
                        "virtual size %llu is zero, not whole %u-byte sectors, or above the %s limit of %llu GiB",
                        (unsigned long long)p->virtual_size, p->logical_sector_size, vhd ? "VHD" : "VHDX",
                        (unsigned long long)((vhd ? VHD_MAX_SIZE : VHDX_MAX_SIZE) >> 30));
    return VDSSHIM_OK;
}

/* Open the parent (read-only, whole chain) and take what the child must match. */
static int adopt_parent(struct create_spec *s, const char *child_path, struct vdsshim_image **parent,
                        struct vdsshim_diag *diag)
{
    struct chain_ctx chain = { 0 };
    struct vdsshim_create_params *p = &s->p;
    const struct vdsshim_info *pi;
    char *child_abs;
    int st;

    if ((st = image_open(p->parent_path, 0, &chain, parent, diag)))
    {
        if (st == VDSSHIM_E_NOT_FOUND)
            diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0, "parent %s not found", p->parent_path);
        return st == VDSSHIM_E_NOT_FOUND ? VDSSHIM_E_PARENT_NOT_FOUND : st;
    }
    pi = &(*parent)->info;
    if (pi->format != p->format)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a %s child needs a %s parent; %s is %s",
                        p->format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX", p->format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX",
                        p->parent_path, pi->format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX");
    if (p->virtual_size && p->virtual_size != pi->virtual_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a child has its parent's size (%llu bytes), not %llu",
                        (unsigned long long)pi->virtual_size, (unsigned long long)p->virtual_size);
    if (p->logical_sector_size && p->logical_sector_size != pi->logical_sector_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "a child has its parent's logical sector size (%u)",
                        pi->logical_sector_size);
    p->virtual_size = pi->virtual_size;
    p->logical_sector_size = pi->logical_sector_size;
    if (!p->physical_sector_size) p->physical_sector_size = pi->physical_sector_size;
    s->parent = *parent;
    if (!(s->parent_absolute = platform_path_absolute(p->parent_path))
        || !(child_abs = platform_path_absolute(child_path)))
        return diag_set(diag, VDSSHIM_E_NOMEM, 0, "cannot make the parent's absolute path");
    s->parent_relative = path_relative_windows(child_abs, s->parent_absolute);
    free(child_abs);
    return VDSSHIM_OK;
}

static int create_on(struct vdsshim_io *io, const char *path, const struct vdsshim_create_params *params,
                     struct vdsshim_diag *diag)
{
    struct create_spec s;
    struct vdsshim_image *parent = NULL;
    int st;

    memset(&s, 0, sizeof(s));
    s.p = *params;
    if (s.p.type == VDSSHIM_DISK_DIFFERENCING && s.p.parent_path
        && (st = adopt_parent(&s, path, &parent, diag)))
        goto done;
    if ((st = check_params(&s, diag))) goto done;
    if (s.p.unique_id) memcpy(s.unique_id, s.p.unique_id, sizeof(s.unique_id));
    else if ((st = vdsshim_random_bytes(s.unique_id, sizeof(s.unique_id))))
    {
        st = diag_set(diag, st, 0, "no random source for the disk identifier");
        goto done;
    }
    st = s.p.format == VDSSHIM_FORMAT_VHD ? vhd_create(io, &s, diag) : vhdx_create(io, &s, diag);
done:
    vdsshim_close(parent);
    free(s.parent_absolute);
    free(s.parent_relative);
    return st;
}

int vdsshim_create_io(struct vdsshim_io *io, const char *path, const struct vdsshim_create_params *params,
                      struct vdsshim_diag *diag)
{
    int st;

    if (!io || !params || !path)
    {
        vdsshim_io_close(io);
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "invalid arguments to vdsshim_create_io");
    }
    st = create_on(io, path, params, diag);
    vdsshim_io_close(io);
    return st;
}

int vdsshim_create(const char *path, const struct vdsshim_create_params *params, struct vdsshim_diag *diag)
{
    struct vdsshim_io *io;
    int st;

    if (!path || !params) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "invalid arguments to vdsshim_create");
    if ((st = vdsshim_io_create_file(path, &io)))
        return diag_set(diag, st, 0, "cannot create %s: %s", path, vdsshim_strerror(st));
    st = create_on(io, path, params, diag);
    vdsshim_io_close(io);
    /* Nothing half-made is left behind (it would not open anyway). */
    if (st) vdsshim_delete_file(path, NULL);   /* the create's own reason stays */
    return st;
}
