/*
 * EnumerateVirtualDiskMetadata and GetVirtualDiskMetadata: a VHDX's user
 * metadata items, read through the engine (virtdisk-reference.md §3.12).
 * Any handle may read them, GetInfoOnly ones too [V S1]. Choices [U]:
 *   a buffer too small (or NULL)   ERROR_MORE_DATA with the count or size needed:
 *                                  Microsoft's sample tests for 234, the pages
 *                                  say ERROR_INSUFFICIENT_BUFFER; the sample's
 *                                  callers are the ones to keep working
 *   a VHD                          ERROR_VHD_INVALID_TYPE (it has no user metadata)
 *   an item the disk does not have ERROR_NOT_FOUND
 * SetVirtualDiskMetadata and DeleteVirtualDiskMetadata write through the
 * engine, crash-safely (the item's data, flushed, then the table through the
 * log: vdsshim/src/metadata.c). They need a handle that may write metadata,
 * as Compact does (V2 neither read-only nor GetInfoOnly; V1 METAOPS).
 * Choices [U]:
 *   a read-only or look-only handle  ERROR_ACCESS_DENIED
 *   an operation running             ERROR_BUSY
 *   NULL or all-zero Item, NULL data with a size, the id of one of the file's
 *   own items, more than 1 MiB       ERROR_INVALID_PARAMETER
 *   the table or region full         ERROR_VHD_METADATA_FULL (0xC03A0028, its message fits)
 *   Delete of an item not there      ERROR_NOT_FOUND
 */
#include <stdlib.h>

#include "virtdisk_private.h"

DWORD WINAPI EnumerateVirtualDiskMetadata(HANDLE handle, PULONG count, GUID *items)
{
    struct vd_disk *disk;
    unsigned n = 0;
    DWORD err;
    int st;

    TRACE("handle %p, count %p, items %p\n", handle, count, items);
    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    if (!count) err = ERROR_INVALID_PARAMETER;
    else if (!disk->img) err = ERROR_INVALID_HANDLE;
    else
    {
        EnterCriticalSection(&disk->cs);
        /* GUIDs are the stored bytes: VHDX keeps Microsoft's layout. */
        st = vdsshim_metadata_list(disk->img, (uint8_t (*)[16])items, items ? *count : 0, &n);
        LeaveCriticalSection(&disk->cs);
        if (st) err = st == VDSSHIM_E_WRONG_TYPE ? VDSSHIM_WIN32_VHD_INVALID_TYPE : win32_from_status(st, NULL);
        else err = !items || *count < n ? ERROR_MORE_DATA : ERROR_SUCCESS;
        if (!st) *count = n;
    }
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI GetVirtualDiskMetadata(HANDLE handle, const GUID *item, PULONG size, PVOID data)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vd_disk *disk;
    uint32_t need = 0;
    DWORD err;
    int st;

    TRACE("handle %p, item %s, size %p, data %p\n", handle, debugstr_guid(item), size, data);
    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    if (!item || !size) err = ERROR_INVALID_PARAMETER;
    else if (!disk->img) err = ERROR_INVALID_HANDLE;
    else
    {
        EnterCriticalSection(&disk->cs);
        st = vdsshim_metadata_get(disk->img, (const uint8_t *)item, data, data ? *size : 0, &need, &diag);
        LeaveCriticalSection(&disk->cs);
        if (st == VDSSHIM_E_WRONG_TYPE) err = VDSSHIM_WIN32_VHD_INVALID_TYPE;
        else if (st == VDSSHIM_E_NOT_FOUND) err = ERROR_NOT_FOUND;
        else if (st) err = win32_from_status(st, &diag);
        else err = !data || *size < need ? ERROR_MORE_DATA : ERROR_SUCCESS;
        if (!st) *size = need;
    }
    vd_disk_release(disk);
    return err;
}

/* What Set and Delete share: the handle's disk, under its lock, ready to write; or the error. */
static DWORD begin_write(HANDLE handle, const GUID *item, struct vd_disk **out)
{
    static const GUID zero;
    struct vd_disk *disk;

    *out = NULL;
    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    if (!item || IsEqualGUID(item, &zero))
    {
        vd_disk_release(disk);
        return ERROR_INVALID_PARAMETER;
    }
    if (!disk->img)
    {
        vd_disk_release(disk);
        return ERROR_INVALID_HANDLE;
    }
    if (!vd_disk_can_metaops(disk))
    {
        vd_disk_release(disk);
        return ERROR_ACCESS_DENIED;
    }
    EnterCriticalSection(&disk->cs);
    if (disk->busy)
    {
        LeaveCriticalSection(&disk->cs);
        vd_disk_release(disk);
        return ERROR_BUSY;
    }
    *out = disk;
    return ERROR_SUCCESS;
}

static void end_write(struct vd_disk *disk)
{
    LeaveCriticalSection(&disk->cs);
    vd_disk_release(disk);
}

static DWORD write_error(int st, const struct vdsshim_diag *diag)
{
    if (st) WARN("%s: %s\n", vdsshim_status_name(st), diag->msg);
    switch (st)
    {
    case VDSSHIM_OK: return ERROR_SUCCESS;
    case VDSSHIM_E_WRONG_TYPE: return VDSSHIM_WIN32_VHD_INVALID_TYPE;
    case VDSSHIM_E_NOT_FOUND: return ERROR_NOT_FOUND;
    case VDSSHIM_E_INVALID_ARG: return ERROR_INVALID_PARAMETER;
    case VDSSHIM_E_NOSPC:
        /* A full table or region, not a full host disk (the I/O layer says E_IO then). */
        return VDSSHIM_WIN32_VHD_METADATA_FULL;
    default: return win32_from_status(st, diag);
    }
}

DWORD WINAPI SetVirtualDiskMetadata(HANDLE handle, const GUID *item, ULONG size, PVOID data)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, item %s, size %lu, data %p\n", handle, debugstr_guid(item), size, data);
    if ((err = begin_write(handle, item, &disk))) return err;
    if (size && !data) err = ERROR_INVALID_PARAMETER;
    else err = write_error(vdsshim_metadata_set(disk->img, (const uint8_t *)item, data, size, &diag), &diag);
    end_write(disk);
    return err;
}

DWORD WINAPI DeleteVirtualDiskMetadata(HANDLE handle, const GUID *item)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vd_disk *disk;
    DWORD err;

    TRACE("handle %p, item %s\n", handle, debugstr_guid(item));
    if ((err = begin_write(handle, item, &disk))) return err;
    err = write_error(vdsshim_metadata_delete(disk->img, (const uint8_t *)item, &diag), &diag);
    end_write(disk);
    return err;
}
