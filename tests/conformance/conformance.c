/*
 * Provider conformance: the VDS chain down to IVdsOpenVDisk::Compact and
 * IVdsAsync, through public interfaces only (it can run unchanged against
 * real Windows VDS). Exact HRESULTs printed in hex, sentinels in every
 * out-parameter, TAP lines and a closing "N passed, N failed, N todo".
 *   conformance.exe DIR [inproc|local] [TEST...]
 * Each test makes the images it needs in DIR (a Windows path), with their
 * raw copies (conformance_fixtures.c), so one runs alone; the second argument
 * picks the activation (CLSCTX_INPROC_SERVER, or CLSCTX_LOCAL_SERVER through
 * the shared server, vdsshim_server.exe): the expectations are the same.
 */
#include "conformance.h"

IVdsServiceLoader *loader;

/* A local object to pass where an IVdsAdviseSink or IVdsDisk is expected:
 * across processes a pointer is marshalled as the interface it claims to be. */
static HRESULT WINAPI dummy_QueryInterface(IUnknown *iface, REFIID riid, void **out)
{
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsAdviseSink) || IsEqualGUID(riid, &IID_IVdsDisk))
    {
        *out = iface;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}
static ULONG WINAPI dummy_AddRef(IUnknown *iface) { (void)iface; return 2; }
static ULONG WINAPI dummy_Release(IUnknown *iface) { (void)iface; return 1; }
static const IUnknownVtbl dummy_vtbl = { dummy_QueryInterface, dummy_AddRef, dummy_Release };
static IUnknown dummy = { (IUnknownVtbl *)&dummy_vtbl };

static IVdsService *load_service(void)
{
    IVdsService *service = (void *)0xdeadbeef;
    HRESULT hr;

    hr = CoCreateInstance(&CLSID_VdsLoader, NULL, clsctx, &IID_IVdsServiceLoader, (void **)&loader);
    ok_hr(hr, S_OK, "CoCreateInstance(CLSID_VdsLoader)");
    if (hr != S_OK) return NULL;
    ok(refcount((IUnknown *)loader) == 1, "loader starts with one reference");
    hr = IVdsServiceLoader_LoadService(loader, NULL, NULL);
    ok_null_out(hr, "LoadService(NULL out)");
    hr = IVdsServiceLoader_LoadService(loader, (WCHAR *)L"far-away-host", &service);
    ok_hr(hr, VDS_E_NOT_SUPPORTED, "LoadService(remote machine)");
    ok(service == NULL, "LoadService(remote) clears the out-pointer");
    hr = IVdsServiceLoader_LoadService(loader, (WCHAR *)L"", &service);
    ok_hr(hr, S_OK, "LoadService(\"\")");
    if (hr == S_OK) IVdsService_Release(service);
    hr = IVdsServiceLoader_LoadService(loader, NULL, &service);
    ok_hr(hr, S_OK, "LoadService(NULL)");
    return hr == S_OK ? service : NULL;     /* the loader stays: test_attachment_lifetime loads again */
}

