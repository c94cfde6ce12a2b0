/*
 * IVdsService and IVdsServiceInitialization. The shim's service knows one
 * provider, the virtual-disk one; what VDS does for basic and dynamic disks,
 * volumes and drive letters is answered with VDS_E_NOT_SUPPORTED: there are
 * no host disks behind the shim (a documented answer, tested, not a stub).
 */
#include <stdlib.h>

#include "provider_private.h"

struct service
{
    IVdsService IVdsService_iface;
    IVdsServiceInitialization IVdsServiceInitialization_iface;
    LONG refcount;
    IVdsVdProvider *provider;
    struct client_link link;
    volatile LONG initialized;  /* Initialize succeeded (LoadService calls it) */
};

/* NULL, "" or this computer's name: the only machine the shim serves. */
BOOL is_local_machine(const WCHAR *machine)
{
    WCHAR local[MAX_COMPUTERNAME_LENGTH + 1];
    DWORD n = ARRAYSIZE(local);

    if (!machine || !machine[0]) return TRUE;
    return GetComputerNameW(local, &n) && !_wcsicmp(machine, local);
}

static struct service *impl_from_IVdsService(IVdsService *iface)
{
    return CONTAINING_RECORD(iface, struct service, IVdsService_iface);
}

static struct service *impl_from_IVdsServiceInitialization(IVdsServiceInitialization *iface)
{
    return CONTAINING_RECORD(iface, struct service, IVdsServiceInitialization_iface);
}

static HRESULT WINAPI service_QueryInterface(IVdsService *iface, REFIID riid, void **out)
{
    struct service *service = impl_from_IVdsService(iface);

    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsService))
        *out = &service->IVdsService_iface;
    else if (IsEqualGUID(riid, &IID_IVdsServiceInitialization))
        *out = &service->IVdsServiceInitialization_iface;
    else
    {
        WARN("no interface %s.\n", debugstr_guid(riid));
        *out = NULL;
        return E_NOINTERFACE;
    }
    IUnknown_AddRef((IUnknown *)*out);
    return S_OK;
}

static ULONG WINAPI service_AddRef(IVdsService *iface)
{
    return InterlockedIncrement(&impl_from_IVdsService(iface)->refcount);
}

static ULONG WINAPI service_Release(IVdsService *iface)
{
    struct service *service = impl_from_IVdsService(iface);
    ULONG ref = InterlockedDecrement(&service->refcount);

    if (!ref)
    {
        IVdsVdProvider_Release(service->provider);
        client_untrack(&service->link);
        free(service);
        provider_unref();
    }
    return ref;
}

/* Ready once initialised (MS-VDS §3.4.5.2.4.1: S_FALSE while it is not;
 * LoadService initialises before handing it out). Nothing to enumerate. */
static HRESULT WINAPI service_IsServiceReady(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return impl_from_IVdsService(iface)->initialized ? S_OK : S_FALSE;
}

/* Nothing initialises a service later: one that is not ready never will be. */
static HRESULT WINAPI service_WaitForServiceReady(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return impl_from_IVdsService(iface)->initialized ? S_OK : VDS_E_INITIALIZED_FAILED;
}

static HRESULT WINAPI service_GetProperties(IVdsService *iface, VDS_SERVICE_PROP *prop)
{
    TRACE("iface %p, prop %p.\n", iface, prop);
    if (!prop) return E_POINTER;
    if (!(prop->pwszVersion = co_strdupW(L"1.0"))) return E_OUTOFMEMORY;
    prop->ulFlags = 0;
    return S_OK;
}

