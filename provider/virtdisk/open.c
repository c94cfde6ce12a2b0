/*
 * OpenVirtualDisk and CreateVirtualDisk (virtdisk-reference.md §3.1, §3.2).
 *
 * Answers, with their sources ([V] read there or in Wine's tests of real
 * Windows, dlls/virtdisk/tests/virtdisk.c; [U] chosen, unverified):
 *   NULL type, path or handle; mask & ~ALL; an unknown flag;
 *   a Version other than 1, 2 (or 3 for Open)       ERROR_INVALID_PARAMETER [V]
 *   V2 (or V3) with a mask other than NONE           ERROR_INVALID_PARAMETER [V S1, S5]
 *   a missing file (the lookup precedes RWDepth)     ERROR_FILE_NOT_FOUND [V Wine's tests]
 *   DeviceId VHD or VHDX, the file the other one     ERROR_VHD_FORMAT_UNKNOWN [U, as the VDS provider]
 *   DeviceId ISO or VHDSET                           ERROR_NOT_SUPPORTED, WARN [U: no ISO or VHD set engine]
 *   a vendor other than Microsoft for a known device ERROR_INVALID_PARAMETER [U]
 *   a file another handle holds read-write           ERROR_SHARING_VIOLATION [U: the file's sharing]
 * UNKNOWN/UNKNOWN takes the type from the file's signature, not its name
 * (the samples pass it for every file [V S5]; a misnamed file still opens).
 * Access: V1 masks with METAOPS, ATTACH_RW or CREATE and RWDepth > 0 open
 * the file read-write (RWDepth n: n files of the chain), others read-only;
 * V2 handles are read-write unless ReadOnly or GetInfoOnly [V S5].
 * CreateVirtualDisk Versions 3 and 4 (Windows 10; the SDK declares them, the
 * pages describe neither) begin with Version2's fields at Version2's
 * offsets and are read as Version2 where their additions keep their
 * defaults: a NULL SourceLimitPath (a source chain copied only down to that
 * file), a zero BackingStorageType, PmemAddressAbstractionType and
 * DataAlignment (persistent-memory disks). Any other value of those is
 * ERROR_NOT_SUPPORTED, with a WARN [U: no engine under them].
 * CreateVirtualDisk with an OVERLAPPED completes before it returns (creation
 * is a handful of writes): ERROR_SUCCESS, the event set [U: S5 accepts it].
 * With SourcePath the new disk gets the source's content (vdsshim_convert:
 * VHD <-> VHDX, dynamic <-> fixed; MaximumSize 0 = the source's size), and
 * appears only once complete.
 */
#include <stdlib.h>
#include <string.h>

#include "virtdisk_private.h"

#define KNOWN_OPEN_FLAGS (OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS | OPEN_VIRTUAL_DISK_FLAG_BLANK_FILE \
    | OPEN_VIRTUAL_DISK_FLAG_CACHED_IO | OPEN_VIRTUAL_DISK_FLAG_CUSTOM_DIFF_CHAIN \
    | OPEN_VIRTUAL_DISK_FLAG_PARENT_CACHED_IO | OPEN_VIRTUAL_DISK_FLAG_VHDSET_FILE_ONLY \
    | OPEN_VIRTUAL_DISK_FLAG_IGNORE_RELATIVE_PARENT_LOCATOR | OPEN_VIRTUAL_DISK_FLAG_NO_WRITE_HARDENING)

char *vd_utf8(const WCHAR *s)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, s, -1, NULL, 0, NULL, NULL);
    char *d = n > 0 ? malloc((size_t)n) : NULL;

    if (d) WideCharToMultiByte(CP_UTF8, 0, s, -1, d, n, NULL, NULL);
    return d;
}

WCHAR *vd_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    WCHAR *d = n > 0 ? malloc((size_t)n * sizeof(WCHAR)) : NULL;

    if (d) MultiByteToWideChar(CP_UTF8, 0, s, -1, d, n);
    return d;
}

BOOL vd_disk_can_metaops(const struct vd_disk *disk)
{
    if (disk->v2) return !disk->info_only && !disk->read_only;
    return (disk->mask & VIRTUAL_DISK_ACCESS_METAOPS) && disk->rw_depth;
}

