/*
 * A VDS client written the SDK way: <initguid.h>, then <vds.h> (vdsshim's,
 * from idl/, installed as include/vdsshim-sdk/vds.h), built with -Werror. It
 * uses the names client code uses (the software provider's packs, disks,
 * partitions, volumes, plexes and their property structures, a notification
 * sink) and runs the chain against the registered provider:
 *   sdk_client.exe DIR [inproc|local]    (DIR holds dyn.vhdx; exit 0: all good)
 * Each check prints TAP and the closing "N passed, N failed".
 */
#define COBJMACROS
#include <windows.h>
#include <initguid.h>
#include <vds.h>
#include <stdio.h>

static int passed, failed;

static void ok(int cond, const char *what, HRESULT hr)
{
    if (cond) passed++;
    else failed++;
    printf("%s %d - %s (0x%08lx)\n", cond ? "ok" : "not ok", passed + failed, what, (unsigned long)hr);
}

/* What a disk browser does with every software provider (the shim has none). */
static void walk_software_provider(IUnknown *unk)
{
    IVdsSwProvider *sw;
    IEnumVdsObject *packs;
    IUnknown *obj;
    ULONG n;

    if (FAILED(IUnknown_QueryInterface(unk, &IID_IVdsSwProvider, (void **)&sw))) return;
    if (SUCCEEDED(IVdsSwProvider_QueryPacks(sw, &packs)))
    {
        while (IEnumVdsObject_Next(packs, 1, &obj, &n) == S_OK)
        {
            IVdsPack *pack;
            VDS_PACK_PROP pp;
            IEnumVdsObject *disks;

            if (SUCCEEDED(IUnknown_QueryInterface(obj, &IID_IVdsPack, (void **)&pack)))
            {
                if (SUCCEEDED(IVdsPack_GetProperties(pack, &pp))) CoTaskMemFree(pp.pwszName);
                if (SUCCEEDED(IVdsPack_QueryDisks(pack, &disks)))
                {
                    IUnknown *d;
                    while (IEnumVdsObject_Next(disks, 1, &d, &n) == S_OK)
                    {
                        IVdsDisk *disk;
                        IVdsAdvancedDisk *adv;
                        VDS_DISK_PROP dp;
                        VDS_PARTITION_PROP *parts;
                        LONG count;

                        if (SUCCEEDED(IUnknown_QueryInterface(d, &IID_IVdsDisk, (void **)&disk)))
                        {
                            if (SUCCEEDED(IVdsDisk_GetProperties(disk, &dp)) && dp.PartitionStyle == VDS_PST_GPT)
                                printf("# disk %lx\n", dp.DiskGuid.Data1);
                            IVdsDisk_Release(disk);
                        }
                        if (SUCCEEDED(IUnknown_QueryInterface(d, &IID_IVdsAdvancedDisk, (void **)&adv)))
                        {
                            if (SUCCEEDED(IVdsAdvancedDisk_QueryPartitions(adv, &parts, &count)))
                            {
                                if (count && parts[0].PartitionStyle == VDS_PST_MBR)
                                    printf("# type %02x\n", parts[0].Mbr.partitionType);
                                CoTaskMemFree(parts);
                            }
                            IVdsAdvancedDisk_Release(adv);
                        }
                        IUnknown_Release(d);
                    }
                    IEnumVdsObject_Release(disks);
                }
                IVdsPack_Release(pack);
            }
            IUnknown_Release(obj);
        }
        IEnumVdsObject_Release(packs);
    }
    IVdsSwProvider_Release(sw);
}

/* Volumes, their file systems and plexes: the calls a volume lister makes. */
static void list_volume(IVdsVolume *volume)
{
    VDS_VOLUME_PROP vp;
    IVdsVolumeMF *mf;
    IEnumVdsObject *plexes;
    VDS_FILE_SYSTEM_PROP fs;
    LPWSTR *paths;
    LONG npaths, i;

    if (SUCCEEDED(IVdsVolume_GetProperties(volume, &vp))) CoTaskMemFree(vp.pwszName);
    if (SUCCEEDED(IVdsVolume_QueryInterface(volume, &IID_IVdsVolumeMF, (void **)&mf)))
    {
        if (SUCCEEDED(IVdsVolumeMF_GetFileSystemProperties(mf, &fs))) CoTaskMemFree(fs.pwszLabel);
        if (SUCCEEDED(IVdsVolumeMF_QueryAccessPaths(mf, &paths, &npaths)))
        {
            for (i = 0; i < npaths; i++) CoTaskMemFree(paths[i]);
            CoTaskMemFree(paths);
        }
        IVdsVolumeMF_Release(mf);
    }
    if (SUCCEEDED(IVdsVolume_QueryPlexes(volume, &plexes)))
    {
        IUnknown *p;
        ULONG n;
        while (IEnumVdsObject_Next(plexes, 1, &p, &n) == S_OK)
        {
            IVdsVolumePlex *plex;
            VDS_DISK_EXTENT *extents;
            LONG nextents;

            if (SUCCEEDED(IUnknown_QueryInterface(p, &IID_IVdsVolumePlex, (void **)&plex)))
            {
                if (SUCCEEDED(IVdsVolumePlex_QueryExtents(plex, &extents, &nextents))) CoTaskMemFree(extents);
                IVdsVolumePlex_Release(plex);
            }
            IUnknown_Release(p);
        }
        IEnumVdsObject_Release(plexes);
    }
}

