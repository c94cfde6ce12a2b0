/* The conformance clients' shared checks and helpers (conformance.h). */
#include "conformance.h"

const WCHAR *dir;
DWORD clsctx = CLSCTX_INPROC_SERVER;     /* or CLSCTX_LOCAL_SERVER */

/* A function, not a macro: the call under test runs exactly once. */
void ok_hr_(HRESULT got, HRESULT want, const char *what, int line)
{
    ok_(got == want, line, "%s: got %#lx, expected %#lx", what, (unsigned long)got, (unsigned long)want);
}

ULONG refcount(IUnknown *unk)
{
    IUnknown_AddRef(unk);
    return IUnknown_Release(unk);
}

HRESULT wait_task(IVdsAsync *async, VDS_ASYNC_OUTPUT *out)
{
    HRESULT task = 0x55;

    memset(out, 0x55, sizeof(*out));
    ok_hr(IVdsAsync_Wait(async, &task, out), S_OK, "Wait");
    return task;
}

BOOL output_zeroed(const VDS_ASYNC_OUTPUT *out)
{
    static const VDS_ASYNC_OUTPUT zeros;

    return !memcmp(out, &zeros, sizeof(zeros));
}

HANDLE hold_jobs(void)
{
    HANDLE h = CreateEventW(NULL, TRUE, FALSE, L"vdsshim-test-hold-jobs");

    if (!h) ok(0, "the job-holding event (error %lu)", GetLastError());
    /* A worker that was held last time may not have closed its handle yet. */
    else if (GetLastError() == ERROR_ALREADY_EXISTS) ResetEvent(h);
    return h;
}

void release_jobs(HANDLE hold)
{
    if (!hold) return;
    SetEvent(hold);
    CloseHandle(hold);
}

VDS_VDISK_STATE vdisk_state(IVdsVDisk *vdisk)
{
    VDS_VDISK_PROPERTIES props;
    HRESULT hr;

    memset(&props, 0x55, sizeof(props));
    hr = IVdsVDisk_GetProperties(vdisk, &props);
    ok_hr(hr, S_OK, "IVdsVDisk::GetProperties");
    if (hr != S_OK) return VDS_VST_UNKNOWN;
    CoTaskMemFree(props.pPath);
    CoTaskMemFree(props.pDeviceName);
    CoTaskMemFree(props.pParentPath);
    return props.State;
}

IVdsOpenVDisk *open_disk(IVdsVdProvider *prov, const WCHAR *name, ULONG device, VIRTUAL_DISK_ACCESS_MASK mask,
                         ULONG rw_depth, IVdsVDisk **vdisk)
{
    IVdsOpenVDisk *open = NULL;

    if (!(*vdisk = add_vdisk(prov, name, device))) return NULL;
    ok_hr(IVdsVDisk_Open(*vdisk, mask, OPEN_VIRTUAL_DISK_FLAG_NONE, rw_depth, &open), S_OK, "Open");
    return open;
}

HRESULT attach(IVdsOpenVDisk *open, BOOL read_only)
{
    IVdsAsync *async = NULL;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task;

    hr = IVdsOpenVDisk_Attach(open, NULL, read_only ? ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY : ATTACH_VIRTUAL_DISK_FLAG_NONE,
                              0, 0, &async);
    ok_hr(hr, S_OK, read_only ? "Attach(read-only)" : "Attach(read-write)");
    if (hr != S_OK) return hr;
    task = wait_task(async, &out);
    ok(task == S_OK && out.type == VDS_ASYNCOUT_ATTACH_VDISK, "attach result %#lx, type %d", (unsigned long)task,
       out.type);
    IVdsAsync_Release(async);
    return task;
}

void path_of(const WCHAR *name, WCHAR *out)
{
    swprintf(out, MAX_PATH, L"%ls\\%ls", dir, name);
}

ULONGLONG file_size(const WCHAR *path)
{
    WIN32_FILE_ATTRIBUTE_DATA d;

    if (!GetFileAttributesExW(path, GetFileExInfoStandard, &d)) return 0;
    return ((ULONGLONG)d.nFileSizeHigh << 32) | d.nFileSizeLow;
}

IVdsVDisk *add_vdisk(IVdsVdProvider *prov, const WCHAR *name, ULONG device)
{
    VIRTUAL_STORAGE_TYPE type = { device, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    IVdsVDisk *vdisk = NULL;
    WCHAR path[MAX_PATH];
    HRESULT hr;

    path_of(name, path);
    hr = IVdsVdProvider_AddVDisk(prov, &type, path, &vdisk);
    ok_hr(hr, S_OK, "AddVDisk");
    return hr == S_OK ? vdisk : NULL;
}
