/*
 * VHDX user metadata, read-only (virtdisk's EnumerateVirtualDiskMetadata and
 * GetVirtualDiskMetadata): the IsUser items of the metadata table, read
 * through the log replay overlay like every other metadata read. A VHD has
 * no such items (VDSSHIM_E_WRONG_TYPE).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "vhdx.h"

int vdsshim_metadata_list(const struct vdsshim_image *img, uint8_t (*ids)[16], unsigned max, unsigned *count)
{
    const struct vhdx *v;
    unsigned i;

    if (!img || !count) return VDSSHIM_E_INVALID_ARG;
    *count = 0;
    if (img->info.format != VDSSHIM_FORMAT_VHDX) return VDSSHIM_E_WRONG_TYPE;
    v = img->fmt;
    for (i = 0; i < v->meta.user_count && i < max && ids; i++) memcpy(ids[i], v->meta.user[i].id, 16);
    *count = v->meta.user_count;
    return VDSSHIM_OK;
}

int vdsshim_metadata_get(struct vdsshim_image *img, const uint8_t id[16], void *buf, uint32_t cap, uint32_t *size,
                         struct vdsshim_diag *diag)
{
    struct vhdx *v;
    unsigned i;

    if (!img || !id || !size) return VDSSHIM_E_INVALID_ARG;
    *size = 0;
    if (img->info.format != VDSSHIM_FORMAT_VHDX)
        return diag_set(diag, VDSSHIM_E_WRONG_TYPE, 0, "a VHD has no user metadata");
    v = img->fmt;
    for (i = 0; i < v->meta.user_count; i++)
        if (!memcmp(v->meta.user[i].id, id, 16))
        {
            const struct vhdx_user_item *it = &v->meta.user[i];

            *size = it->length;
            if (!buf || cap < it->length || !it->length) return VDSSHIM_OK;
            return vhdx_file_read(img, v, buf, it->length, v->meta_region.offset + it->offset, "a user metadata item",
                                  diag);
        }
    return diag_set(diag, VDSSHIM_E_NOT_FOUND, 0, "no user metadata item with that id");
}
