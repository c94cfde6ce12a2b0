/*
 * vdsshim_set_parent: a differencing VHDX pointed at another parent file
 * (SetVirtualDiskInformation PARENT_PATH, virtdisk-reference.md §3.8: "an
 * unresolvable parent path fails; setting one also updates the child's
 * parent GUID"). The new parent is opened with its own chain first and must
 * be a VHDX of the child's size and sector size; then a new parent locator
 * item (the parent's DataWriteGuid as parent_linkage, the relative and
 * absolute paths) is written where no metadata entry points, flushed, and
 * the table entry is switched to it through the log, atomically: a crash
 * leaves the old parent or the new one, never a mix.
 *
 * vdsshim_set_parent_locator (PARENT_LOCATOR) writes a given linkage id and
 * path the same way, without opening the parent.
 *
 * A differencing VHD needs a VHD parent of its size; its header and
 * locators change through a shadow header (vhd_set_parent.c). Its parent
 * time stamp is the new parent's; PARENT_LOCATOR keeps the old one.
 */
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "vhd.h"
#include "vhdx.h"

/* What a parent must share with the child it serves. */
static int check_parent(const struct vdsshim_image *child, const struct vdsshim_image *parent, const char *path,
                        struct vdsshim_diag *diag)
{
    if (parent->info.format != child->info.format)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%s is not a %s: a %s child needs a %s parent", path,
                        child->info.format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX",
                        child->info.format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX",
                        child->info.format == VDSSHIM_FORMAT_VHD ? "VHD" : "VHDX");
    if (parent->info.virtual_size != child->info.virtual_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%s has %llu bytes, the child %llu", path,
                        (unsigned long long)parent->info.virtual_size, (unsigned long long)child->info.virtual_size);
    if (parent->info.logical_sector_size != child->info.logical_sector_size)
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%s has %u-byte sectors, the child %u-byte ones", path,
                        parent->info.logical_sector_size, child->info.logical_sector_size);
    return VDSSHIM_OK;
}

/* The locator item naming linkage_id at path, as the child records it. */
static int build_locator(const struct vdsshim_image *child, const uint8_t linkage_id[16], const char *path,
                         uint8_t **item, uint32_t *len, struct vdsshim_diag *diag)
{
    char *abs = platform_path_absolute(path), *child_abs = platform_path_absolute(child->path), *rel = NULL;
    int st = VDSSHIM_OK;

    *item = NULL;
    if (!abs || !child_abs || !(*item = calloc(1, VHDX_META_TABLE_SIZE)))
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "cannot make the parent's absolute path");
    else
    {
        rel = path_relative_windows(child_abs, abs);
        if (vhdx_parent_locator_encode(*item, VHDX_META_TABLE_SIZE, linkage_id, rel, abs, len))
            st = diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "the parent's path does not fit a parent locator");
    }
    free(abs);
    free(child_abs);
    free(rel);
    return st;
}

/* A VHD child: its header names the parent by id, time stamp and paths. */
static int relink_vhd(struct vdsshim_image *img, const uint8_t uid[16], uint32_t timestamp, const char *parent_path,
                      struct vdsshim_diag *diag)
{
    char *abs = platform_path_absolute(parent_path), *child_abs = platform_path_absolute(img->path), *rel = NULL;
    int st;

    if (!abs || !child_abs) st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "cannot make the parent's absolute path");
    else
    {
        rel = path_relative_windows(child_abs, abs);
        if (!(st = vhd_set_parent(img, uid, timestamp, abs, rel, diag)))
        {
            memset(img->info.parent_path, 0, sizeof(img->info.parent_path));
            strncpy(img->info.parent_path, parent_path, sizeof(img->info.parent_path) - 1);
        }
    }
    free(abs);
    free(child_abs);
    free(rel);
    return st;
}

/* What both calls require of the child. */
static int check_child(const struct vdsshim_image *img, const char *parent_path, struct vdsshim_diag *diag)
{
    if (!img || !parent_path || !*parent_path) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "no parent path");
    if (!img->info.has_parent) return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "the disk has no parent to change");
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    return VDSSHIM_OK;
}

