/*
 * Who an image is, to its children and to Windows' API: the id a child's
 * parent link names (a VHD's unique id, a VHDX's DataWriteGuid), the link
 * to its own parent with the VHD's parent time stamp, and the smallest
 * virtual size that keeps every partition (virtdisk's
 * SMALLEST_SAFE_VIRTUAL_SIZE). Ids come out in Microsoft's GUID layout
 * (first three fields little-endian), which VHDX stores and VHD does not:
 * a VHD stores them in RFC 4122 order (formats.md §1.2).
 */
#include <string.h>

#include "fs/fsmap.h"
#include "vhd.h"
#include "vhdx.h"

#define MAX_PARTS 128
#define GPT_BACKUP_BYTES (128u * 128u)  /* the entry array a backup GPT keeps before its header */

int vdsshim_get_identity(const struct vdsshim_image *img, struct vdsshim_identity *out)
{
    memset(out, 0, sizeof(*out));
    if (!img) return VDSSHIM_E_INVALID_ARG;
    if (img->info.format == VDSSHIM_FORMAT_VHD)
    {
        const struct vhd *vhd = img->fmt;

        vhd_guid_swap(img->info.unique_id, out->id);
        memcpy(out->disk_id, out->id, 16);
        if ((out->has_parent = img->info.has_parent))
        {
            vhd_guid_swap(vhd->hdr.parent_uid, out->parent_id);
            out->has_parent_timestamp = 1;
            out->parent_timestamp = vhd->hdr.parent_timestamp;
        }
        return VDSSHIM_OK;
    }
    else
    {
        const struct vhdx *vhdx = img->fmt;
        struct vhdx_guid linkage;

        memcpy(out->id, img->linkage_id, 16);
        memcpy(out->disk_id, img->info.unique_id, 16);
        if (img->info.has_parent && vhdx->meta.locator.parent_linkage
            && vhdx_guid_parse(vhdx->meta.locator.parent_linkage, &linkage))
        {
            out->has_parent = 1;
            memcpy(out->parent_id, linkage.b, 16);
        }
        return VDSSHIM_OK;
    }
}

int vdsshim_smallest_safe_size(struct vdsshim_image *img, uint64_t *size, struct vdsshim_diag *diag)
{
    struct partition parts[MAX_PARTS];
    char reason[120] = "";
    uint64_t end = 0, ss;
    unsigned n, i;
    int st;

    if (!img || !size) return VDSSHIM_E_INVALID_ARG;
    ss = img->info.logical_sector_size;
    if ((st = partitions_find(img, parts, MAX_PARTS, &n, reason, sizeof(reason), diag))) return st;
    if (!n)
        return diag_set(diag, VDSSHIM_E_UNSUPPORTED, 0, "no smallest safe size: %s",
                        reason[0] ? reason : "no partitions");
    for (i = 0; i < n; i++)
    {
        /* A file system on the whole disk keeps it all. */
        if (!strcmp(parts[i].name, "whole disk"))
        {
            *size = img->info.virtual_size;
            return VDSSHIM_OK;
        }
        if (parts[i].offset + parts[i].size > end) end = parts[i].offset + parts[i].size;
    }
    /* GPT keeps a backup at the end: its entry array and header after the last partition. */
    if (!strncmp(parts[0].name, "GPT", 3)) end += (GPT_BACKUP_BYTES + ss - 1) / ss * ss + ss;
    *size = (end + ss - 1) / ss * ss;
    if (*size > img->info.virtual_size) *size = img->info.virtual_size;
    return VDSSHIM_OK;
}

/*
 * A VHDX's IDENTIFIER is its DataWriteGuid (what GET_VIRTUAL_DISK_INFO
 * IDENTIFIER reads and a child's parent_linkage names; which field Windows
 * changes is [U], formats.md §2.5). The two headers' protocol makes the
 * change atomic: the non-current copy, flushed, then the other. Children
 * made from the disk no longer match it until set-parent relinks them.
 * A VHD's is its footers' unique id (vhd_identity.c).
 */
int vdsshim_set_identifier(struct vdsshim_image *img, const uint8_t id[16], struct vdsshim_diag *diag)
{
    struct vhdx_guid old;
    uint64_t sequence;
    struct vhdx *v;
    int st;

    if (!img || !id) return VDSSHIM_E_INVALID_ARG;
    if (!(img->flags & VDSSHIM_OPEN_WRITE)) return diag_set(diag, VDSSHIM_E_READONLY, 0, "the image is open read-only");
    if (img->info.format == VDSSHIM_FORMAT_VHD)
    {
        uint8_t stored[16];

        /* Given as vdsshim_get_identity gives it: a GUID, stored big-endian. */
        vhd_guid_swap(id, stored);
        return vhd_set_unique_id(img, stored, diag);
    }
    v = img->fmt;
    old = v->header.data_write_guid;
    sequence = v->header.sequence;
    memcpy(v->header.data_write_guid.b, id, 16);
    if ((st = vhdx_update_headers(img, v, &v->header.log_guid, diag)))
    {
        if (v->header.sequence == sequence) v->header.data_write_guid = old;    /* nothing landed */
        return st;
    }
    memcpy(img->linkage_id, id, 16);
    return VDSSHIM_OK;
}