/* The type check every entry point shares: 0 when the type is one we open. */
static DWORD check_type(const VIRTUAL_STORAGE_TYPE *type)
{
    if (type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN) return ERROR_SUCCESS;
    if (type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_ISO || type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDSET)
    {
        WARN("device type %lu is not supported\n", type->DeviceId);
        return ERROR_NOT_SUPPORTED;
    }
    if (type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHD && type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_VHDX)
        return ERROR_INVALID_PARAMETER;
    return IsEqualGUID(&type->VendorId, &VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT) ? ERROR_SUCCESS
                                                                               : ERROR_INVALID_PARAMETER;
}

DWORD vd_disk_open(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, VIRTUAL_DISK_ACCESS_MASK mask,
                   OPEN_VIRTUAL_DISK_FLAG flags, BOOL v2, BOOL info_only, BOOL read_only, ULONG rw_depth,
                   HANDLE *handle)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    struct vd_disk *disk;
    unsigned open_flags = 0;
    char *utf8;
    DWORD err;
    int st;

    if (!(disk = calloc(1, sizeof(*disk))) || !(disk->path = _wcsdup(path)) || !(utf8 = vd_utf8(path)))
    {
        if (disk) free(disk->path);
        free(disk);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    disk->refcount = disk->memrefs = 1;
    InitializeCriticalSection(&disk->cs);
    disk->mask = mask;
    disk->v2 = v2;
    disk->info_only = info_only;
    disk->read_only = read_only;
    disk->rw_depth = rw_depth;
    if (vd_disk_can_metaops(disk) || (!v2 && (mask & (VIRTUAL_DISK_ACCESS_ATTACH_RW | VIRTUAL_DISK_ACCESS_CREATE))
                                      && rw_depth))
        open_flags |= VDSSHIM_OPEN_WRITE;
    if (flags & OPEN_VIRTUAL_DISK_FLAG_NO_PARENTS) open_flags |= VDSSHIM_OPEN_NO_PARENTS;
    else if ((open_flags & VDSSHIM_OPEN_WRITE) && !v2 && rw_depth > 1)
        open_flags |= VDSSHIM_OPEN_PARENTS_WRITE(rw_depth - 1 > 255 ? 255 : rw_depth - 1);
    vd_handle_retire_closed();
    st = vdsshim_open(utf8, open_flags, &disk->img, &diag);
    free(utf8);
    if (st)
    {
        WARN("%s: %s\n", debugstr_w(path), diag.msg);
        vd_disk_release(disk);
        return win32_from_status(st, &diag);
    }
    vdsshim_get_info(disk->img, &info);
    disk->type.VendorId = VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT;
    disk->type.DeviceId = info.format == VDSSHIM_FORMAT_VHDX ? VIRTUAL_STORAGE_TYPE_DEVICE_VHDX
                                                            : VIRTUAL_STORAGE_TYPE_DEVICE_VHD;
    if (type->DeviceId != VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN && type->DeviceId != disk->type.DeviceId)
    {
        WARN("%s is not of device type %lu\n", debugstr_w(path), type->DeviceId);
        vd_disk_release(disk);
        return VDSSHIM_WIN32_VHD_FORMAT_UNKNOWN;
    }
    if ((err = vd_handle_create(disk, handle))) vd_disk_release(disk);
    TRACE("%s: handle %p, mask %#x, v2 %d, rw_depth %lu: %lu\n", debugstr_w(path), err ? NULL : *handle, mask, v2,
          rw_depth, err);
    return err;
}

