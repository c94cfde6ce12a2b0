/*
 * The class factory of CLSID_VdsLoader, shared by the DLL (DllGetClassObject)
 * and the server (server.c, CoRegisterClassObject), and the count of what
 * lives, which says when either may go.
 */
#include "provider_private.h"

LONG provider_refs;

/* Orders a server's stop against activations: CreateInstance runs under the
 * shared lock, the stop's check-and-set under the exclusive one. */
static SRWLOCK stop_lock = SRWLOCK_INIT;
static BOOL stopping;

BOOL server_try_stop(void)
{
    BOOL stop;

    AcquireSRWLockExclusive(&stop_lock);
    stop = stopping = !provider_refs;
    ReleaseSRWLockExclusive(&stop_lock);
    return stop;
}

/* One static factory: its AddRef and Release do not count (Wine's pattern). */
static HRESULT WINAPI factory_QueryInterface(IClassFactory *iface, REFIID riid, void **out)
{
    if (!out) return E_POINTER;
    if (IsEqualGUID(riid, &IID_IUnknown) || IsEqualGUID(riid, &IID_IClassFactory))
    {
        *out = iface;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI factory_AddRef(IClassFactory *iface)
{
    (void)iface;
    return 2;
}

static ULONG WINAPI factory_Release(IClassFactory *iface)
{
    (void)iface;
    return 1;
}

static HRESULT WINAPI factory_CreateInstance(IClassFactory *iface, IUnknown *outer, REFIID riid, void **out)
{
    struct client *client;
    HRESULT hr;

    (void)iface;
    TRACE("outer %p, riid %s, out %p.\n", outer, debugstr_guid(riid), out);
    if (!riid || !out) return E_INVALIDARG;
    *out = NULL;
    if (outer) return CLASS_E_NOAGGREGATION;
    AcquireSRWLockShared(&stop_lock);
    /* A client that got the factory just before the server revoked it. */
    if (stopping) hr = CO_E_SERVER_STOPPING;
    else if (SUCCEEDED(hr = client_of_caller(&client)))
    {
        hr = loader_create(client, riid, out);
        client_release(client);
    }
    ReleaseSRWLockShared(&stop_lock);
    return hr;
}

static HRESULT WINAPI factory_LockServer(IClassFactory *iface, BOOL lock)
{
    (void)iface;
    if (lock) provider_ref();
    else provider_unref();
    return S_OK;
}

static const IClassFactoryVtbl factory_vtbl =
{
    factory_QueryInterface,
    factory_AddRef,
    factory_Release,
    factory_CreateInstance,
    factory_LockServer,
};

static IClassFactory the_factory = { &factory_vtbl };

IClassFactory *loader_factory(void)
{
    return &the_factory;
}
