/* The one table from engine statuses to Win32 errors, shared by vdsshim.dll
 * (which makes HRESULTs of them) and virtdisk.dll (which returns them). */
#ifndef VDSSHIM_STATUS_WIN32_H
#define VDSSHIM_STATUS_WIN32_H

#include <windows.h>

#include "vdsshim.h"

/* ERROR_VHD_* and ERROR_VIRTDISK_* (winerror.h of the SDK; mingw has none):
 * DWORDs with the error bits set, so HRESULT_FROM_WIN32 leaves them as they are. */
#define VDSSHIM_WIN32_VHD_FORMAT_UNKNOWN             0xC03A0004u
#define VDSSHIM_WIN32_VHD_FORMAT_UNSUPPORTED_VERSION 0xC03A0005u
#define VDSSHIM_WIN32_VHD_PARENT_VHD_NOT_FOUND       0xC03A000Du
#define VDSSHIM_WIN32_VHD_RESIZE_WOULD_TRUNCATE_DATA 0xC03A0025u
#define VDSSHIM_WIN32_VHD_COULD_NOT_COMPUTE_MINIMUM_VIRTUAL_SIZE 0xC03A0026u
#define VDSSHIM_WIN32_VHD_ALREADY_AT_OR_BELOW_MINIMUM_VIRTUAL_SIZE 0xC03A0027u
#define VDSSHIM_WIN32_VHD_CHILD_PARENT_ID_MISMATCH   0xC03A000Eu
#define VDSSHIM_WIN32_VIRTDISK_NOT_VIRTUAL_DISK      0xC03A0015u
#define VDSSHIM_WIN32_VHD_INVALID_TYPE               0xC03A001Bu
#define VDSSHIM_WIN32_VHD_METADATA_FULL              0xC03A0028u
#define VDSSHIM_WIN32_VIRTDISK_DISK_ALREADY_OWNED    0xC03A001Eu
#define VDSSHIM_WIN32_VIRTDISK_DISK_ONLINE_AND_WRITABLE 0xC03A001Fu

/* The Win32 error for an engine status; an I/O error keeps the system's
 * own code when there is one (else ERROR_IO_DEVICE). */
DWORD win32_from_status(int status, const struct vdsshim_diag *diag);

#endif
