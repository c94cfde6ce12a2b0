/*
 * The exports this virtdisk.dll does not implement (yet): each validates its
 * handle (ERROR_INVALID_HANDLE), then returns ERROR_NOT_SUPPORTED and says so
 * in a WARN, where Wine's own DLL would abort the process at the call
 * (virtdisk-reference.md §1). Mirroring, VHD sets, forks, change tracking
 * and raw SCSI have no engine under them (SetVirtualDiskInformation:
 * set_info.c; user metadata: metadata.c).
 */
#include "virtdisk_private.h"

static DWORD not_supported(HANDLE handle, const char *func)
{
    struct vd_disk *disk;

    if (!(disk = vd_handle_get(handle))) return ERROR_INVALID_HANDLE;
    vd_disk_release(disk);
    WARN("%s is not supported\n", func);
    return ERROR_NOT_SUPPORTED;
}

DWORD WINAPI MirrorVirtualDisk(HANDLE handle, MIRROR_VIRTUAL_DISK_FLAG flags, PMIRROR_VIRTUAL_DISK_PARAMETERS params,
                               LPOVERLAPPED overlapped)
{
    (void)flags;
    (void)params;
    (void)overlapped;
    return not_supported(handle, __func__);
}

DWORD WINAPI BreakMirrorVirtualDisk(HANDLE handle)
{
    return not_supported(handle, __func__);
}

DWORD WINAPI AddVirtualDiskParent(HANDLE handle, PCWSTR parent)
{
    (void)parent;
    return not_supported(handle, __func__);
}

/* Windows 10's: (HANDLE, const PARAMETERS *, FLAG) for the VHD-set calls (§3.15). */
DWORD WINAPI ApplySnapshotVhdSet(HANDLE handle, const void *params, ULONG flags)
{
    (void)params;
    (void)flags;
    return not_supported(handle, __func__);
}

DWORD WINAPI DeleteSnapshotVhdSet(HANDLE handle, const void *params, ULONG flags)
{
    (void)params;
    (void)flags;
    return not_supported(handle, __func__);
}

DWORD WINAPI ModifyVhdSet(HANDLE handle, const void *params, ULONG flags)
{
    (void)params;
    (void)flags;
    return not_supported(handle, __func__);
}

DWORD WINAPI TakeSnapshotVhdSet(HANDLE handle, const void *params, ULONG flags)
{
    (void)params;
    (void)flags;
    return not_supported(handle, __func__);
}

DWORD WINAPI QueryChangesVirtualDisk(HANDLE handle, PCWSTR id, ULONG64 offset, ULONG64 length, ULONG flags,
                                     void *ranges, PULONG count, PULONG64 processed)
{
    (void)id;
    (void)offset;
    (void)length;
    (void)flags;
    (void)ranges;
    (void)count;
    (void)processed;
    return not_supported(handle, __func__);
}

DWORD WINAPI RawSCSIVirtualDisk(HANDLE handle, const void *params, ULONG flags, void *response)
{
    (void)params;
    (void)flags;
    (void)response;
    return not_supported(handle, __func__);
}

DWORD WINAPI ForkVirtualDisk(HANDLE handle, ULONG flags, const void *params, LPOVERLAPPED overlapped)
{
    (void)flags;
    (void)params;
    (void)overlapped;
    return not_supported(handle, __func__);
}

DWORD WINAPI CompleteForkVirtualDisk(HANDLE handle)
{
    return not_supported(handle, __func__);
}
