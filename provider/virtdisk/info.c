/*
 * GetVirtualDiskInformation and GetStorageDependencyInformation
 * (virtdisk-reference.md §3.7, §3.11).
 *
 * GetVirtualDiskInformation needs GET_INFO in a V1 mask, or any V2 handle
 * [V S1]; ERROR_ACCESS_DENIED otherwise [U]. A buffer too small for the
 * answer is ERROR_INSUFFICIENT_BUFFER with the size needed in *size [V S5].
 * Where the engine's answer stands for Windows' [U]:
 *   IDENTIFIER                       what a child's parent link names: a VHD's unique
 *                                    id, a VHDX's DataWriteGuid, so that a child's
 *                                    PARENT_IDENTIFIER equals its parent's IDENTIFIER,
 *                                    which Microsoft's sample checks before relinking [V S5]
 *   VIRTUAL_DISK_ID                  a VHD's unique id, a VHDX's VirtualDiskId
 *   PARENT_TIMESTAMP of a VHDX       ERROR_NOT_SUPPORTED (VHDX keeps no parent time stamp)
 *   SMALLEST_SAFE_VIRTUAL_SIZE       the end of the last partition (GPT: and its backup);
 *                                    no readable table: ERROR_VHD_COULD_NOT_COMPUTE_MINIMUM_
 *                                    VIRTUAL_SIZE (0xC03A0026, by its message text)
 *   IS_4K_ALIGNED                    TRUE for VHDX (1 MiB-aligned blocks), FALSE for VHD
 *   PHYSICAL_DISK                    the host volume's sector size from
 *                                    GetDiskFreeSpaceW, for both; IsRemote FALSE
 *   PARENT_LOCATION of a disk        ERROR_VHD_INVALID_TYPE
 *   without a parent
 *   FRAGMENTATION                    the share of allocated blocks, walked in virtual
 *                                    order, that do not start where the one before
 *                                    ends in the file, rounded down; 0 for a fixed
 *                                    disk (Microsoft: "an approximation of the
 *                                    percentage of virtual disk blocks that are
 *                                    fragmented", Msvm_VirtualHardDiskState [V];
 *                                    the count is [U], fragmentation.c)
 * Not answered yet, ERROR_NOT_SUPPORTED with a WARN: CHANGE_TRACKING_STATE
 * (the engine keeps no resilient change tracking). Other values are
 * ERROR_INVALID_PARAMETER.
 * GetStorageDependencyInformation on one of our handles lists its chain,
 * child first (one Version1 or Version2 entry per file, the parents with
 * DEPENDENT_DISK_FLAG_PARENT); any other handle keeps Wine's answer, no
 * entries [V S4].
 */
#include <stddef.h>
#include <stdlib.h>

#include "virtdisk_private.h"

#define INFO_HEADER offsetof(GET_VIRTUAL_DISK_INFO, Size)

static ULONG host_sector_size(const WCHAR *path)
{
    WCHAR root[MAX_PATH];
    DWORD spc, bps = 0, fc, tc;

    if (!GetVolumePathNameW(path, root, MAX_PATH) || !GetDiskFreeSpaceW(root, &spc, &bps, &fc, &tc) || !bps)
        return 512;
    return bps;
}

/* Version 3: the parent's path, resolved, or its locator entry as a MULTI_SZ. */
static DWORD parent_location(const struct vdsshim_info *info, PULONG size, PGET_VIRTUAL_DISK_INFO out, ULONG *need)
{
    WCHAR *parent;
    size_t len;

    if (!info->has_parent) return VDSSHIM_WIN32_VHD_INVALID_TYPE;
    if (!(parent = vd_wide(info->parent_path))) return ERROR_NOT_ENOUGH_MEMORY;
    len = wcslen(parent);
    *need = (ULONG)(offsetof(GET_VIRTUAL_DISK_INFO, ParentLocation.ParentLocationBuffer)
                    + (len + (info->parent_open ? 1 : 2)) * sizeof(WCHAR));
    if (*size < *need)
    {
        free(parent);
        return ERROR_INSUFFICIENT_BUFFER;
    }
    out->ParentLocation.ParentResolved = info->parent_open;
    memcpy(out->ParentLocation.ParentLocationBuffer, parent, (len + 1) * sizeof(WCHAR));
    if (!info->parent_open) out->ParentLocation.ParentLocationBuffer[len + 1] = 0;
    free(parent);
    return ERROR_SUCCESS;
}

