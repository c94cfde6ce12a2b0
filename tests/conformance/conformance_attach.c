/*
 * Attachments outlive their handles and the service objects that made them
 * (MS-VDS §2.2.2.19.1.1's state narratives, the SDK Attach page): release
 * the last IVdsOpenVDisk of an attached disk and it is ATTACHED_NOT_OPEN; a
 * later Open, through this provider or the one a new LoadService hands out,
 * finds it attached, until Detach. And the device name an attached disk
 * reports (GetDeviceName, GetProperties.pDeviceName).
 */
#include "conformance.h"

/* The VDisk a provider lists for path, or NULL. */
static IVdsVDisk *listed_vdisk(IVdsVdProvider *prov, const WCHAR *path)
{
    IEnumVdsObject *e = NULL;
    IVdsVDisk *found = NULL;
    IUnknown *obj;
    ULONG fetched;

    ok_hr(IVdsVdProvider_QueryVDisks(prov, &e), S_OK, "QueryVDisks");
    if (!e) return NULL;
    while (!found && IEnumVdsObject_Next(e, 1, &obj, &fetched) == S_OK && fetched == 1)
    {
        IVdsVDisk *vdisk;
        VDS_VDISK_PROPERTIES props;

        if (IUnknown_QueryInterface(obj, &IID_IVdsVDisk, (void **)&vdisk) == S_OK)
        {
            memset(&props, 0, sizeof(props));
            if (IVdsVDisk_GetProperties(vdisk, &props) == S_OK && props.pPath && !_wcsicmp(props.pPath, path))
                found = vdisk;
            else
                IVdsVDisk_Release(vdisk);
            CoTaskMemFree(props.pPath);
            CoTaskMemFree(props.pDeviceName);
            CoTaskMemFree(props.pParentPath);
        }
        IUnknown_Release(obj);
    }
    IEnumVdsObject_Release(e);
    return found;
}

static WCHAR last_device_name[64];

/* A second service from the same loader, and its virtual-disk provider. */
static IVdsVdProvider *second_provider(IVdsService **service)
{
    IVdsVdProvider *prov = NULL;
    IEnumVdsObject *e = NULL;
    IUnknown *obj = NULL;
    ULONG fetched = 0;

    *service = NULL;
    ok_hr(IVdsServiceLoader_LoadService(loader, NULL, service), S_OK, "LoadService again");
    if (!*service) return NULL;
    ok_hr(IVdsService_QueryProviders(*service, VDS_QUERY_VIRTUALDISK_PROVIDERS, &e), S_OK, "QueryProviders");
    if (!e) return NULL;
    if (IEnumVdsObject_Next(e, 1, &obj, &fetched) == S_OK && fetched == 1)
    {
        ok_hr(IUnknown_QueryInterface(obj, &IID_IVdsVdProvider, (void **)&prov), S_OK, "QI(IVdsVdProvider)");
        IUnknown_Release(obj);
    }
    IEnumVdsObject_Release(e);
    return prov;
}

/* The name, the same in GetProperties, and AddVDisk takes it back to this VDisk. */
static void check_device_name(IVdsVdProvider *prov, IVdsVDisk *vdisk, BOOL attached, const char *when)
{
    VIRTUAL_STORAGE_TYPE unknown = { VIRTUAL_STORAGE_TYPE_DEVICE_UNKNOWN, VIRTUAL_STORAGE_TYPE_VENDOR_MICROSOFT };
    WCHAR *name = (void *)0xdeadbeef;
    IVdsVDisk *named = (void *)0xdeadbeef;
    VDS_VDISK_PROPERTIES props;
    HRESULT hr;

    hr = IVdsVDisk_GetDeviceName(vdisk, &name);
    ok_hr(hr, S_OK, "GetDeviceName");
    if (hr != S_OK) return;
    memset(&props, 0x55, sizeof(props));
    ok_hr(IVdsVDisk_GetProperties(vdisk, &props), S_OK, "GetProperties");
    if (attached)
        ok(name && !wcsncmp(name, L"\\\\?\\VdsshimVDisk{", 17) && wcslen(name) == 54 && props.pDeviceName
           && !wcscmp(name, props.pDeviceName), "%s: the device name %ls, the same in GetProperties", when,
           name ? name : L"(null)");
    else
        ok(name == NULL && props.pDeviceName == NULL, "%s: no device name", when);
    if (name)
    {
        IUnknown *a = NULL, *b = NULL;

        hr = IVdsVdProvider_AddVDisk(prov, &unknown, name, &named);
        ok_hr(hr, S_OK, "AddVDisk of the device name");
        if (hr == S_OK)
        {
            IVdsVDisk_QueryInterface(vdisk, &IID_IUnknown, (void **)&a);
            IVdsVDisk_QueryInterface(named, &IID_IUnknown, (void **)&b);
            ok(a && a == b, "%s: the device name names this VDisk", when);
            if (a) IUnknown_Release(a);
            if (b) IUnknown_Release(b);
            IVdsVDisk_Release(named);
        }
        /* Kept to try once detached. */
        wcscpy(last_device_name, name);
    }
    else if (last_device_name[0])
    {
        ok_hr(IVdsVdProvider_AddVDisk(prov, &unknown, last_device_name, &named), VDS_E_OBJECT_NOT_FOUND,
              "AddVDisk of the device name once detached");
        ok(named == NULL, "... clears the out-pointer");
    }
    CoTaskMemFree(name);
    CoTaskMemFree(props.pPath);
    CoTaskMemFree(props.pDeviceName);
    CoTaskMemFree(props.pParentPath);
}