static void test_service(IVdsService *service)
{
    IVdsServiceInitialization *init;
    IEnumVdsObject *e = (void *)0xdeadbeef;
    VDS_SERVICE_PROP prop;
    VDS_DRIVE_LETTER_PROP letters[26];
    VDS_FILE_SYSTEM_TYPE_PROP *fs = (void *)0xdeadbeef;
    LONG nfs = 0x55;
    DWORD cookie = 0x55;
    HRESULT hr;

    /* Ready only once initialised: S_OK says LoadService called Initialize (§3.4.5.2.3.1). */
    ok_hr(IVdsService_IsServiceReady(service), S_OK, "IsServiceReady (LoadService initialised the service)");
    ok_hr(IVdsService_WaitForServiceReady(service), S_OK, "WaitForServiceReady");
    memset(&prop, 0x55, sizeof(prop));
    hr = IVdsService_GetProperties(service, &prop);
    ok_hr(hr, S_OK, "IVdsService::GetProperties");
    if (hr == S_OK)
    {
        ok(prop.pwszVersion && !wcscmp(prop.pwszVersion, L"1.0") && prop.ulFlags == 0, "service version 1.0, flags 0");
        CoTaskMemFree(prop.pwszVersion);
    }
    ok_null_out(IVdsService_GetProperties(service, NULL), "IVdsService::GetProperties(NULL)");
    hr = IVdsService_QueryInterface(service, &IID_IVdsServiceInitialization, (void **)&init);
    ok_hr(hr, S_OK, "QueryInterface(IVdsServiceInitialization)");
    if (hr == S_OK)
    {
        ok_hr(IVdsServiceInitialization_Initialize(init, NULL), S_OK, "Initialize(NULL)");
        IVdsServiceInitialization_Release(init);
    }
    /* No host disks behind the shim: documented "not supported" answers. */
    ok_hr(IVdsService_QueryMaskedDisks(service, &e), VDS_E_NOT_SUPPORTED, "QueryMaskedDisks");
    ok(e == NULL, "QueryMaskedDisks clears the out-pointer");
    e = (void *)0xdeadbeef;
    ok_hr(IVdsService_QueryUnallocatedDisks(service, &e), VDS_E_NOT_SUPPORTED, "QueryUnallocatedDisks");
    ok(e == NULL, "QueryUnallocatedDisks clears the out-pointer");
    /* The prefix's own drive mappings, one entry per letter. */
    memset(letters, 0x55, sizeof(letters));
    hr = IVdsService_QueryDriveLetters(service, L'A', 26, letters);
    ok_hr(hr, S_OK, "QueryDriveLetters(A, 26)");
    if (hr == S_OK)
    {
        DWORD used = GetLogicalDrives(), i, right = 0;
        static const GUID null_id;

        for (i = 0; i < 26; i++)
            right += letters[i].wcLetter == L'A' + i && letters[i].bUsed == (LONG)((used >> i) & 1)
                     && letters[i].ulFlags == 0 && IsEqualGUID(&letters[i].volumeId, &null_id);
        ok(right == 26, "every letter as the prefix maps it (%lu of 26 right; mask %#lx)", right, used);
        ok(letters[2].bUsed == 1 && letters[25].bUsed == 1, "C: and Z: are in use (wine's defaults)");
    }
    memset(letters, 0x55, sizeof(letters));
    ok_hr(IVdsService_QueryDriveLetters(service, L'y', 2, letters), S_OK, "QueryDriveLetters(y, 2)");
    ok(letters[0].wcLetter == L'Y' && letters[1].wcLetter == L'Z' && letters[2].wcLetter == 0x5555,
       "Y and Z, and nothing past the count");
    ok_hr(IVdsService_QueryDriveLetters(service, L'Y', 3, letters), E_INVALIDARG, "QueryDriveLetters past Z");
    ok_hr(IVdsService_QueryDriveLetters(service, L'1', 1, letters), E_INVALIDARG, "QueryDriveLetters('1')");
    ok_hr(IVdsService_QueryFileSystemTypes(service, &fs, &nfs), VDS_E_NOT_SUPPORTED, "QueryFileSystemTypes");
    ok(fs == NULL && nfs == 0, "QueryFileSystemTypes clears its out-parameters");
    ok_hr(IVdsService_Reenumerate(service), S_OK, "Reenumerate");
    ok_hr(IVdsService_Refresh(service), S_OK, "Refresh");
    ok_hr(IVdsService_CleanupObsoleteMountPoints(service), VDS_E_NOT_SUPPORTED, "CleanupObsoleteMountPoints");
    ok_hr(IVdsService_Advise(service, (IVdsAdviseSink *)&dummy, &cookie), VDS_E_NOT_SUPPORTED, "Advise");
    ok_hr(IVdsService_Unadvise(service, 1), VDS_E_NOT_SUPPORTED, "Unadvise");
    ok_hr(IVdsService_Reboot(service), VDS_E_NOT_SUPPORTED, "Reboot");
    ok_hr(IVdsService_SetFlags(service, 1), VDS_E_NOT_SUPPORTED, "SetFlags");
    ok_hr(IVdsService_ClearFlags(service, 1), VDS_E_NOT_SUPPORTED, "ClearFlags");
}

static IVdsVdProvider *test_providers(IVdsService *service)
{
    static const struct { DWORD mask; HRESULT hr; ULONG count; } cases[] =
    {
        { 0, VDS_E_INVALID_QUERY_PROVIDER_FLAG, 0 },
        { 8, VDS_E_INVALID_QUERY_PROVIDER_FLAG, 0 },
        { 1, S_OK, 0 },
        { 2, S_OK, 0 },
        { 4, S_OK, 1 },
        { 7, S_OK, 1 },
    };
    IVdsVdProvider *vdprov = NULL;
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
        IEnumVdsObject *e = (void *)0xdeadbeef, *clone;
        IUnknown *objs[2] = { (void *)0x55, (void *)0x55 };
        ULONG fetched = 0x55;
        HRESULT hr = IVdsService_QueryProviders(service, cases[i].mask, &e);

        ok_hr(hr, cases[i].hr, "QueryProviders(mask)");
        if (hr != S_OK)
        {
            ok(e == NULL, "QueryProviders %u: out-pointer cleared on failure", i);
            continue;
        }
        hr = IEnumVdsObject_Next(e, 2, objs, &fetched);
        ok_hr(hr, S_FALSE, "Next(2) at the end of the enumeration");
        ok(fetched == cases[i].count, "QueryProviders %u: %lu provider(s) fetched, expected %lu", i, fetched, cases[i].count);
        /* In process the slot is untouched; unmarshalling writes NULL there. */
        ok(objs[1] == (clsctx == CLSCTX_INPROC_SERVER ? (void *)0x55 : NULL), "QueryProviders %u: unfetched slot %p", i, objs[1]);
        if (cases[i].count && cases[i].mask == 4)
        {
            IVdsProvider *prov;
            VDS_PROVIDER_PROP prop;

            hr = IUnknown_QueryInterface(objs[0], &IID_IVdsProvider, (void **)&prov);
            ok_hr(hr, S_OK, "QI(IVdsProvider)");
            memset(&prop, 0x55, sizeof(prop));
            hr = IVdsProvider_GetProperties(prov, &prop);
            ok_hr(hr, S_OK, "IVdsProvider::GetProperties");
            ok(prop.type == VDS_PT_VIRTUALDISK, "provider type %d is VDS_PT_VIRTUALDISK", prop.type);
            ok(prop.pwszName && prop.pwszName[0] && prop.pwszVersion && !wcscmp(prop.pwszVersion, L"1.0"),
               "provider name set, version \"1.0\"");
            CoTaskMemFree(prop.pwszName);
            CoTaskMemFree(prop.pwszVersion);
            IVdsProvider_Release(prov);
            hr = IUnknown_QueryInterface(objs[0], &IID_IVdsVdProvider, (void **)&vdprov);
            ok_hr(hr, S_OK, "QI(IVdsVdProvider)");
            /* Enumerator semantics. */
            ok_hr(IEnumVdsObject_Reset(e), S_OK, "Reset");
            ok_hr(IEnumVdsObject_Skip(e, 1), S_OK, "Skip(1)");
            ok_hr(IEnumVdsObject_Skip(e, 1), S_FALSE, "Skip past the end");
            ok_hr(IEnumVdsObject_Reset(e), S_OK, "Reset again");
            ok_hr(IEnumVdsObject_Clone(e, &clone), S_OK, "Clone");
            fetched = 0x55;
            ok_hr(IEnumVdsObject_Next(clone, 1, &objs[1], &fetched), S_OK, "Next(1) on the clone");
            ok(fetched == 1, "the clone fetches the provider");
            if (fetched == 1) IUnknown_Release(objs[1]);
            IEnumVdsObject_Release(clone);
            ok_null_out(IEnumVdsObject_Next(e, 1, objs, NULL), "Next(NULL pcFetched)");
        }
        if (cases[i].count && fetched) IUnknown_Release(objs[0]);
        IEnumVdsObject_Release(e);
    }
    return vdprov;
}

