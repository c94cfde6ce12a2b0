/*
 * DllRegisterServer / DllUnregisterServer: CLSID_VdsLoader as an in-process
 * server (ThreadingModel Both) and as a local server, vdsshim_server.exe
 * beside this DLL, so that clients asking for CLSCTX_LOCAL_SERVER (as real
 * VDS clients do) all reach one shared service (server.c). Unregistering
 * removes exactly the keys that registering wrote, and the AppID with a
 * DllSurrogate that earlier versions wrote (registering removes it too: a
 * class with a surrogate would start one dllhost per activation).
 */
#include <stdio.h>

#include "provider_private.h"

extern HINSTANCE provider_instance;

#define LOADER_KEY L"CLSID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}"
/* Earlier versions' surrogate AppID: the class's own GUID. */
#define OLD_APPID_KEY L"AppID\\{9C38ED61-D565-4728-AEEE-C80952F0ECDE}"
#define SERVER_EXE L"vdsshim_server.exe"

static LSTATUS set_string(const WCHAR *key, const WCHAR *name, const WCHAR *value)
{
    HKEY k;
    LSTATUS r = RegCreateKeyExW(HKEY_CLASSES_ROOT, key, 0, NULL, 0, KEY_WRITE, NULL, &k, NULL);

    if (r) return r;
    r = RegSetValueExW(k, name, 0, REG_SZ, (const BYTE *)value, (DWORD)((wcslen(value) + 1) * sizeof(WCHAR)));
    RegCloseKey(k);
    return r;
}

static LSTATUS delete_tree(const WCHAR *key)
{
    LSTATUS r = RegDeleteTreeW(HKEY_CLASSES_ROOT, key);

    return r == ERROR_FILE_NOT_FOUND ? ERROR_SUCCESS : r;
}

HRESULT WINAPI DllRegisterServer(void)
{
    WCHAR path[MAX_PATH], server[MAX_PATH + 2], *slash;
    LSTATUS r;

    if (!GetModuleFileNameW(provider_instance, path, MAX_PATH)) return HRESULT_FROM_WIN32(GetLastError());
    /* The server lives beside the DLL, quoted: the path may hold spaces. */
    if (!(slash = wcsrchr(path, '\\')) || (size_t)(slash - path) + 1 + wcslen(SERVER_EXE) + 2 >= ARRAYSIZE(server))
        return HRESULT_FROM_WIN32(ERROR_BAD_PATHNAME);
    swprintf(server, ARRAYSIZE(server), L"\"%.*ls\\%ls\"", (int)(slash - path), path, SERVER_EXE);
    /* A clean slate: no value of an earlier registration stays behind. */
    if ((r = delete_tree(OLD_APPID_KEY)) || (r = delete_tree(LOADER_KEY))
        || (r = set_string(LOADER_KEY, NULL, L"Virtual Disk Service Loader (vdsshim)"))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", NULL, path))
        || (r = set_string(LOADER_KEY L"\\InprocServer32", L"ThreadingModel", L"Both"))
        || (r = set_string(LOADER_KEY L"\\LocalServer32", NULL, server)))
        return HRESULT_FROM_WIN32(r);
    return S_OK;
}

HRESULT WINAPI DllUnregisterServer(void)
{
    LSTATUS r = delete_tree(LOADER_KEY), r2 = delete_tree(OLD_APPID_KEY);

    return HRESULT_FROM_WIN32(r ? r : r2);
}
