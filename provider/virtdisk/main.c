/* virtdisk.dll: the entry point. The API: open.c, ops.c, info.c, metadata.c, unsupported.c;
 * regsvr32: register.c. */
#include "virtdisk_private.h"

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH)
    {
        DisableThreadLibraryCalls(instance);
        debug_init();
    }
    return TRUE;
}