static void test_add_vdisk(IVdsVdProvider *prov)
{
    VIRTUAL_STORAGE_TYPE vhdx = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VIRTUAL_STORAGE_TYPE bad_dev = { 7, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    VIRTUAL_STORAGE_TYPE bad_vendor = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, { 1, 2, 3, { 4 } } };
    IVdsVDisk *a, *b = (void *)0xdeadbeef;
    IVdsDisk *disk = (void *)0xdeadbeef;
    IEnumVdsObject *e;
    WCHAR path[MAX_PATH];
    IUnknown *obj;
    ULONG fetched;
    HRESULT hr;

    if (!fixture(L"dyn.vhdx")) return;
    path_of(L"dyn.vhdx", path);
    ok_hr(IVdsVdProvider_AddVDisk(prov, &vhdx, (WCHAR *)L"dyn.vhdx", &b), VDS_E_VDISK_PATHNAME_INVALID, "AddVDisk(relative path)");
    ok(b == NULL, "AddVDisk clears the out-pointer on failure");
    ok_hr(IVdsVdProvider_AddVDisk(prov, &bad_dev, path, &b), E_INVALIDARG, "AddVDisk(device type 7)");
    ok_hr(IVdsVdProvider_AddVDisk(prov, &bad_vendor, path, &b), E_INVALIDARG, "AddVDisk(unknown vendor)");
    ok_null_out(IVdsVdProvider_AddVDisk(prov, &vhdx, NULL, &b), "AddVDisk(NULL path)");
    if (!(a = add_vdisk(prov, L"dyn.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX))) return;
    b = add_vdisk(prov, L"dyn.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    ok(a == b, "the same path gives the same VDisk object");
    if (b) IVdsVDisk_Release(b);
    hr = IVdsVdProvider_QueryVDisks(prov, &e);
    ok_hr(hr, S_OK, "QueryVDisks");
    if (hr == S_OK)
    {
        ok_hr(IEnumVdsObject_Next(e, 1, &obj, &fetched), S_OK, "QueryVDisks lists the added disk");
        if (fetched) IUnknown_Release(obj);
        IEnumVdsObject_Release(e);
    }
    ok_hr(IVdsVdProvider_GetDiskFromVDisk(prov, a, &disk), VDS_E_OBJECT_NOT_FOUND, "GetDiskFromVDisk");
    ok(disk == NULL, "GetDiskFromVDisk clears the out-pointer");
    b = (void *)0xdeadbeef;
    ok_hr(IVdsVdProvider_GetVDiskFromDisk(prov, (IVdsDisk *)&dummy, &b), VDS_E_OBJECT_NOT_FOUND, "GetVDiskFromDisk");
    ok(b == NULL, "GetVDiskFromDisk clears the out-pointer");
    IVdsVDisk_Release(a);
}

static void test_vdisk_basics(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open = (void *)0xdeadbeef, *second = (void *)0xdeadbeef;
    IVdsVolume *volume = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    WCHAR *name = (void *)0xdeadbeef, path[MAX_PATH];
    HRESULT hr;

    if (!fixture(L"dyn.vhdx")) return;
    vdisk = add_vdisk(prov, L"dyn.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    if (!vdisk) return;
    path_of(L"dyn.vhdx", path);
    memset(&props, 0x55, sizeof(props));
    hr = IVdsVDisk_GetProperties(vdisk, &props);
    ok_hr(hr, S_OK, "IVdsVDisk::GetProperties");
    if (hr == S_OK)
    {
        ok(props.State == VDS_VST_ADDED, "state %d is VDS_VST_ADDED", props.State);
        ok(props.VirtualDeviceType.DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, "device type VHDX");
        ok(props.VirtualSize == 64ull << 20, "virtual size %llu", (unsigned long long)props.VirtualSize);
        ok(props.PhysicalSize == file_size(path), "physical size is the file size");
        ok(props.pPath && !wcscmp(props.pPath, path), "pPath is the added path");
        ok(props.pDeviceName == NULL && props.pParentPath == NULL && !props.bIsChild, "no device, no parent");
        CoTaskMemFree(props.pPath);
    }
    ok_null_out(IVdsVDisk_GetProperties(vdisk, NULL), "IVdsVDisk::GetProperties(NULL)");
    ok_hr(IVdsVDisk_GetHostVolume(vdisk, &volume), VDS_E_OBJECT_NOT_FOUND, "GetHostVolume");
    ok(volume == NULL, "GetHostVolume clears the out-pointer");
    ok_hr(IVdsVDisk_GetDeviceName(vdisk, &name), S_OK, "GetDeviceName (not attached)");
    ok(name == NULL, "GetDeviceName gives NULL when no device is surfaced");

    ok_hr(IVdsVDisk_Open(vdisk, 0x1, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open), E_INVALIDARG, "Open(mask bit outside ALL)");
    ok_hr(IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 4, 1, &open), E_INVALIDARG, "Open(BOOT_DRIVE flag)");
    ok_null_out(IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, NULL), "Open(NULL out)");
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open);
    ok_hr(hr, S_OK, "Open(GET_INFO)");
    if (hr == S_OK)
    {
        IVdsAsync *async = (void *)0xdeadbeef;

        hr = IVdsVDisk_GetProperties(vdisk, &props);
        ok(hr == S_OK && props.State == VDS_VST_OPEN, "state %d is VDS_VST_OPEN", props.State);
        if (hr == S_OK) CoTaskMemFree(props.pPath);
        ok_hr(IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &second), VDS_E_VD_DISK_ALREADY_OPEN, "a second Open");
        ok(second == NULL, "a refused Open clears the out-pointer");
        /* What the OS decides is the task's result (MS-VDS §3.4.5.2.41.4). */
        hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
        ok_hr(hr, S_OK, "Compact without METAOPS access starts");
        if (hr == S_OK)
        {
            VDS_ASYNC_OUTPUT out;
            ok_hr(wait_task(async, &out), E_ACCESSDENIED, "... and its task fails with E_ACCESSDENIED");
            ok(output_zeroed(&out), "a failed task's VDS_ASYNC_OUTPUT is zeros");
            IVdsAsync_Release(async);
        }
        async = (void *)0xdeadbeef;
        ok_hr(IVdsOpenVDisk_Compact(open, 1, 0, &async), E_INVALIDARG, "Compact(flag 1) without METAOPS");
        ok(async == NULL, "a refused Compact clears the out-pointer");
        ok(refcount((IUnknown *)open) == 1, "the open handle has one reference");
        IVdsOpenVDisk_Release(open);
        hr = IVdsVDisk_GetProperties(vdisk, &props);
        ok(hr == S_OK && props.State == VDS_VST_ADDED, "back to VDS_VST_ADDED after release");
        if (hr == S_OK) CoTaskMemFree(props.pPath);
    }
    IVdsVDisk_Release(vdisk);
}

/* Compact NAME through the chain; poll QueryStatus; return the task result. */
static HRESULT compact(IVdsVdProvider *prov, const WCHAR *name, ULONG device, BOOL cancel, ULONGLONG *before, ULONGLONG *after)
{
    IVdsVDisk *vdisk = add_vdisk(prov, name, device);
    IVdsOpenVDisk *open;
    IVdsAsync *async = NULL;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr, task = E_FAIL;
    WCHAR path[MAX_PATH];
    ULONG pct, last = 0;
    BOOL monotonic = TRUE, pending_seen = FALSE;
    HANDLE hold;

    if (!vdisk) return E_FAIL;
    path_of(name, path);
    *before = file_size(path);
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open);
    ok_hr(hr, S_OK, "Open(ALL)");
    if (hr != S_OK) goto done;
    async = (void *)0xdeadbeef;
    ok_hr(IVdsOpenVDisk_Compact(open, 1, 0, &async), E_INVALIDARG, "Compact(flag 1)");
    ok(async == NULL, "Compact(flag 1) clears ppAsync");
    async = NULL;
    ok_null_out(IVdsOpenVDisk_Compact(open, 0, 0, NULL), "Compact(NULL ppAsync)");
    hold = cancel ? hold_jobs() : NULL;
    hr = IVdsOpenVDisk_Compact(open, COMPACT_VIRTUAL_DISK_FLAG_NONE, 0xdeadbeef /* Reserved: ignored */, &async);
    ok_hr(hr, S_OK, "Compact");
    if (hr != S_OK)
    {
        release_jobs(hold);
        goto done_open;
    }
    if (cancel)
    {
        /* Held running by the hook: the pending value for real, then a Cancel that works. */
        HRESULT status = 0x55;
        pct = 0x55;
        ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus of a held job");
        ok(status == VDS_E_OPERATION_PENDING && pct == 0, "a running job: status %#lx (0x80042409), percent %lu",
           (unsigned long)status, pct);
        ok_hr(IVdsAsync_Cancel(async), S_OK, "Cancel while running");
        ok_hr(IVdsAsync_Cancel(async), VDS_E_OPERATION_CANCELED, "a second Cancel: already cancelled");
        release_jobs(hold);
    }
    for (;;)
    {
        HRESULT status = 0x55;
        pct = 0x55;
        hr = IVdsAsync_QueryStatus(async, &status, &pct);
        if (hr != S_OK || status != VDS_E_OPERATION_PENDING) break;
        pending_seen = TRUE;
        if (pct < last || pct > 99) monotonic = FALSE;
        last = pct;
        Sleep(1);
    }
    ok(monotonic, "QueryStatus percent stays within 0-99 and never decreases while pending%s",
       pending_seen ? "" : " (finished before the first poll)");
    ok_null_out(IVdsAsync_QueryStatus(async, NULL, &pct), "QueryStatus(NULL)");
    memset(&out, 0x55, sizeof(out));
    hr = IVdsAsync_Wait(async, &task, &out);
    ok_hr(hr, S_OK, "Wait");
    if (task == S_OK)
        ok(out.type == VDS_ASYNCOUT_COMPACT_VDISK, "VDS_ASYNC_OUTPUT.type %d is 202", out.type);
    else
        ok(output_zeroed(&out), "VDS_ASYNC_OUTPUT is zeros on failure (no pointer to release)");
    {
        HRESULT again = 0x55, status = 0x55;
        ok_hr(IVdsAsync_Wait(async, &again, &out), S_OK, "a second Wait");
        ok(again == task, "a second Wait gives the same result %#lx", (unsigned long)again);
        ok_hr(IVdsAsync_QueryStatus(async, &status, &pct), S_OK, "QueryStatus after completion");
        ok(status == task && pct == (task == S_OK ? 100u : 0u), "final status %#lx, percent %lu",
           (unsigned long)status, pct);
        /* After a Cancel that worked: "already been canceled"; else too late. */
        ok_hr(IVdsAsync_Cancel(async), task == VDS_E_OPERATION_CANCELED ? VDS_E_OPERATION_CANCELED
                                                                         : VDS_E_CANCEL_TOO_LATE,
              "Cancel after completion");
    }
    ok_null_out(IVdsAsync_Wait(async, NULL, &out), "Wait(NULL)");
    IVdsAsync_Release(async);
done_open:
    IVdsOpenVDisk_Release(open);
done:
    IVdsVDisk_Release(vdisk);
    *after = file_size(path);
    return task;
}

