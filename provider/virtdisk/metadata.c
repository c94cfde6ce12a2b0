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
 * Set and Delete are not supported yet (unsupported.c).
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
