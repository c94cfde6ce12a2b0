/*
 * IVdsOpenVDisk::Compact in its two modes on a guest file system: fs.vhdx
 * and fs-offline.vhdx are the same FAT16 disk (support/fat_builder.h) with
 * two deleted files whose random data is still there. Attached read-only,
 * Compact is file-system-aware and gives that space back; detached it cannot
 * (the data is not zero). run.sh then judges both files: fsck.fat, the
 * surviving files read back with mtools, and the offline one reading
 * exactly as before.
 */
#include "conformance.h"

static HRESULT compact_one(IVdsVdProvider *prov, const WCHAR *name, BOOL attach_ro)
{
    IVdsVDisk *vdisk = add_vdisk(prov, name, VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    IVdsOpenVDisk *open = NULL;
    IVdsAsync *async;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task = E_FAIL;

    if (!vdisk) return E_FAIL;
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open);
    ok_hr(hr, S_OK, "Open(ALL)");
    if (hr == S_OK && attach_ro)
    {
        hr = IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async);
        ok_hr(hr, S_OK, "Attach(read-only)");
        if (hr == S_OK)
        {
            ok_hr(wait_task(async, &out), S_OK, "the attach task");
            IVdsAsync_Release(async);
        }
    }
    if (hr == S_OK)
    {
        hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
        ok_hr(hr, S_OK, attach_ro ? "Compact while attached read-only" : "Compact while detached");
        if (hr == S_OK)
        {
            memset(&out, 0x55, sizeof(out));
            ok_hr(IVdsAsync_Wait(async, &task, &out), S_OK, "Wait");
            ok(task != S_OK || out.type == VDS_ASYNCOUT_COMPACT_VDISK, "VDS_ASYNC_OUTPUT.type %d is 202", out.type);
            IVdsAsync_Release(async);
        }
        if (attach_ro) ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach");
    }
    if (open) IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
    return task;
}

void test_fs_aware_compact(IVdsVdProvider *prov)
{
    WCHAR fs[MAX_PATH], offline[MAX_PATH];
    ULONGLONG before;

    if (!fixture(L"fs.vhdx") || !fixture(L"fs-offline.vhdx")) return;
    path_of(L"fs.vhdx", fs);
    path_of(L"fs-offline.vhdx", offline);
    before = file_size(fs);
    ok(before == file_size(offline), "the two disks start the same size (%llu bytes)", before);
    ok_hr(compact_one(prov, L"fs.vhdx", TRUE), S_OK, "the file-system-aware compaction's result");
    ok_hr(compact_one(prov, L"fs-offline.vhdx", FALSE), S_OK, "the offline compaction's result");
    /* The deleted files hold 8 MiB of random data in whole 1 MiB blocks. */
    ok(file_size(fs) + (6ull << 20) <= file_size(offline),
       "attached read-only reclaims the deleted files' space: %llu bytes, offline %llu", file_size(fs),
       file_size(offline));
}

/* Once Wait has returned, the job holds nothing: a client that releases its
 * handle, still holding the IVdsAsync, finds the file closed. (A job used
 * to keep the handle until the IVdsAsync went away: an Open right after a
 * merge failed with a sharing violation.) The file is opened with no
 * sharing at all to tell. */
void test_file_closed_after_wait(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open = NULL;
    IVdsAsync *async = NULL;
    VDS_ASYNC_OUTPUT out;
    WCHAR path[MAX_PATH];
    HRESULT hr, task = E_FAIL;
    HANDLE h;

    if (!fixture(L"fs-offline.vhdx")) return;
    vdisk = add_vdisk(prov, L"fs-offline.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    if (!vdisk) return;
    path_of(L"fs-offline.vhdx", path);
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open);
    ok_hr(hr, S_OK, "Open(ALL)");
    if (hr == S_OK) hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
    if (hr == S_OK)
    {
        ok_hr(IVdsAsync_Wait(async, &task, &out), S_OK, "Wait");
        ok_hr(task, S_OK, "the compaction's result");
    }
    if (open) IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
    h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    ok(h != INVALID_HANDLE_VALUE, "after Wait and the handle's Release the file is closed (error %lu)",
       h == INVALID_HANDLE_VALUE ? GetLastError() : 0);
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
    if (async) IVdsAsync_Release(async);
}
