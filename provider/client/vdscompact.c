/*
 * vdscompact: compact a virtual disk through the VDS COM chain, as diskpart's
 * "compact vdisk" would: CoCreateInstance(CLSID_VdsLoader) -> LoadService ->
 * QueryProviders(virtual disk) -> AddVDisk -> Open -> [Attach read-only] ->
 * Compact -> progress from IVdsAsync::QueryStatus -> Wait.
 * Like real VDS clients it asks for CLSCTX_LOCAL_SERVER: the provider runs in
 * the prefix's shared server (vdsshim_server.exe). --inproc loads vdsshim.dll into this process.
 *   vdscompact [--attach-ro] [--inproc] DISK
 */
#define COBJMACROS
#include <windows.h>
#include <stdio.h>

#include "vdsshim_vds.h"

#define VDS_E_OPERATION_PENDING ((HRESULT)0x80042409)

static int usage(void)
{
    fprintf(stderr, "usage: vdscompact [--attach-ro] [--inproc] DISK\n"
                    "  --attach-ro   attach the disk read-only first (the maximum-reclaim mode)\n"
                    "  --inproc      load the provider into this process (CLSCTX_INPROC_SERVER)\n"
                    "                instead of the shared server (CLSCTX_LOCAL_SERVER)\n");
    return 2;
}

static int fail(const char *what, HRESULT hr)
{
    fprintf(stderr, "vdscompact: %s failed: %#010lx\n", what, (unsigned long)hr);
    return 1;
}

static IVdsVdProvider *find_provider(IVdsService *service)
{
    IVdsVdProvider *prov = NULL;
    IEnumVdsObject *e;
    IUnknown *unk;
    ULONG n = 0;

    if (FAILED(IVdsService_QueryProviders(service, VDS_QUERY_VIRTUALDISK_PROVIDERS, &e))) return NULL;
    if (IEnumVdsObject_Next(e, 1, &unk, &n) == S_OK && n == 1)
    {
        IUnknown_QueryInterface(unk, &IID_IVdsVdProvider, (void **)&prov);
        IUnknown_Release(unk);
    }
    IEnumVdsObject_Release(e);
    return prov;
}

static HRESULT wait_with_progress(IVdsAsync *async, const char *what)
{
    VDS_ASYNC_OUTPUT out;
    HRESULT status, task = E_FAIL;
    ULONG pct, shown = ~0u;

    for (;;)
    {
        if (FAILED(IVdsAsync_QueryStatus(async, &status, &pct)) || status != VDS_E_OPERATION_PENDING) break;
        if (pct != shown) printf("\r%s: %3lu%%", what, shown = pct);
        fflush(stdout);
        Sleep(100);
    }
    IVdsAsync_Wait(async, &task, &out);
    if (SUCCEEDED(task)) printf("\r%s: 100%%\n", what);
    else printf("\n");
    return task;
}

int wmain(int argc, WCHAR **argv)
{
    DWORD clsctx = CLSCTX_LOCAL_SERVER;
    VIRTUAL_STORAGE_TYPE type = { VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    IVdsServiceLoader *loader = NULL;
    IVdsService *service = NULL;
    IVdsVdProvider *prov = NULL;
    IVdsVDisk *vdisk = NULL;
    IVdsOpenVDisk *open = NULL;
    IVdsAsync *async = NULL;
    VDS_VDISK_PROPERTIES props;
    const WCHAR *disk = NULL;
    WCHAR path[MAX_PATH];
    ULONGLONG before = 0, after = 0;
    BOOL attach = FALSE;
    HRESULT hr;
    int i, rc = 1;

    for (i = 1; i < argc; i++)
    {
        if (!wcscmp(argv[i], L"--attach-ro")) attach = TRUE;
        else if (!wcscmp(argv[i], L"--inproc")) clsctx = CLSCTX_INPROC_SERVER;
        else if (argv[i][0] == '-' || disk) return usage();
        else disk = argv[i];
    }
    if (!disk || !GetFullPathNameW(disk, MAX_PATH, path, NULL)) return usage();

    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    /* What VDS clients must do first (vds-reference.md §6). */
    CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_CONNECT, RPC_C_IMP_LEVEL_IMPERSONATE, NULL, 0, NULL);
    if (FAILED(hr = CoCreateInstance(&CLSID_VdsLoader, NULL, clsctx, &IID_IVdsServiceLoader, (void **)&loader)))
    {
        rc = fail("CoCreateInstance(CLSID_VdsLoader)", hr);
        goto done;
    }
    if (FAILED(hr = IVdsServiceLoader_LoadService(loader, NULL, &service))) { rc = fail("LoadService", hr); goto done; }
    if (FAILED(hr = IVdsService_WaitForServiceReady(service))) { rc = fail("WaitForServiceReady", hr); goto done; }
    if (!(prov = find_provider(service))) { rc = fail("QueryProviders(VDS_QUERY_VIRTUALDISK_PROVIDERS)", E_FAIL); goto done; }
    if (FAILED(hr = IVdsVdProvider_AddVDisk(prov, &type, path, &vdisk))) { rc = fail("AddVDisk", hr); goto done; }
    if (FAILED(hr = IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, OPEN_VIRTUAL_DISK_FLAG_NONE, 1, &open)))
    {
        rc = fail("IVdsVDisk::Open", hr);
        goto done;
    }
    if (SUCCEEDED(IVdsVDisk_GetProperties(vdisk, &props)))
    {
        before = props.PhysicalSize;
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
    }
    if (attach)
    {
        if (FAILED(hr = IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async)))
        {
            rc = fail("Attach", hr);
            goto done;
        }
        hr = wait_with_progress(async, "attaching read-only");
        IVdsAsync_Release(async);
        async = NULL;
        if (FAILED(hr)) { rc = fail("Attach (task)", hr); goto done; }
    }
    if (FAILED(hr = IVdsOpenVDisk_Compact(open, COMPACT_VIRTUAL_DISK_FLAG_NONE, 0, &async)))
    {
        rc = fail("Compact", hr);
        goto done;
    }
    if (FAILED(hr = wait_with_progress(async, "compacting"))) { rc = fail("Compact (task)", hr); goto done; }
    if (attach) IVdsOpenVDisk_Detach(open, DETACH_VIRTUAL_DISK_FLAG_NONE, 0);
    if (SUCCEEDED(IVdsVDisk_GetProperties(vdisk, &props)))
    {
        after = props.PhysicalSize;
        CoTaskMemFree(props.pPath);
        CoTaskMemFree(props.pParentPath);
    }
    printf("%ls: %llu -> %llu bytes, %llu reclaimed\n", path, before, after, before - after);
    rc = 0;
done:
    if (async) IVdsAsync_Release(async);
    if (open) IVdsOpenVDisk_Release(open);
    if (vdisk) IVdsVDisk_Release(vdisk);
    if (prov) IVdsVdProvider_Release(prov);
    if (service) IVdsService_Release(service);
    if (loader) IVdsServiceLoader_Release(loader);
    CoUninitialize();
    return rc;
}