static DWORD fill_info(struct vd_disk *disk, const struct vdsshim_info *info, PULONG size,
                       PGET_VIRTUAL_DISK_INFO out, ULONG *need)
{
    struct vdsshim_identity id;

    vdsshim_get_identity(disk->img, &id);
#define NEED(member) (*need = (ULONG)(INFO_HEADER + sizeof(out->member)), *size < *need)
    switch (out->Version)
    {
    case GET_VIRTUAL_DISK_INFO_SIZE:
        if (NEED(Size)) return ERROR_INSUFFICIENT_BUFFER;
        out->Size.VirtualSize = info->virtual_size;
        out->Size.PhysicalSize = info->file_size;
        out->Size.BlockSize = info->block_size;
        out->Size.SectorSize = info->logical_sector_size;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_IDENTIFIER:
        if (NEED(Identifier)) return ERROR_INSUFFICIENT_BUFFER;
        memcpy(&out->Identifier, id.id, sizeof(GUID));
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_VIRTUAL_DISK_ID:
        if (NEED(VirtualDiskId)) return ERROR_INSUFFICIENT_BUFFER;
        memcpy(&out->VirtualDiskId, id.disk_id, sizeof(GUID));
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_PARENT_LOCATION:
        return parent_location(info, size, out, need);
    case GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE:
        if (NEED(VirtualStorageType)) return ERROR_INSUFFICIENT_BUFFER;
        out->VirtualStorageType = disk->type;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE:
        if (NEED(ProviderSubtype)) return ERROR_INSUFFICIENT_BUFFER;
        out->ProviderSubtype = (ULONG)info->type;   /* 2 fixed, 3 dynamic, 4 differencing: the same values */
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_IS_4K_ALIGNED:
        if (NEED(Is4kAligned)) return ERROR_INSUFFICIENT_BUFFER;
        out->Is4kAligned = info->format == VDSSHIM_FORMAT_VHDX;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_PHYSICAL_DISK:
        if (NEED(PhysicalDisk)) return ERROR_INSUFFICIENT_BUFFER;
        out->PhysicalDisk.LogicalSectorSize = out->PhysicalDisk.PhysicalSectorSize = host_sector_size(disk->path);
        out->PhysicalDisk.IsRemote = FALSE;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_VHD_PHYSICAL_SECTOR_SIZE:
        if (NEED(VhdPhysicalSectorSize)) return ERROR_INSUFFICIENT_BUFFER;
        out->VhdPhysicalSectorSize = info->physical_sector_size;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_IS_LOADED:
        if (NEED(IsLoaded)) return ERROR_INSUFFICIENT_BUFFER;
        out->IsLoaded = disk->attached;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_PARENT_IDENTIFIER:
        if (!id.has_parent) return VDSSHIM_WIN32_VHD_INVALID_TYPE;
        if (NEED(ParentIdentifier)) return ERROR_INSUFFICIENT_BUFFER;
        memcpy(&out->ParentIdentifier, id.parent_id, sizeof(GUID));
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_PARENT_TIMESTAMP:
        if (!info->has_parent) return VDSSHIM_WIN32_VHD_INVALID_TYPE;
        if (!id.has_parent_timestamp) return ERROR_NOT_SUPPORTED;
        if (NEED(ParentTimestamp)) return ERROR_INSUFFICIENT_BUFFER;
        out->ParentTimestamp = id.parent_timestamp;
        return ERROR_SUCCESS;
    case GET_VIRTUAL_DISK_INFO_SMALLEST_SAFE_VIRTUAL_SIZE:
    {
        struct vdsshim_diag diag = { .msg = { 0 } };
        uint64_t safe;
        int st;

        if (NEED(SmallestSafeVirtualSize)) return ERROR_INSUFFICIENT_BUFFER;
        if ((st = vdsshim_smallest_safe_size(disk->img, &safe, &diag)))
        {
            WARN("%s\n", diag.msg);
            return st == VDSSHIM_E_UNSUPPORTED ? VDSSHIM_WIN32_VHD_COULD_NOT_COMPUTE_MINIMUM_VIRTUAL_SIZE
                                               : win32_from_status(st, &diag);
        }
        out->SmallestSafeVirtualSize = safe;
        return ERROR_SUCCESS;
    }
    case GET_VIRTUAL_DISK_INFO_FRAGMENTATION:
    {
        unsigned pct;

        if (NEED(FragmentationPercentage)) return ERROR_INSUFFICIENT_BUFFER;
        vdsshim_fragmentation(disk->img, &pct);
        out->FragmentationPercentage = pct;
        return ERROR_SUCCESS;
    }
    case GET_VIRTUAL_DISK_INFO_CHANGE_TRACKING_STATE:
        WARN("information version %u is not supported yet\n", out->Version);
        return ERROR_NOT_SUPPORTED;
    default:
        return ERROR_INVALID_PARAMETER;
    }
#undef NEED
}

