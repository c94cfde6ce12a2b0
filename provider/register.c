/*
 * DllRegisterServer / DllUnregisterServer: CLSID_VdsLoader as an in-process
 * server (ThreadingModel Both) and, through an AppID with a DllSurrogate, as a
 * local server hosted by dllhost.exe, so that clients asking for
 * CLSCTX_LOCAL_SERVER (as real VDS clients do) reach the same DLL.
 * Unregistering removes exactly the keys that registering wrote.
 */
#include "provider_private.h"

extern HINSTANCE provider_instance;

#define LOADER_KEY L"CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}"
/* The class's own GUID serves as its AppID. */
#define LOADER_APPID L"{9C38ED61-D565-4728-AEEE-C80952F0ECDE}"
#define APPID_KEY L"AppID\\" LOADER_APPID

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
    WCHAR path[MAX_PATH], surrogate[MAX_PATH];
    LSTATUS r;

    if (!GetModuleFileNameW(provider_instance, path, MAX_PATH)) return HRESULT_FROM_WIN32(GetLastError());
    /* The full path of the 64-bit dllhost.exe, not "": Wine 8 launches
     * syswow64's dllhost for an empty value (toolchain.md, trap 3). */
    if (!GetSystemDirectoryW(surrogate, MAX_PATH - 13)) return HRESULT_FROM_WIN32(GetLastError());
    wcscat(surrogate, L"\\dllhost.exe");
    if ((r = set_string(LOADER_KEY, NULL, L"Virtual Disk Service Loader (vdsshim)"))
        || (r = set_string(LOADER_KEY, L"AppID", LOADER_APPID))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", NULL, path))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", L"ThreadingModel", L"Both"))
        || (r = set_string(APPID_KEY, NULL, L"Virtual Disk Service Loader (vdsshim) surrogate"))
        || (r = set_string(APPID_KEY, L"DllSurrogate", surrogate)))
        return HRESULT_FROM_WIN32(r);
    return S_OK;
}

HRESULT WINAPI DllUnregisterServer(void)
{
    LSTATUS r = RegDeleteTreeW(HKEY_CLASSES_ROOT, LOADER_KEY), r2 = RegDeleteTreeW(HKEY_CLASSES_ROOT, APPID_KEY);

    if (r && r != ERROR_FILE_NOT_FOUND) return HRESULT_FROM_WIN32(r);
    return r2 && r2 != ERROR_FILE_NOT_FOUND ? HRESULT_FROM_WIN32(r2) : S_OK;
}