static HRESULT WINAPI service_QueryProviders(IVdsService *iface, DWORD masks, IEnumVdsObject **out)
{
    struct service *service = impl_from_IVdsService(iface);
    IUnknown *providers[1];
    ULONG count = 0;

    TRACE("iface %p, masks %#lx, out %p.\n", iface, masks, out);
    if (!out) return E_POINTER;
    *out = NULL;
    if (!masks || (masks & ~(VDS_QUERY_SOFTWARE_PROVIDERS | VDS_QUERY_HARDWARE_PROVIDERS | VDS_QUERY_VIRTUALDISK_PROVIDERS)))
        return VDS_E_INVALID_QUERY_PROVIDER_FLAG;
    /* Software and hardware masks: no such providers here, an empty enumeration. */
    if (masks & VDS_QUERY_VIRTUALDISK_PROVIDERS) providers[count++] = (IUnknown *)service->provider;
    return enum_create(service->link.client, providers, count, out);
}

static HRESULT WINAPI service_QueryMaskedDisks(IVdsService *iface, IEnumVdsObject **out)
{
    TRACE("iface %p, out %p.\n", iface, out);
    if (!out) return E_POINTER;
    *out = NULL;
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_QueryUnallocatedDisks(IVdsService *iface, IEnumVdsObject **out)
{
    TRACE("iface %p, out %p.\n", iface, out);
    if (!out) return E_POINTER;
    *out = NULL;
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_GetObject(IVdsService *iface, VDS_OBJECT_ID id, VDS_OBJECT_TYPE type, IUnknown **out)
{
    struct service *service = impl_from_IVdsService(iface);
    VDS_PROVIDER_PROP prop;
    HRESULT hr;

    TRACE("iface %p, id %s, type %d, out %p.\n", iface, debugstr_guid(&id), type, out);
    if (!out) return E_POINTER;
    *out = NULL;
    if (type != VDS_OT_PROVIDER) return VDS_E_OBJECT_NOT_FOUND;
    if (FAILED(hr = IVdsProvider_GetProperties((IVdsProvider *)service->provider, &prop))) return hr;
    CoTaskMemFree(prop.pwszName);
    CoTaskMemFree(prop.pwszVersion);
    if (!IsEqualGUID(&prop.id, &id)) return VDS_E_OBJECT_NOT_FOUND;
    return IVdsVdProvider_QueryInterface(service->provider, &IID_IUnknown, (void **)out);
}

/*
 * The letters first .. first + count - 1 as the prefix maps them (Wine's
 * dosdevices, through GetLogicalDrives): bUsed for a mapped one, its volume
 * id GUID_NULL (no volume objects behind the shim), no flags. Windows
 * answers S_OK with one entry per letter (SDK
 * nf-vds-ivdsservice-querydriveletters.md) [V]; a range outside A..Z is
 * E_INVALIDARG [U].
 */
static HRESULT WINAPI service_QueryDriveLetters(IVdsService *iface, WCHAR first, DWORD count, VDS_DRIVE_LETTER_PROP *props)
{
    DWORD used, i, index;

    TRACE("iface %p, first %#x, count %lu, props %p.\n", iface, first, count, props);
    if (!props) return E_POINTER;
    if (first >= L'a' && first <= L'z') first -= L'a' - L'A';
    if (first < L'A' || first > L'Z' || !count || count > (DWORD)(L'Z' - first + 1)) return E_INVALIDARG;
    used = GetLogicalDrives();
    for (i = 0; i < count; i++)
    {
        index = (DWORD)(first - L'A') + i;
        memset(&props[i], 0, sizeof(props[i]));
        props[i].wcLetter = (WCHAR)(L'A' + index);
        props[i].bUsed = (used >> index) & 1;
    }
    return S_OK;
}

static HRESULT WINAPI service_QueryFileSystemTypes(IVdsService *iface, VDS_FILE_SYSTEM_TYPE_PROP **props, LONG *count)
{
    TRACE("iface %p, props %p, count %p.\n", iface, props, count);
    if (!props || !count) return E_POINTER;
    *props = NULL;
    *count = 0;
    return VDS_E_NOT_SUPPORTED;
}

/* Nothing to rescan: the shim has no host disks. Succeeds, so that clients
 * that refresh before querying providers go on. */
static HRESULT WINAPI service_Reenumerate(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return S_OK;
}

static HRESULT WINAPI service_Refresh(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return S_OK;
}

static HRESULT WINAPI service_CleanupObsoleteMountPoints(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_Advise(IVdsService *iface, IVdsAdviseSink *sink, DWORD *cookie)
{
    TRACE("iface %p, sink %p, cookie %p.\n", iface, sink, cookie);
    if (!sink || !cookie) return E_POINTER;
    *cookie = 0;
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_Unadvise(IVdsService *iface, DWORD cookie)
{
    TRACE("iface %p, cookie %#lx.\n", iface, cookie);
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_Reboot(IVdsService *iface)
{
    TRACE("iface %p.\n", iface);
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_SetFlags(IVdsService *iface, ULONG flags)
{
    TRACE("iface %p, flags %#lx.\n", iface, flags);
    return VDS_E_NOT_SUPPORTED;
}

static HRESULT WINAPI service_ClearFlags(IVdsService *iface, ULONG flags)
{
    TRACE("iface %p, flags %#lx.\n", iface, flags);
    return VDS_E_NOT_SUPPORTED;
}

static const IVdsServiceVtbl service_vtbl =
{
    /* IUnknown methods */
    service_QueryInterface,
    service_AddRef,
    service_Release,
    /* IVdsService methods */
    service_IsServiceReady,
    service_WaitForServiceReady,
    service_GetProperties,
    service_QueryProviders,
    service_QueryMaskedDisks,
    service_QueryUnallocatedDisks,
    service_GetObject,
    service_QueryDriveLetters,
    service_QueryFileSystemTypes,
    service_Reenumerate,
    service_Refresh,
    service_CleanupObsoleteMountPoints,
    service_Advise,
    service_Unadvise,
    service_Reboot,
    service_SetFlags,
    service_ClearFlags,
};

static HRESULT WINAPI init_QueryInterface(IVdsServiceInitialization *iface, REFIID riid, void **out)
{
    return service_QueryInterface(&impl_from_IVdsServiceInitialization(iface)->IVdsService_iface, riid, out);
}

static ULONG WINAPI init_AddRef(IVdsServiceInitialization *iface)
{
    return service_AddRef(&impl_from_IVdsServiceInitialization(iface)->IVdsService_iface);
}

static ULONG WINAPI init_Release(IVdsServiceInitialization *iface)
{
    return service_Release(&impl_from_IVdsServiceInitialization(iface)->IVdsService_iface);
}

static HRESULT WINAPI init_Initialize(IVdsServiceInitialization *iface, WCHAR *machine)
{
    TRACE("iface %p, machine %s.\n", iface, debugstr_w(machine));
    if (!is_local_machine(machine)) return VDS_E_NOT_SUPPORTED;
    InterlockedExchange(&impl_from_IVdsServiceInitialization(iface)->initialized, 1);
    return S_OK;
}

static const IVdsServiceInitializationVtbl init_vtbl =
{
    /* IUnknown methods */
    init_QueryInterface,
    init_AddRef,
    init_Release,
    /* IVdsServiceInitialization methods */
    init_Initialize,
};

HRESULT service_create(struct client *client, IVdsService **out)
{
    struct service *service;
    HRESULT hr;

    *out = NULL;
    if (!(service = calloc(1, sizeof(*service)))) return E_OUTOFMEMORY;
    if (FAILED(hr = vd_provider_create(client, &service->provider)))
    {
        free(service);
        return hr;
    }
    service->IVdsService_iface.lpVtbl = &service_vtbl;
    service->IVdsServiceInitialization_iface.lpVtbl = &init_vtbl;
    service->refcount = 1;
    client_track(client, &service->link, (IUnknown *)&service->IVdsService_iface, &service->refcount, NULL);
    provider_ref();
    TRACE("returning iface %p.\n", &service->IVdsService_iface);
    *out = &service->IVdsService_iface;
    return S_OK;
}
