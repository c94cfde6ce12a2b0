/* IVdsServiceLoader: the object CLSID_VdsLoader creates. */
#include <stdlib.h>

#include "provider_private.h"

struct loader
{
    IVdsServiceLoader IVdsServiceLoader_iface;
    LONG refcount;
    struct client_link link;
};

static struct loader *impl_from_IVdsServiceLoader(IVdsServiceLoader *iface)
{
    return CONTAINING_RECORD(iface, struct loader, IVdsServiceLoader_iface);
}

static HRESULT WINAPI loader_QueryInterface(IVdsServiceLoader *iface, REFIID riid, void **out)
{
    TRACE("iface %p, riid %s, out %p.\n", iface, debugstr_guid(riid), out);
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IVdsServiceLoader))
    {
        *out = iface;
        IVdsServiceLoader_AddRef(iface);
        return S_OK;
    }
    WARN("no interface %s.\n", debugstr_guid(riid));
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI loader_AddRef(IVdsServiceLoader *iface)
{
    return InterlockedIncrement(&impl_from_IVdsServiceLoader(iface)->refcount);
}

static ULONG WINAPI loader_Release(IVdsServiceLoader *iface)
{
    struct loader *loader = impl_from_IVdsServiceLoader(iface);
    ULONG ref = InterlockedDecrement(&loader->refcount);

    if (!ref)
    {
        client_untrack(&loader->link);
        free(loader);
        provider_unref();
    }
    return ref;
}

static HRESULT load_service(struct client *client, WCHAR *machine, IVdsService **out);

static HRESULT WINAPI loader_LoadService(IVdsServiceLoader *iface, LPWSTR machine, IVdsService **service)
{
    TRACE("iface %p, machine %s, service %p.\n", iface, debugstr_w(machine), service);
    if (!service) return E_POINTER;
    *service = NULL;
    /* NULL or "" is this machine. The shim serves no other one: a remote name
     * gets the VDS code for "not supported" rather than an attempt (§6). */
    if (!is_local_machine(machine)) return VDS_E_NOT_SUPPORTED;
    return load_service(impl_from_IVdsServiceLoader(iface)->link.client, machine, service);
}

/* MS-VDS §3.4.5.2.3.1: the loader makes the service, queries its
 * IVdsServiceInitialization and calls Initialize with the machine name; a
 * failed Initialize is LoadService's result [V]. */
static HRESULT load_service(struct client *client, WCHAR *machine, IVdsService **out)
{
    IVdsServiceInitialization *init;
    IVdsService *service;
    HRESULT hr;

    if (FAILED(hr = service_create(client, &service))) return hr;
    if (SUCCEEDED(hr = IVdsService_QueryInterface(service, &IID_IVdsServiceInitialization, (void **)&init)))
    {
        hr = IVdsServiceInitialization_Initialize(init, machine);
        IVdsServiceInitialization_Release(init);
    }
    if (FAILED(hr))
    {
        WARN("service initialisation failed: %#lx\n", (unsigned long)hr);
        IVdsService_Release(service);
        return hr;
    }
    *out = service;
    return S_OK;
}

static const IVdsServiceLoaderVtbl loader_vtbl =
{
    /* IUnknown methods */
    loader_QueryInterface,
    loader_AddRef,
    loader_Release,
    /* IVdsServiceLoader methods */
    loader_LoadService,
};

HRESULT loader_create(struct client *client, REFIID riid, void **out)
{
    struct loader *loader;
    HRESULT hr;

    if (!(loader = calloc(1, sizeof(*loader)))) return E_OUTOFMEMORY;
    loader->IVdsServiceLoader_iface.lpVtbl = &loader_vtbl;
    loader->refcount = 1;
    client_track(client, &loader->link, (IUnknown *)&loader->IVdsServiceLoader_iface, &loader->refcount, NULL);
    provider_ref();
    hr = IVdsServiceLoader_QueryInterface(&loader->IVdsServiceLoader_iface, riid, out);
    IVdsServiceLoader_Release(&loader->IVdsServiceLoader_iface);
    return hr;
}
