/*
 * SetVirtualDiskInformation (virtdisk-reference.md §3.8): what the engine
 * can change in place, crash-safely, through the VHDX log or its headers.
 *   1 PARENT_PATH, 3 PARENT_PATH_WITH_DEPTH (ChildDepth 1, the disk itself):
 *                           a differencing disk's parent link, atomically
 *                           (vdsshim_set_parent): the parent must open and be
 *                           of the child's format, size and sector size; a
 *                           VHDX child takes its DataWriteGuid as
 *                           parent_linkage, a VHD child its unique id and
 *                           time stamp (through a shadow header,
 *                           vhd_set_parent.c).
 *                           A NULL or empty path ERROR_INVALID_PARAMETER, a
 *                           missing parent ERROR_VHD_PARENT_VHD_NOT_FOUND [U],
 *                           a disk without parent ERROR_VHD_INVALID_TYPE [U]
 *   2 IDENTIFIER            a VHDX's DataWriteGuid, through the two headers
 *                           (what GET_VIRTUAL_DISK_INFO IDENTIFIER reads and
 *                           children link to; which field Windows changes is
 *                           [U], formats.md §2.5); a VHD's unique id, in its
 *                           footer and the footer's copy (vhd_identity.c)
 *   4 PHYSICAL_SECTOR_SIZE  a VHDX's Physical Sector Size item, 512 or 4096
 *                           ("only succeed on VHDX", S5 [V]); a VHD:
 *                           ERROR_VHD_INVALID_TYPE
 *   5 VIRTUAL_DISK_ID       a VHDX's Page 83 Data (what GET_VIRTUAL_DISK_INFO
 *                           VIRTUAL_DISK_ID then reads back)
 *   7 PARENT_LOCATOR        the locator with the caller's LinkageId and path,
 *                           the parent not opened (vdsshim_set_parent_locator;
 *                           a VHD keeps its parent time stamp [U])
 * Not supported (ERROR_NOT_SUPPORTED and a WARN):
 *   3 with ChildDepth > 1 (a parent further up the chain: the handle's
 *           NO_PARENTS open has none);
 *   5 on a VHD (it has no virtual disk id apart from its unique id, which
 *           IDENTIFIER sets);
 *   6 CHANGE_TRACKING_STATE (no resilient change tracking).
 * Checks, choices where the reference is silent [U]: NULL info or an unknown
 * Version ERROR_INVALID_PARAMETER; a handle that may not write metadata
 * ERROR_ACCESS_DENIED ("Needs METAOPS", §3.8 [V]); an attached disk
 * ERROR_INVALID_STATE ("no attach during the call"); an operation running
 * ERROR_BUSY.
 */
#include "virtdisk_private.h"

/* PARENT_LOCATOR: the given linkage and path, the parent not opened. */
static DWORD set_parent_locator(struct vd_disk *disk, const GUID *linkage, PCWSTR path)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    char *utf8;
    int st;

    if (!path || !*path) return ERROR_INVALID_PARAMETER;
    if (!(utf8 = vd_utf8(path))) return ERROR_NOT_ENOUGH_MEMORY;
    st = vdsshim_set_parent_locator(disk->img, (const uint8_t *)linkage, utf8, &diag);
    free(utf8);
    if (!st) return ERROR_SUCCESS;
    WARN("%s: %s\n", vdsshim_status_name(st), diag.msg);
    return win32_from_status(st, &diag);
}

/* PARENT_PATH: the engine takes a UTF-8 path. */
static DWORD set_parent(struct vd_disk *disk, PCWSTR path)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    char *utf8;
    int st;

    if (!path || !*path) return ERROR_INVALID_PARAMETER;
    if (!(utf8 = vd_utf8(path))) return ERROR_NOT_ENOUGH_MEMORY;
    st = vdsshim_set_parent(disk->img, utf8, &diag);
    free(utf8);
    if (!st) return ERROR_SUCCESS;
    WARN("%s: %s\n", vdsshim_status_name(st), diag.msg);
    if (st == VDSSHIM_E_INVALID_ARG && diag.msg[0]) return ERROR_INVALID_PARAMETER;
    return win32_from_status(st, &diag);
}

DWORD WINAPI SetVirtualDiskInformation(HANDLE handle, PSET_VIRTUAL_DISK_INFO info)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vd_disk *disk;
    DWORD err = ERROR_SUCCESS;
    int st = VDSSHIM_OK;

    TRACE("handle %p, info %p (version %d)\n", handle, info, info ? (int)info->Version : -1);
    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    if (!info || info->Version < SET_VIRTUAL_DISK_INFO_PARENT_PATH || info->Version > SET_VIRTUAL_DISK_INFO_PARENT_LOCATOR)
        err = ERROR_INVALID_PARAMETER;
    else if (!disk->img) err = ERROR_INVALID_HANDLE;
    else if (!vd_disk_can_metaops(disk)) err = ERROR_ACCESS_DENIED;
    else
    {
        BOOL vhdx = disk->type.DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDX;

        EnterCriticalSection(&disk->cs);
        if (disk->busy) err = ERROR_BUSY;
        else if (disk->attached) err = ERROR_INVALID_STATE;
        else if (info->Version == SET_VIRTUAL_DISK_INFO_PHYSICAL_SECTOR_SIZE)
        {
            if (!vhdx) err = VDSSHIM_WIN32_VHD_INVALID_TYPE;
            else if (info->VhdPhysicalSectorSize != 512 && info->VhdPhysicalSectorSize != 4096)
                err = ERROR_INVALID_PARAMETER;
            else st = vdsshim_set_physical_sector_size(disk->img, info->VhdPhysicalSectorSize, &diag);
        }
        else if (info->Version == SET_VIRTUAL_DISK_INFO_VIRTUAL_DISK_ID && vhdx)
            st = vdsshim_set_virtual_disk_id(disk->img, (const uint8_t *)&info->VirtualDiskId, &diag);
        else if (info->Version == SET_VIRTUAL_DISK_INFO_IDENTIFIER)
            st = vdsshim_set_identifier(disk->img, (const uint8_t *)&info->UniqueIdentifier, &diag);
        else if ((info->Version == SET_VIRTUAL_DISK_INFO_PARENT_PATH
                  || (info->Version == SET_VIRTUAL_DISK_INFO_PARENT_PATH_WITH_DEPTH
                      && info->ParentPathWithDepthInfo.ChildDepth == 1)))
            err = set_parent(disk, info->Version == SET_VIRTUAL_DISK_INFO_PARENT_PATH
                                   ? info->ParentFilePath : info->ParentPathWithDepthInfo.ParentFilePath);
        else if (info->Version == SET_VIRTUAL_DISK_INFO_PARENT_LOCATOR)
            err = set_parent_locator(disk, &info->ParentLocator.LinkageId, info->ParentLocator.ParentFilePath);
        else
        {
            WARN("SetVirtualDiskInformation version %d is not supported\n", (int)info->Version);
            err = ERROR_NOT_SUPPORTED;
        }
        LeaveCriticalSection(&disk->cs);
        if (st)
        {
            WARN("%s: %s\n", vdsshim_status_name(st), diag.msg);
            err = win32_from_status(st, &diag);
        }
    }
    vd_disk_release(disk);
    return err;
}
