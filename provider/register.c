/*
 * DllRegisterServer / DllUnregisterServer: CLSID_VdsLoader as an in-process
 * server (ThreadingModel Both). Unregistering removes exactly the keys that
 * registering wrote.
 */
#include "provider_private.h"

extern HINSTANCE provider_instance;

#define LOADER_KEY L"CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}"

static LSTATUS set_string(const WCHAR *key, const WCHAR *name, const WCHAR *value)
{
    HKEY k;
    LSTATUS r = RegCreateKeyExW(HKEY_CLASSES_ROOT, key, 0, NULL, 0, KEY_WRITE, NULL, &k, NULL);

    if (r) return r;
    r = RegSetValueExW(k, name, 0, REG_SZ, (const BYTE *)value, (DWORD)((wcslen(value) + 1) * sizeof(WCHAR)));
    RegCloseKey(k);
    return r;
}

HRESULT WINAPI DllRegisterServer(void)
{
    WCHAR path[MAX_PATH];
    LSTATUS r;

    if (!GetModuleFileNameW(provider_instance, path, MAX_PATH)) return HRESULT_FROM_WIN32(GetLastError());
    if ((r = set_string(LOADER_KEY, NULL, L"Virtual Disk Service Loader (vdsshim)"))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", NULL, path))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", L"ThreadingModel", L"Both")))
        return HRESULT_FROM_WIN32(r);
    return S_OK;
}

HRESULT WINAPI DllUnregisterServer(void)
{
    LSTATUS r = RegDeleteTreeW(HKEY_CLASSES_ROOT, LOADER_KEY);

    return r && r != ERROR_FILE_NOT_FOUND ? HRESULT_FROM_WIN32(r) : S_OK;
}