DWORD WINAPI GetVirtualDiskInformation(HANDLE handle, PULONG size, PGET_VIRTUAL_DISK_INFO info, PULONG used)
{
    struct vdsshim_info vi;
    struct vd_disk *disk;
    ULONG need = 0;
    DWORD err;

    TRACE("handle %p, size %p, info %p, used %p\n", handle, size, info, used);
    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    if (!size || !info) err = ERROR_INVALID_PARAMETER;
    else if (*size < INFO_HEADER) err = ERROR_INVALID_PARAMETER;
    else if (!disk->v2 && !(disk->mask & VIRTUAL_DISK_ACCESS_GET_INFO)) err = ERROR_ACCESS_DENIED;
    else if (!disk->img) err = ERROR_INVALID_HANDLE;
    else
    {
        EnterCriticalSection(&disk->cs);
        vdsshim_get_info(disk->img, &vi);
        err = fill_info(disk, &vi, size, info, &need);
        LeaveCriticalSection(&disk->cs);
        if (err == ERROR_INSUFFICIENT_BUFFER) *size = need;
        if (!err && used) *used = need;
    }
    vd_disk_release(disk);
    return err;
}

DWORD WINAPI GetStorageDependencyInformation(HANDLE handle, GET_STORAGE_DEPENDENCY_FLAG flags, ULONG size,
                                             PSTORAGE_DEPENDENCY_INFO info, PULONG used)
{
    const ULONG header = offsetof(STORAGE_DEPENDENCY_INFO, Version1Entries);
    struct vdsshim_info vi;
    struct vd_disk *disk;
    ULONG need, entry, i, n = 0;

    TRACE("handle %p, flags %#x, size %lu, info %p, used %p\n", handle, flags, size, info, used);
    if (!info || !size) return ERROR_INVALID_PARAMETER;
    if (info->Version != STORAGE_DEPENDENCY_INFO_VERSION_1 && info->Version != STORAGE_DEPENDENCY_INFO_VERSION_2)
        return ERROR_INVALID_PARAMETER;
    entry = info->Version == STORAGE_DEPENDENCY_INFO_VERSION_1 ? sizeof(STORAGE_DEPENDENCY_INFO_TYPE_1)
                                                               : sizeof(STORAGE_DEPENDENCY_INFO_TYPE_2);
    if ((disk = vd_handle_get(handle)))
    {
        if (disk->img)
        {
            vdsshim_get_info(disk->img, &vi);
            n = vi.parent_open ? vi.chain_depth : 1;
        }
    }
    need = header + n * entry;
    if (used) *used = need;
    if (size < need)
    {
        if (disk) vd_disk_release(disk);
        return ERROR_INSUFFICIENT_BUFFER;
    }
    info->NumberEntries = n;
    for (i = 0; i < n; i++)
    {
        STORAGE_DEPENDENCY_INFO_TYPE_2 e = { 0 };

        e.DependencyTypeFlags = (i ? DEPENDENT_DISK_FLAG_PARENT : 0)
                              | (!i && vi.type == VDSSHIM_DISK_FIXED ? DEPENDENT_DISK_FLAG_FULLY_ALLOCATED : 0)
                              | (vi.has_parent && !i ? DEPENDENT_DISK_FLAG_MULT_BACKING_FILES : 0);
        e.VirtualStorageType = disk->type;
        e.AncestorLevel = i;
        if (info->Version == STORAGE_DEPENDENCY_INFO_VERSION_1) memcpy(&info->Version1Entries[i], &e, entry);
        else info->Version2Entries[i] = e;
    }
    if (disk) vd_disk_release(disk);
    return ERROR_SUCCESS;
}
