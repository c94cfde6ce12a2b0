/* vdsshim.dll: the entry points of the in-process server (the factory: factory.c). */
#include "provider_private.h"

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

HRESULT WINAPI DllGetClassObject(REFCLSID clsid, REFIID riid, void **out)
{
    TRACE("clsid %s, riid %s, out %p.\n", debugstr_guid(clsid), debugstr_guid(riid), out);
    if (!clsid || !riid || !out) return E_INVALIDARG;
    *out = NULL;
    if (IsEqualGUID(clsid, &CLSID_VdsLoader)) return IClassFactory_QueryInterface(loader_factory(), riid, out);
    return CLASS_E_CLASSNOTAVAILABLE;
}

HRESULT WINAPI DllCanUnloadNow(void)
{
    /* A compaction worker may still run vdsshim code: jobs count too. */
    return provider_refs ? S_FALSE : S_OK;
}