static void test_compactions(IVdsVdProvider *prov)
{
    ULONGLONG before, after;
    HRESULT task;

    if (!fixture(L"dyn.vhdx") || !fixture(L"dyn.vhd") || !fixture(L"fixed.vhd") || !fixture(L"cancel.vhdx")) return;
    task = compact(prov, L"dyn.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, FALSE, &before, &after);
    ok_hr(task, S_OK, "compaction of dyn.vhdx");
    ok(after < before, "dyn.vhdx shrank: %llu -> %llu", before, after);
    task = compact(prov, L"dyn.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, FALSE, &before, &after);
    ok_hr(task, S_OK, "compaction of dyn.vhd");
    ok(after < before, "dyn.vhd shrank: %llu -> %llu", before, after);
    task = compact(prov, L"fixed.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD, FALSE, &before, &after);
    ok_hr(task, ERROR_VHD_INVALID_TYPE_HR, "compaction of a fixed disk");
    ok(after == before, "the fixed disk is untouched");
    task = compact(prov, L"cancel.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, TRUE, &before, &after);
    ok_hr(task, VDS_E_OPERATION_CANCELED, "a cancelled compaction's result");
}

static void test_attach_states(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async = (void *)0xdeadbeef;
    VDS_ASYNC_OUTPUT out;
    HRESULT hr;

    if (!fixture(L"attach.vhdx")) return;
    if (!(open = open_disk(prov, L"attach.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_PERMANENT_LIFETIME, 0, 0, &async), E_INVALIDARG,
          "Attach(PERMANENT_LIFETIME)");
    ok(async == NULL, "a refused Attach clears ppAsync");
    ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), VDS_E_VD_ALREADY_DETACHED, "Detach while detached");
    ok_hr(attach(open, TRUE), S_OK, "the read-only attach");
    ok(vdisk_state(vdisk) == VDS_VST_ATTACHED, "state is VDS_VST_ATTACHED");
    ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async), VDS_E_VD_ALREADY_ATTACHED,
          "a second Attach");
    /* Attached read-only: the maximum-reclaim mode is allowed. */
    hr = IVdsOpenVDisk_Compact(open, 0, 0, &async);
    ok_hr(hr, S_OK, "Compact while attached read-only");
    if (hr == S_OK)
    {
        ok_hr(wait_task(async, &out), S_OK, "compaction while attached read-only");
        IVdsAsync_Release(async);
    }
    ok_hr(IVdsOpenVDisk_Detach(open, 1, 0), E_INVALIDARG, "Detach(flag 1)");
    ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach");
    ok_hr(attach(open, FALSE), S_OK, "the read-write attach");
    async = (void *)0xdeadbeef;
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &async), VDS_E_VD_NOT_ATTACHED_READONLY, "Compact while attached read-write");
    ok(async == NULL, "a refused Compact clears the out-pointer");
    ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach again");
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}

