/*
 * vhdcompact: compact a virtual disk through the Virtual Disk API, as
 * Microsoft's storage sample does: OpenVirtualDisk (UNKNOWN type, V1,
 * METAOPS), CompactVirtualDisk (V1 parameters) with an OVERLAPPED, progress
 * from GetVirtualDiskOperationProgress, GetOverlappedResult, CloseHandle.
 * Written against mingw-w64's own <virtdisk.h> and import library, as any
 * ported tool is: what it runs under Wine is whichever virtdisk.dll the
 * prefix loads (scripts/run --virtdisk makes it vdsshim's).
 *   vhdcompact DISK
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <initguid.h>
#include <virtdisk.h>
#include <stdio.h>

int wmain(int argc, WCHAR **argv)
{
    VIRTUAL_STORAGE_TYPE type = { VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN, { 0 } };
    OPEN_VIRTUAL_DISK_PARAMETERS open_params = { OPEN_VIRTUAL_DISK_VERSION_1, { { 1 } } };
    COMPACT_VIRTUAL_DISK_PARAMETERS params = { COMPACT_VIRTUAL_DISK_VERSION_1, { { 0 } } };
    VIRTUAL_DISK_PROGRESS progress;
    OVERLAPPED ov = { 0 };
    HANDLE disk;
    DWORD err, n;

    if (argc != 2)
    {
        fprintf(stderr, "usage: vhdcompact DISK\n");
        return 2;
    }
    err = OpenVirtualDisk(&type, argv[1], VIRTUAL_DISK_ACCESS_METAOPS, OPEN_VIRTUAL_DISK_FLAG_NONE, &open_params, &disk);
    if (err)
    {
        fprintf(stderr, "OpenVirtualDisk: error %lu (0x%08lx)\n", err, err);
        return 1;
    }
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    err = CompactVirtualDisk(disk, COMPACT_VIRTUAL_DISK_FLAG_NONE, &params, &ov);
    if (err == ERROR_IO_PENDING)
    {
        for (;;)
        {
            if ((err = GetVirtualDiskOperationProgress(disk, &ov, &progress))) break;
            if (progress.OperationStatus != ERROR_IO_PENDING)
            {
                err = progress.OperationStatus;
                break;
            }
            if (progress.CompletionValue)
                printf("\rcompacting: %3llu%%", progress.CurrentValue * 100 / progress.CompletionValue);
            fflush(stdout);
            WaitForSingleObject(ov.hEvent, 100);
        }
        printf("\n");
        if (!err && !GetOverlappedResult(disk, &ov, &n, TRUE)) err = GetLastError();
    }
    CloseHandle(ov.hEvent);
    CloseHandle(disk);
    if (err)
    {
        fprintf(stderr, "CompactVirtualDisk: error %lu (0x%08lx)\n", err, err);
        return 1;
    }
    printf("%ls: compacted\n", argv[1]);
    return 0;
}