void test_attachment_lifetime(IVdsVdProvider *prov)
{
    IVdsVDisk *vdisk, *again;
    IVdsOpenVDisk *open;
    IVdsVdProvider *prov2;
    IVdsService *service2;
    WCHAR path[MAX_PATH];

    if (!fixture(L"attach.vhdx")) return;
    path_of(L"attach.vhdx", path);
    if (!(open = open_disk(prov, L"attach.vhdx", VIRTUAL_STORAGE_TYPE_DEVICE_VHDX, VIRTUAL_DISK_ACCESS_ALL, 1, &vdisk)))
    {
        if (vdisk) IVdsVDisk_Release(vdisk);
        return;
    }
    check_device_name(prov, vdisk, FALSE, "detached");
    ok_hr(attach(open, TRUE), S_OK, "attach, then release the handle");
    check_device_name(prov, vdisk, TRUE, "attached");
    IVdsOpenVDisk_Release(open);
    ok(vdisk_state(vdisk) == VDS_VST_ATTACHED_NOT_OPEN, "the last handle gone: VDS_VST_ATTACHED_NOT_OPEN");
    check_device_name(prov, vdisk, TRUE, "attached, not open");

    /* Another service object sees the same disk, still attached. */
    if ((prov2 = second_provider(&service2)))
    {
        again = listed_vdisk(prov2, path);
        ok(again != NULL, "the second service's provider lists attach.vhdx");
        if (again)
        {
            ok(vdisk_state(again) == VDS_VST_ATTACHED_NOT_OPEN, "... as ATTACHED_NOT_OPEN");
            IVdsVDisk_Release(again);
        }
        IVdsVdProvider_Release(prov2);
    }
    if (service2) IVdsService_Release(service2);

    /* Reopened: attached, and it detaches. */
    open = NULL;
    ok_hr(IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &open), S_OK, "Open of the attached disk");
    if (open)
    {
        ok(vdisk_state(vdisk) == VDS_VST_ATTACHED, "opened again: VDS_VST_ATTACHED");
        IVdsAsync *async = (void *)0xdeadbeef;
        ok_hr(IVdsOpenVDisk_Attach(open, NULL, ATTACH_VIRTUAL_DISK_FLAG_READ_ONLY, 0, 0, &async),
              VDS_E_VD_ALREADY_ATTACHED, "... still attached: a new Attach is refused");
        ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach through the new handle");
        ok(vdisk_state(vdisk) == VDS_VST_OPEN, "detached: VDS_VST_OPEN");
        check_device_name(prov, vdisk, FALSE, "detached again");
        IVdsOpenVDisk_Release(open);
    }
    ok(vdisk_state(vdisk) == VDS_VST_ADDED, "released: VDS_VST_ADDED");

    /* Every reference to the service's objects let go: the attachment stays. */
    open = NULL;
    ok_hr(IVdsVDisk_Open(vdisk, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &open), S_OK, "Open once more");
    if (open)
    {
        ok_hr(attach(open, FALSE), S_OK, "attach read-write, then release every reference");
        IVdsOpenVDisk_Release(open);
    }
    IVdsVDisk_Release(vdisk);
    if ((prov2 = second_provider(&service2)))
    {
        again = listed_vdisk(prov2, path);
        ok(again != NULL, "a new service still lists attach.vhdx");
        if (again)
        {
            ok(vdisk_state(again) == VDS_VST_ATTACHED_NOT_OPEN, "... attached, not open");
            open = NULL;
            ok_hr(IVdsVDisk_Open(again, VIRTUAL_DISK_ACCESS_ALL, 0, 1, &open), S_OK, "Open through the new service");
            if (open)
            {
                ok_hr(IVdsOpenVDisk_Detach(open, 0, 0), S_OK, "Detach through the new service");
                IVdsOpenVDisk_Release(open);
            }
            ok(vdisk_state(again) == VDS_VST_ADDED, "detached and released: VDS_VST_ADDED");
            IVdsVDisk_Release(again);
        }
        IVdsVdProvider_Release(prov2);
    }
    if (service2) IVdsService_Release(service2);
}