/* Every client reference released mid-run: the job finishes and lets go. */
static void test_release_during_run(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open;
    IVdsAsync *async;
    WCHAR path[MAX_PATH];
    ULONGLONG before;
    HRESULT hr = E_FAIL;
    int i;

    if (!fixture(L"orphan.vhdx")) return;
    vdisk = add_vdisk(prov, L"orphan.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX);
    if (!vdisk) return;
    path_of(L"orphan.vhdx", path);
    before = file_size(path);
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &open);
    ok_hr(hr, S_OK, "Open(ALL) of orphan.vhdx");
    if (hr == S_OK)
    {
        ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &async), S_OK, "Compact, then release everything");
        IVdsAsync_Release(async);
        IVdsOpenVDisk_Release(open);
    }
    /* The job holds the disk open until it is done: a new Open succeeds after. */
    for (i = 0; i < 3000; i++)
    {
        if ((hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_GET_INFO, 0, 1, &open)) == S_OK) break;
        Sleep(10);
    }
    ok_hr(hr, S_OK, "the disk reopens once the orphaned job is done");
    if (hr == S_OK) IVdsOpenVDisk_Release(open);
    ok(file_size(path) < before, "the orphaned compaction finished: %llu -> %llu", before, file_size(path));
    IVdsVDisk_Release(vdisk);
}