/* An advise sink as clients write one: OnNotify reads the union by type. */
static HRESULT WINAPI sink_QueryInterface(IVdsAdviseSink *iface, REFIID riid, void **out)
{
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IVdsAdviseSink))
    {
        *out = iface;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}
static ULONG WINAPI sink_AddRef(IVdsAdviseSink *iface) { (void)iface; return 2; }
static ULONG WINAPI sink_Release(IVdsAdviseSink *iface) { (void)iface; return 1; }
static HRESULT WINAPI sink_OnNotify(IVdsAdviseSink *iface, LONG count, VDS_NOTIFICATION *array)
{
    LONG i;

    (void)iface;
    for (i = 0; i < count; i++)
        if (array[i].objectType == VDS_NTT_VOLUME && array[i].Volume.ulEvent == VDS_NF_VOLUME_ARRIVE)
            printf("# volume arrived\n");
    return S_OK;
}
static const IVdsAdviseSinkVtbl sink_vtbl = { sink_QueryInterface, sink_AddRef, sink_Release, sink_OnNotify };
static IVdsAdviseSink sink = { (IVdsAdviseSinkVtbl *)&sink_vtbl };

int wmain(int argc, WCHAR **argv)
{
    VIRTUAL_STORAGE_TYPE vhdx = { VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    DWORD clsctx = argc > 2 && !wcscmp(argv[2], L"local") ? CLSCTX_LOCAL_SERVER : CLSCTX_INPROC_SERVER;
    IVdsServiceLoader *loader = NULL;
    IVdsService *service = NULL;
    IEnumVdsObject *providers = NULL;
    IVdsVdProvider *vdprov = NULL;
    IVdsVDisk *vdisk = NULL;
    VDS_VDISK_PROPERTIES props;
    IUnknown *obj;
    WCHAR path[MAX_PATH];
    DWORD cookie = 0;
    ULONG n;
    HRESULT hr;

    if (argc < 2) return 2;
    swprintf(path, MAX_PATH, L"%ls\\dyn.vhdx", argv[1]);
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    hr = CoCreateInstance(&CLSID_VdsLoader, NULL, clsctx, &IID_IVdsServiceLoader, (void **)&loader);
    ok(hr == S_OK, "CoCreateInstance(CLSID_VdsLoader) with the IIDs <initguid.h> defined", hr);
    if (hr == S_OK)
    {
        hr = IVdsServiceLoader_LoadService(loader, NULL, &service);
        ok(hr == S_OK, "LoadService", hr);
    }
    if (service)
    {
        hr = IVdsService_WaitForServiceReady(service);
        ok(hr == S_OK, "WaitForServiceReady", hr);
        hr = IVdsService_Advise(service, &sink, &cookie);
        ok(hr == (HRESULT)0x80042400, "Advise: VDS_E_NOT_SUPPORTED (no notifications behind the shim)", hr);
        hr = IVdsService_QueryProviders(service, VDS_QUERY_SOFTWARE_PROVIDERS | VDS_QUERY_VIRTUALDISK_PROVIDERS,
                                        &providers);
        ok(hr == S_OK, "QueryProviders(software | virtual disk)", hr);
    }
    if (providers)
    {
        while (IEnumVdsObject_Next(providers, 1, &obj, &n) == S_OK)
        {
            walk_software_provider(obj);
            if (!vdprov) IUnknown_QueryInterface(obj, &IID_IVdsVdProvider, (void **)&vdprov);
            IUnknown_Release(obj);
        }
        IEnumVdsObject_Release(providers);
        ok(vdprov != NULL, "the virtual disk provider is listed", S_OK);
    }
    if (vdprov)
    {
        IVdsVolume *volume = NULL;

        hr = IVdsVdProvider_AddVDisk(vdprov, &vhdx, path, &vdisk);
        ok(hr == S_OK, "AddVDisk(dyn.vhdx)", hr);
        if (vdisk)
        {
            memset(&props, 0, sizeof(props));
            hr = IVdsVDisk_GetProperties(vdisk, &props);
            ok(hr == S_OK && props.State == VDS_VST_ADDED && props.VirtualDeviceType.DeviceId == VIRTUAL_STORAGE_TYPE_DEVICE_VHDX,
               "GetProperties: ADDED, a VHDX", hr);
            CoTaskMemFree(props.pPath);
            hr = IVdsVDisk_GetHostVolume(vdisk, &volume);
            ok(hr == (HRESULT)0x80042405 && !volume, "GetHostVolume: VDS_E_OBJECT_NOT_FOUND", hr);
            if (volume)
            {
                list_volume(volume);
                IVdsVolume_Release(volume);
            }
            IVdsVDisk_Release(vdisk);
        }
        IVdsVdProvider_Release(vdprov);
    }
    if (service) IVdsService_Release(service);
    if (loader) IVdsServiceLoader_Release(loader);
    CoUninitialize();
    printf("1..%d\n%d passed, %d failed\n", passed + failed, passed, failed);
    return failed ? 1 : 0;
}