DWORD WINAPI OpenVirtualDisk(PVIRTUAL_STORAGE_TYPE type, PCWSTR path, VIRTUAL_DISK_ACCESS_MASK mask,
                             OPEN_VIRTUAL_DISK_FLAG flags, POPEN_VIRTUAL_DISK_PARAMETERS params, PHANDLE handle)
{
    ULONG rw_depth = OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT;
    BOOL v2 = FALSE, info_only = FALSE, read_only = FALSE;
    DWORD err;

    TRACE("type %p, path %s, mask %#x, flags %#x, params %p, handle %p\n", type, debugstr_w(path), mask, flags,
          params, handle);
    if (!type || !path || !handle || (mask & ~VIRTUAL_DISK_ACCESS_ALL) || (flags & ~KNOWN_OPEN_FLAGS))
        return ERROR_INVALID_PARAMETER;
    if (params)
    {
        switch (params->Version)
        {
        case OPEN_VIRTUAL_DISK_VERSION_1:
            rw_depth = params->Version1.RWDepth;
            break;
        case OPEN_VIRTUAL_DISK_VERSION_2:
        case OPEN_VIRTUAL_DISK_VERSION_3:
            if (mask != VIRTUAL_DISK_ACCESS_NONE) return ERROR_INVALID_PARAMETER;
            v2 = TRUE;
            info_only = params->Version2.GetInfoOnly;
            read_only = params->Version2.ReadOnly;
            break;
        default:
            return ERROR_INVALID_PARAMETER;
        }
    }
    if ((err = check_type(type))) return err;
    return vd_disk_open(type, path, mask, flags, v2, info_only, read_only, rw_depth, handle);
}

/* The SDK's rules for a new disk's sizes (§3.2). */
static DWORD check_create_sizes(BOOL vhdx, BOOL v2, BOOL child, ULONGLONG size, ULONG block, ULONG sector)
{
    if (!child && (size < 3 * 1024 * 1024 || size % 512)) return ERROR_INVALID_PARAMETER;
    if (vhdx)
    {
        if (block && (block % (1 << 20) || block > 256u << 20)) return ERROR_INVALID_PARAMETER;
        if (sector && sector != 512 && sector != 4096) return ERROR_INVALID_PARAMETER;
    }
    else
    {
        if (block && block != 0x80000 && block != 0x200000) return ERROR_INVALID_PARAMETER;
        if (sector && sector != 512) return ERROR_INVALID_PARAMETER;
    }
    (void)v2;
    return ERROR_SUCCESS;
}

/* Version 3's and 4's fields past Version2's: only their defaults have an engine. */
static DWORD check_create_additions(const CREATE_VIRTUAL_DISK_PARAMETERS *params)
{
    static const VIRTUAL_STORAGE_TYPE no_type;
    static const GUID no_guid;

    if (params->Version >= CREATE_VIRTUAL_DISK_VERSION_3
        && (params->Version3.SourceLimitPath
            || memcmp(&params->Version3.BackingStorageType, &no_type, sizeof(no_type))))
    {
        WARN("Version %u: SourceLimitPath %s, BackingStorageType %lu are not supported\n", params->Version,
             debugstr_w(params->Version3.SourceLimitPath), params->Version3.BackingStorageType.DeviceId);
        return ERROR_NOT_SUPPORTED;
    }
    if (params->Version == CREATE_VIRTUAL_DISK_VERSION_4
        && (memcmp(&params->Version4.PmemAddressAbstractionType, &no_guid, sizeof(no_guid))
            || params->Version4.DataAlignment))
    {
        WARN("Version 4: PmemAddressAbstractionType %s, DataAlignment %llu are not supported\n",
             debugstr_guid(&params->Version4.PmemAddressAbstractionType),
             (unsigned long long)params->Version4.DataAlignment);
        return ERROR_NOT_SUPPORTED;
    }
    return ERROR_SUCCESS;
}