/*
 * Strings through the proxy/stub DLL: a local IVdsVDisk whose GetDeviceName
 * and GetProperties return real strings, used from another apartment, so
 * every call crosses vdsshim_ps.dll's -Oif proxy. widl mis-marshals [out]
 * LPWSTR* (the caller gets NULL with S_OK) unless the build repaired it.
 */
static HRESULT WINAPI stub_QueryInterface(IVdsVDisk *iface, REFIID riid, void **out)
{
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsVDisk))
    {
        *out = iface;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}
static ULONG WINAPI stub_AddRef(IVdsVDisk *iface) { (void)iface; return 2; }
static ULONG WINAPI stub_Release(IVdsVDisk *iface) { (void)iface; return 1; }
static HRESULT WINAPI stub_Open(IVdsVDisk *iface, VIRTUAL_DISK_ACCESS_MASK a, OPEN_VIRTUAL_DISK_FLAG f, ULONG d,
                                IVdsOpenVDisk **out)
{
    (void)iface; (void)a; (void)f; (void)d;
    *out = NULL;
    return E_NOTIMPL;
}
static WCHAR *co_dup(const WCHAR *s)
{
    WCHAR *d = CoTaskMemAlloc((wcslen(s) + 1) * sizeof(WCHAR));
    if (d) wcscpy(d, s);
    return d;
}
static HRESULT WINAPI stub_GetProperties(IVdsVDisk *iface, VDS_VDISK_PROPERTIES *p)
{
    (void)iface;
    memset(p, 0, sizeof(*p));
    p->State = VDS_VST_ATTACHED;
    p->VirtualSize = 12345678;
    p->pPath = co_dup(L"C:\\disks\\child.vhdx");
    p->pDeviceName = co_dup(L"\\\\.\\PhysicalDrive7");
    p->pParentPath = co_dup(L"C:\\disks\\parent.vhdx");
    p->bIsChild = TRUE;
    return S_OK;
}
static HRESULT WINAPI stub_GetHostVolume(IVdsVDisk *iface, IVdsVolume **v)
{
    (void)iface;
    *v = NULL;
    return VDS_E_OBJECT_NOT_FOUND;
}
static HRESULT WINAPI stub_GetDeviceName(IVdsVDisk *iface, LPWSTR *name)
{
    (void)iface;
    *name = co_dup(L"\\\\.\\PhysicalDrive7");
    return S_OK;
}
static const IVdsVDiskVtbl stub_vtbl =
{
    stub_QueryInterface, stub_AddRef, stub_Release,
    stub_Open, stub_GetProperties, stub_GetHostVolume, stub_GetDeviceName,
};
static IVdsVDisk stub_vdisk = { (IVdsVDiskVtbl *)&stub_vtbl };

struct sta_server
{
    IStream *stream;
    HANDLE ready;
    DWORD thread_id;
};

static DWORD WINAPI sta_thread(void *arg)
{
    struct sta_server *srv = arg;
    MSG msg;

    CoInitializeEx(NULL, COINIT_APARTMENTTHREADED);
    CoMarshalInterThreadInterfaceInStream(&IID_IVdsVDisk, (IUnknown *)&stub_vdisk, &srv->stream);
    PeekMessageW(&msg, NULL, 0, 0, PM_NOREMOVE);
    SetEvent(srv->ready);
    while (GetMessageW(&msg, NULL, 0, 0)) DispatchMessageW(&msg);     /* serve calls until WM_QUIT */
    CoUninitialize();
    return 0;
}