/* The new locator (linkage_id at parent_path) switched in, then read back as an open would. */
static int write_locator(struct vdsshim_image *img, const uint8_t linkage_id[16], const char *parent_path,
                         struct vdsshim_diag *diag)
{
    struct vhdx *v = img->fmt;
    struct vhdx_meta meta;
    uint8_t *item = NULL, *region = NULL;
    uint32_t len = 0;
    int st;

    if ((st = build_locator(img, linkage_id, parent_path, &item, &len, diag))) goto done;
    if ((st = vhdx_replace_system_item(img, vhdx_meta_parent_loc, item, len, diag))) goto done;
    if (!(region = malloc(v->meta_region.length)))
    {
        st = diag_set(diag, VDSSHIM_E_NOMEM, 0, "out of memory");
        goto done;
    }
    memset(&meta, 0, sizeof(meta));
    if ((st = vhdx_file_read(img, v, region, v->meta_region.length, v->meta_region.offset, "the metadata", diag))
        || (st = vhdx_meta_decode(region, v->meta_region.length, v->meta_region.offset, &meta, diag)))
        goto done;
    vhdx_meta_free(&v->meta);
    v->meta = meta;
    memset(img->info.parent_path, 0, sizeof(img->info.parent_path));
    strncpy(img->info.parent_path, parent_path, sizeof(img->info.parent_path) - 1);

done:
    free(item);
    free(region);
    return st;
}

int vdsshim_set_parent(struct vdsshim_image *img, const char *parent_path, struct vdsshim_diag *diag)
{
    struct vdsshim_image *parent = NULL;
    struct chain_ctx chain = { 0 };
    int st;

    if ((st = check_child(img, parent_path, diag))) return st;
    /* The new parent with its whole chain; the child itself may not appear in it. */
    memcpy(chain.ids[0], img->info.unique_id, 16);
    chain.paths[0] = img->path;
    chain.depth = 1;
    if (img->path && platform_same_file(parent_path, img->path))
        return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%s is the child itself", parent_path);
    if ((st = image_open(parent_path, 0, &chain, &parent, diag)))
    {
        if (st == VDSSHIM_E_NOT_FOUND)
            return diag_set(diag, VDSSHIM_E_PARENT_NOT_FOUND, 0, "parent %s not found", parent_path);
        return st;
    }
    if (!(st = check_parent(img, parent, parent_path, diag))
        && !(st = img->info.format == VDSSHIM_FORMAT_VHD
                  ? relink_vhd(img, parent->info.unique_id, vhd_parent_timestamp(parent), parent_path, diag)
                  : write_locator(img, parent->linkage_id, parent_path, diag))
        && img->parent)
    {
        /* A chain that was open follows the new parent. */
        vdsshim_close(img->parent);
        img->parent = parent;
        img->info.chain_depth = parent->info.chain_depth + 1;
        parent = NULL;
    }
    vdsshim_close(parent);
    return st;
}

int vdsshim_set_parent_locator(struct vdsshim_image *img, const uint8_t linkage_id[16], const char *parent_path,
                               struct vdsshim_diag *diag)
{
    int st;

    if ((st = check_child(img, parent_path, diag))) return st;
    if (!linkage_id) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "no linkage id");
    if (img->info.format == VDSSHIM_FORMAT_VHD)
    {
        uint8_t uid[16];

        vhd_guid_swap(linkage_id, uid);
        st = relink_vhd(img, uid, ((const struct vhd *)img->fmt)->hdr.parent_timestamp, parent_path, diag);
    }
    else st = write_locator(img, linkage_id, parent_path, diag);
    if (st) return st;
    if (img->parent)
    {
        /* Nothing says the old chain is still this disk's: reads that need it fail
         * until the image is opened again and its locator resolved. */
        vdsshim_close(img->parent);
        img->parent = NULL;
        img->info.parent_open = 0;
    }
    return VDSSHIM_OK;
}
