/*
 * regsvr32 virtdisk.dll: make this DLL the prefix's virtdisk.dll. Wine keeps
 * a placeholder for its builtin in system32 and loads the builtin (which
 * aborts on most calls) unless told otherwise. Registering copies this DLL
 * over the placeholder, keeping the placeholder as virtdisk.dll.wine-builtin,
 * and sets HKCU\Software\Wine\DllOverrides "virtdisk" = "native,builtin".
 * regsvr32 /u removes the value and puts the placeholder back, so the prefix
 * is as it was. Both are idempotent. (Under Windows, where the system's own
 * DLL must stay, registering does nothing and says so.)
 */
#include "virtdisk_private.h"

#define OVERRIDES_KEY L"Software\\Wine\\DllOverrides"
#define SAVED_SUFFIX L".wine-builtin"

static BOOL under_wine(void)
{
    return GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != NULL;
}

static BOOL system_paths(WCHAR *dll, WCHAR *saved)
{
    UINT n = GetSystemDirectoryW(dll, MAX_PATH - 32);

    if (!n || n >= MAX_PATH - 32) return FALSE;
    wcscat(dll, L"\\virtdisk.dll");
    wcscpy(saved, dll);
    wcscat(saved, SAVED_SUFFIX);
    return TRUE;
}

HRESULT WINAPI DllRegisterServer(void)
{
    WCHAR self[MAX_PATH], dll[MAX_PATH], saved[MAX_PATH];
    static const WCHAR value[] = L"native,builtin";
    HMODULE module;
    LSTATUS r;
    HKEY key;

    if (!under_wine())
    {
        WARN("not under Wine: the system's virtdisk.dll stays\n");
        return S_FALSE;
    }
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (const WCHAR *)DllRegisterServer, &module)
        || !GetModuleFileNameW(module, self, MAX_PATH) || !system_paths(dll, saved))
        return HRESULT_FROM_WIN32(GetLastError());
    if (_wcsicmp(self, dll))
    {
        /* Keep Wine's placeholder once; a second registration finds it kept. */
        if (GetFileAttributesW(saved) == INVALID_FILE_ATTRIBUTES && GetFileAttributesW(dll) != INVALID_FILE_ATTRIBUTES
            && !MoveFileExW(dll, saved, 0))
            return HRESULT_FROM_WIN32(GetLastError());
        if (!CopyFileW(self, dll, FALSE)) return HRESULT_FROM_WIN32(GetLastError());
    }
    if ((r = RegCreateKeyExW(HKEY_CURRENT_USER, OVERRIDES_KEY, 0, NULL, 0, KEY_SET_VALUE, NULL, &key, NULL)))
        return HRESULT_FROM_WIN32(r);
    r = RegSetValueExW(key, L"virtdisk", 0, REG_SZ, (const BYTE *)value, sizeof(value));
    RegCloseKey(key);
    return HRESULT_FROM_WIN32(r);
}

HRESULT WINAPI DllUnregisterServer(void)
{
    WCHAR dll[MAX_PATH], saved[MAX_PATH];
    LSTATUS r;
    HKEY key;

    if (!under_wine()) return S_FALSE;
    if (!system_paths(dll, saved)) return HRESULT_FROM_WIN32(GetLastError());
    if (!(r = RegOpenKeyExW(HKEY_CURRENT_USER, OVERRIDES_KEY, 0, KEY_SET_VALUE, &key)))
    {
        r = RegDeleteValueW(key, L"virtdisk");
        RegCloseKey(key);
    }
    if (r && r != ERROR_FILE_NOT_FOUND) return HRESULT_FROM_WIN32(r);
    if (GetFileAttributesW(saved) != INVALID_FILE_ATTRIBUTES && !MoveFileExW(saved, dll, MOVEFILE_REPLACE_EXISTING))
        return HRESULT_FROM_WIN32(GetLastError());
    return S_OK;
}