static void test_proxy_strings(void)
{
    struct sta_server srv = { 0 };
    VDS_VDISK_PROPERTIES props;
    IVdsVDisk *proxy = NULL;
    WCHAR *name = (void *)0xdeadbeef;
    HANDLE thread;
    HRESULT hr;

    srv.ready = CreateEventW(NULL, TRUE, FALSE, NULL);
    thread = CreateThread(NULL, 0, sta_thread, &srv, 0, &srv.thread_id);
    WaitForSingleObject(srv.ready, INFINITE);
    hr = CoGetInterfaceAndReleaseStream(srv.stream, &IID_IVdsVDisk, (void **)&proxy);
    ok_hr(hr, S_OK, "unmarshal an IVdsVDisk from another apartment (vdsshim_ps.dll)");
    if (hr == S_OK)
    {
        ok(proxy != &stub_vdisk, "the call goes through a proxy");
        hr = IVdsVDisk_GetDeviceName(proxy, &name);
        ok_hr(hr, S_OK, "GetDeviceName through the proxy");
        ok(name && !wcscmp(name, L"\\\\.\\PhysicalDrive7"), "[out] LPWSTR* arrives through the proxy: %ls",
           name ? name : L"(NULL: widl's -Oif bug is back)");
        CoTaskMemFree(name);
        memset(&props, 0x55, sizeof(props));
        hr = IVdsVDisk_GetProperties(proxy, &props);
        ok_hr(hr, S_OK, "GetProperties through the proxy");
        ok(props.VirtualSize == 12345678 && props.State == VDS_VST_ATTACHED && props.bIsChild,
           "VDS_VDISK_PROPERTIES fields arrive");
        ok(props.pPath && !wcscmp(props.pPath, L"C:\\disks\\child.vhdx") && props.pParentPath
           && !wcscmp(props.pParentPath, L"C:\\disks\\parent.vhdx") && props.pDeviceName
           && !wcscmp(props.pDeviceName, L"\\\\.\\PhysicalDrive7"), "its strings arrive, for the caller to free");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pDeviceName);
        CoTaskMemFree(props.pParentPath);
        ok_hr(IVdsVDisk_GetHostVolume(proxy, (IVdsVolume **)&name), VDS_E_OBJECT_NOT_FOUND,
              "a custom HRESULT arrives unchanged");
        IVdsVDisk_Release(proxy);
    }
    PostThreadMessageW(srv.thread_id, WM_QUIT, 0, 0);
    WaitForSingleObject(thread, INFINITE);
    CloseHandle(thread);
    CloseHandle(srv.ready);
}

/* A differencing disk whose parent is missing: properties from the file, Open refused. */
static void test_differencing(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    IVdsOpenVDisk *open = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    WCHAR path[MAX_PATH];
    HRESULT hr;

    path_of(L"orphan-child.vhd", path);
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES)
    {
        printf("# skipped: no orphan-child.vhd (the shared images are not there)\n");
        return;
    }
    if (!(vdisk = add_vdisk(prov, L"orphan-child.vhd", VIRTUAL_STORAGE_TYPE_DEVICE_VHD))) return;
    memset(&props, 0x55, sizeof(props));
    hr = IVdsVDisk_GetProperties(vdisk, &props);
    ok_hr(hr, S_OK, "GetProperties of a differencing disk whose parent is missing");
    if (hr == S_OK)
    {
        size_t n = props.pParentPath ? wcslen(props.pParentPath) : 0;
        ok(props.bIsChild == TRUE, "bIsChild is TRUE");
        ok(n > 14 && !_wcsicmp(props.pParentPath + n - 14, L"fat-parent.vhd"), "pParentPath %ls names the parent",
           props.pParentPath ? props.pParentPath : L"(null)");
        ok(props.VirtualSize == 4ull << 20, "the child's virtual size");
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
    }
    hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open);
    ok_hr(hr, ERROR_VHD_PARENT_NOT_FOUND_HR, "Open of a child without its parent");
    ok(open == NULL, "a refused Open clears the out-pointer");
    IVdsVDisk_Release(vdisk);
}

struct hammer
{
    IVdsAsync *async;
    int what;               /* 0 Wait, 1 QueryStatus until done, 2 Cancel */
    HRESULT hr, task;
    BOOL sane;
};

static DWORD WINAPI hammer_thread(void *arg)
{
    struct hammer *h = arg;
    VDS_ASYNC_OUTPUT out;
    ULONG pct, last = 0;
    HRESULT status;

    h->sane = TRUE;
    switch (h->what)
    {
    case 0:
        h->hr = IVdsAsync_Wait(h->async, &h->task, &out);
        break;
    case 1:
        do
        {
            h->hr = IVdsAsync_QueryStatus(h->async, &status, &pct);
            if (h->hr != S_OK || (status == VDS_E_OPERATION_PENDING && (pct < last || pct > 99))) h->sane = FALSE;
            last = pct;
        } while (status == VDS_E_OPERATION_PENDING);
        h->task = status;
        break;
    default:
        Sleep(5);
        h->hr = IVdsAsync_Cancel(h->async);
        /* The first Cancel cancels (S_OK) or comes too late; a later one says
         * "already cancelled" or too late. */
        h->sane = h->hr == S_OK || h->hr == VDS_E_CANCEL_TOO_LATE || h->hr == VDS_E_OPERATION_CANCELED;
        break;
    }
    return 0;
}

