/* vdsshim.dll: entry points and the class factory of CLSID_VdsLoader. */
#include <stdlib.h>

#include "provider_private.h"

LONG provider_refs;
HINSTANCE provider_instance;

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH)
    {
        provider_instance = instance;
        DisableThreadLibraryCalls(instance);
        debug_init();
    }
    return TRUE;
}

WCHAR *co_strdupW(const WCHAR *s)
{
    size_t n = (wcslen(s) + 1) * sizeof(WCHAR);
    WCHAR *d = CoTaskMemAlloc(n);

    if (d) memcpy(d, s, n);
    return d;
}

char *utf8_from_wide(const WCHAR *s)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, s, -1, NULL, 0, NULL, NULL);
    char *d = n > 0 ? malloc((size_t)n) : NULL;

    if (d) WideCharToMultiByte(CP_UTF8, 0, s, -1, d, n, NULL, NULL);
    return d;
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
    (void)iface;
    TRACE("outer %p, riid %s, out %p.\n", outer, debugstr_guid(riid), out);
    if (!riid || !out) return E_INVALIDARG;
    *out = NULL;
    if (outer) return CLASS_E_NOAGGREGATION;
    return loader_create(riid, out);
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

static IClassFactory loader_factory = { &factory_vtbl };

HRESULT WINAPI DllGetClassObject(REFCLSID clsid, REFIID riid, void **out)
{
    TRACE("clsid %s, riid %s, out %p.\n", debugstr_guid(clsid), debugstr_guid(riid), out);
    if (!clsid || !riid || !out) return E_INVALIDARG;
    *out = NULL;
    if (IsEqualGUID(clsid, &CLSID_VdsLoader)) return IClassFactory_QueryInterface(&loader_factory, riid, out);
    return CLASS_E_CLASSNOTAVAILABLE;
}

HRESULT WINAPI DllCanUnloadNow(void)
{
    /* A compaction worker may still run vdsshim code: jobs count too. */
    return provider_refs ? S_FALSE : S_OK;
}