DWORD WINAPI CreateVirtualDisk(PVIRTUAL_STORAGE_TYPE type, PCWSTR path, VIRTUAL_DISK_ACCESS_MASK mask,
                               PSECURITY_DESCRIPTOR sd, CREATE_VIRTUAL_DISK_FLAG flags, ULONG provider_flags,
                               PCREATE_VIRTUAL_DISK_PARAMETERS params, LPOVERLAPPED overlapped, PHANDLE handle)
{
    struct vdsshim_create_params cp = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    const WCHAR *parent, *source;
    static const GUID no_id;
    const GUID *id;
    char *utf8 = NULL, *parent_utf8 = NULL, *source_utf8 = NULL;
    BOOL v2, vhdx;
    DWORD err;
    int st;

    TRACE("type %p, path %s, mask %#x, sd %p, flags %#x, provider_flags %#lx, params %p, overlapped %p, handle %p\n",
          type, debugstr_w(path), mask, sd, flags, provider_flags, params, overlapped, handle);
    if (!type || !path || !params || !handle || (mask & ~VIRTUAL_DISK_ACCESS_ALL)
        || (flags & ~CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION) || provider_flags)
        return ERROR_INVALID_PARAMETER;
    if (params->Version < CREATE_VIRTUAL_DISK_VERSION_1 || params->Version > CREATE_VIRTUAL_DISK_VERSION_4)
        return ERROR_INVALID_PARAMETER;
    /* v2: Version2's fields, which Versions 3 and 4 begin with. */
    if ((v2 = params->Version >= CREATE_VIRTUAL_DISK_VERSION_2) && mask != VIRTUAL_DISK_ACCESS_NONE)
        return ERROR_INVALID_PARAMETER;
    if ((err = check_create_additions(params))) return err;
    if ((err = check_type(type))) return err;
    /* The type names the format; UNKNOWN takes it from the name, as the samples expect [V S5]. */
    if (type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN)
    {
        size_t n = wcslen(path);
        vhdx = n >= 5 && !_wcsicmp(path + n - 5, L".vhdx");
    }
    else vhdx = type->DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDX;
    parent = v2 ? params->Version2.ParentPath : params->Version1.ParentPath;
    source = v2 ? params->Version2.SourcePath : params->Version1.SourcePath;
    if (parent && source) return ERROR_INVALID_PARAMETER;
    if (parent && (flags & CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION)) return ERROR_INVALID_PARAMETER;
    cp.format = vhdx ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    cp.type = parent ? VDSSHIM_DISK_DIFFERENCING
            : flags & CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION ? VDSSHIM_DISK_FIXED : VDSSHIM_DISK_DYNAMIC;
    cp.virtual_size = v2 ? params->Version2.MaximumSize : params->Version1.MaximumSize;
    cp.block_size = v2 ? params->Version2.BlockSizeInBytes : params->Version1.BlockSizeInBytes;
    cp.logical_sector_size = v2 ? params->Version2.SectorSizeInBytes : params->Version1.SectorSizeInBytes;
    cp.physical_sector_size = v2 ? params->Version2.PhysicalSectorSizeInBytes : 0;
    if (!vhdx) cp.physical_sector_size = 0;
    /* A child takes its parent's size, a copy its source's (0), or more. */
    if ((err = check_create_sizes(vhdx, v2, parent || (source && !cp.virtual_size), cp.virtual_size, cp.block_size,
                                  cp.logical_sector_size)))
        return err;
    if (cp.physical_sector_size && cp.physical_sector_size != 512 && cp.physical_sector_size != 4096)
        return ERROR_INVALID_PARAMETER;
    id = v2 ? &params->Version2.UniqueId : &params->Version1.UniqueId;
    if (memcmp(id, &no_id, sizeof(no_id))) cp.unique_id = (const uint8_t *)id;
    if (!(utf8 = vd_utf8(path)) || (parent && !(parent_utf8 = vd_utf8(parent)))
        || (source && !(source_utf8 = vd_utf8(source))))
    {
        free(utf8);
        free(parent_utf8);
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    cp.parent_path = parent_utf8;
    st = source ? vdsshim_convert(source_utf8, utf8, &cp, NULL, &diag) : vdsshim_create(utf8, &cp, &diag);
    free(utf8);
    free(parent_utf8);
    free(source_utf8);
    if (st)
    {
        WARN("create %s: %s\n", debugstr_w(path), diag.msg);
        err = win32_from_status(st, &diag);
    }
    else if ((err = vd_disk_open(type, path, v2 ? VIRTUAL_DISK_ACCESS_NONE : mask, 0, v2, FALSE, FALSE,
                                 v2 ? 1 : (mask ? 1 : 0), handle)))
        WARN("open of the new %s: %lu\n", debugstr_w(path), err);
    if (overlapped)
    {
        overlapped->Internal = err ? (ULONG_PTR)(0xC0070000u | (err & 0xffff)) : 0;
        overlapped->InternalHigh = 0;
        if (overlapped->hEvent) SetEvent(overlapped->hEvent);
    }
    return err;
}