/* Wait, QueryStatus and Cancel from several threads at once; a second Compact refused. */
static void test_async_concurrency(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk;
    struct hammer h[6];
    HANDLE threads[6];
    IVdsOpenVDisk *open;
    IVdsAsync *async, *second = (void *)0xdeadbeef;
    int i;

    if (!fixture(L"busy.vhdx")) return;
    if (!(open = open_disk(prov, L"busy.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &async), S_OK, "Compact of busy.vhdx");
    ok_hr(IVdsOpenVDisk_Compact(open, 0, 0, &second), VDS_E_VD_ALREADY_COMPACTING, "a second Compact while one runs");
    ok(second == NULL, "the refused Compact clears the out-pointer");
    for (i = 0; i < 6; i++)
    {
        h[i].async = async;
        h[i].what = i % 3;
        threads[i] = CreateThread(NULL, 0, hammer_thread, &h[i], 0, NULL);
    }
    ok(WaitForMultipleObjects(6, threads, TRUE, 60000) == WAIT_OBJECT_0, "six threads on one IVdsAsync all return");
    for (i = 0; i < 6; i++)
    {
        CloseHandle(threads[i]);
        ok(h[i].sane, "thread %d (%s) saw sane results", i, h[i].what == 0 ? "Wait" : h[i].what == 1 ? "QueryStatus" : "Cancel");
    }
    ok(h[0].hr == S_OK && h[0].task == h[3].task && h[1].task == h[0].task,
       "every thread saw the same final result %#lx", (unsigned long)h[0].task);
    ok(h[0].task == S_OK || h[0].task == VDS_E_OPERATION_CANCELED, "the result is success or cancelled");
    ok((h[2].hr == S_OK) + (h[5].hr == S_OK) == (h[0].task == VDS_E_OPERATION_CANCELED),
       "one Cancel succeeded exactly when the task was cancelled (%#lx, %#lx)", (unsigned long)h[2].hr,
       (unsigned long)h[5].hr);
    IVdsAsync_Release(async);
    IVdsOpenVDisk_Release(open);
    IVdsVDisk_Release(vdisk);
}

/* DllCanUnloadNow counts live objects and running jobs. Only where the DLL is
 * loaded in this process (in-proc activation); skipped otherwise. */
static void test_can_unload(BOOL objects_alive)
{
    HMODULE dll = GetModuleHandleW(L"vdsshim.dll");
    HRESULT (WINAPI *can_unload)(void);

    if (!dll || !(can_unload = (void *)GetProcAddress(dll, "DllCanUnloadNow")))
    {
        printf("# skipped: vdsshim.dll is not loaded in this process\n");
        return;
    }
    if (objects_alive)
        ok_hr(can_unload(), S_FALSE, "DllCanUnloadNow with objects alive");
    else
    {
        /* A job's worker lets go of its IVdsAsync just after signalling it, so
         * the DLL is rightly in use for a moment after the client's last
         * release; it must not stay in use. */
        HRESULT hr;
        unsigned ms = 0;

        while ((hr = can_unload()) == S_FALSE && ms < 10000)
        {
            Sleep(10);
            ms += 10;
        }
        ok_hr(hr, S_OK, "DllCanUnloadNow once the last release and the workers are done");
    }
}

/* The suite's tests, by the name the command line gives; the chain walk
 * (the loader, the service and its providers) is every test's setup. */
static const struct
{
    const char *name;
    void (*run)(IVdsVdProvider *prov);
} tests[] = {
    { "add_vdisk", test_add_vdisk },
    { "vdisk_basics", test_vdisk_basics },
    { "compactions", test_compactions },
    { "attach_states", test_attach_states },
    { "attachment_lifetime", test_attachment_lifetime },
    { "fs_aware_compact", test_fs_aware_compact },
    { "file_closed_after_wait", test_file_closed_after_wait },
    { "release_during_run", test_release_during_run },
    { "differencing", test_differencing },
    { "create_vdisk", test_create_vdisk },
    { "expand", test_expand },
    { "merge", test_merge },
    { "detach_and_delete", test_detach_and_delete },
    { "busy_states", test_busy_states },
    { "cancel_rules", test_cancel_rules },
    { "compact_child", test_compact_child },
    { "atomic_state", test_atomic_state },
    { "atomic_open_attach", test_atomic_open_attach },
    { "async_concurrency", test_async_concurrency },
};
#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))

int wmain(int argc, WCHAR **argv)
{
    const char *names[NTESTS];
    IVdsService *service;
    IVdsVdProvider *prov;
    WCHAR **chosen;
    int i, count;

    for (i = 0; i < NTESTS; i++) names[i] = tests[i].name;
    if (argc > 2 && !wcscmp(argv[2], L"local")) clsctx = CLSCTX_LOCAL_SERVER;
    chosen = argv + (argc > 2 && (!wcscmp(argv[2], L"local") || !wcscmp(argv[2], L"inproc")) ? 3 : 2);
    count = argc - (int)(chosen - argv);
    if (argc < 2 || count < 0 || !tap_names_known(names, NTESTS, chosen, count))
    {
        fprintf(stderr, "usage: conformance.exe DIR [inproc|local] [TEST...]\n");
        return 2;
    }
    fixture_dir = dir = argv[1];
    printf("# activation: %s\n", clsctx == CLSCTX_LOCAL_SERVER ? "CLSCTX_LOCAL_SERVER (the shared server)" : "CLSCTX_INPROC_SERVER");
    /* The provider's job-holding hook (async.c): in process it reads this
     * environment; a server started by ole32 inherits it. */
    SetEnvironmentVariableW(L"VDSSHIM_TEST_HOOKS", L"1");
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    test_proxy_strings();
    if ((service = load_service()))
    {
        test_service(service);
        if ((prov = test_providers(service)))
        {
            for (i = 0; i < NTESTS; i++)
                if (tap_selected(tests[i].name, chosen, count)) tests[i].run(prov);
            IVdsVdProvider_Release(prov);
        }
        ok(refcount((IUnknown *)service) == 1, "the service holds one reference at the end");
        IVdsServiceLoader_Release(loader);
        test_can_unload(TRUE);
        IVdsService_Release(service);
        test_can_unload(FALSE);
    }
    CoUninitialize();
    return tap_finish();
}
