/*
 * Engine statuses become Win32 errors here and nowhere else (the VDS DLL's
 * HRESULTs are these, through HRESULT_FROM_WIN32, but for its own two
 * codes: hresult.c). Each row says where its code comes from: [V] read in
 * vds-reference.md's or virtdisk-reference.md's sources, [U] Windows' exact
 * choice unverified, the best-supported code picked.
 */
#include "status_win32.h"

static const struct
{
    int status;
    DWORD error;
    const char *why;
}
status_map[] =
{
    { VDSSHIM_OK, ERROR_SUCCESS, "[V]" },
    { VDSSHIM_E_INVALID_ARG, ERROR_INVALID_PARAMETER, "[V] vds §4.2, virtdisk §5" },
    { VDSSHIM_E_NOMEM, ERROR_NOT_ENOUGH_MEMORY, "[V] E_OUTOFMEMORY is its HRESULT" },
    { VDSSHIM_E_NOSPC, ERROR_DISK_FULL, "[V]" },
    { VDSSHIM_E_NOT_FOUND, ERROR_FILE_NOT_FOUND, "[V] Wine's tests: a missing test.vhd gives 2" },
    { VDSSHIM_E_ACCESS, ERROR_ACCESS_DENIED, "[V]" },
    { VDSSHIM_E_UNKNOWN_FORMAT, VDSSHIM_WIN32_VIRTDISK_NOT_VIRTUAL_DISK, "[U] vds §4.3 ERROR_VIRTDISK_NOT_VIRTUAL_DISK" },
    { VDSSHIM_E_CORRUPT, ERROR_FILE_CORRUPT, "[U] vds §4.2" },
    { VDSSHIM_E_UNSUPPORTED, VDSSHIM_WIN32_VHD_FORMAT_UNSUPPORTED_VERSION, "[U] vds §4.3" },
    { VDSSHIM_E_WRONG_TYPE, VDSSHIM_WIN32_VHD_INVALID_TYPE, "[U] the likeliest for compacting a fixed disk" },
    { VDSSHIM_E_PARENT_NOT_FOUND, VDSSHIM_WIN32_VHD_PARENT_VHD_NOT_FOUND, "[V] vds §4.3" },
    { VDSSHIM_E_PARENT_MISMATCH, VDSSHIM_WIN32_VHD_CHILD_PARENT_ID_MISMATCH, "[U]" },
    { VDSSHIM_E_IN_USE, ERROR_SHARING_VIOLATION, "[U] a file another handle holds" },
    { VDSSHIM_E_READONLY, ERROR_ACCESS_DENIED, "[U] an open without the access the operation needs" },
    { VDSSHIM_E_CANCELLED, ERROR_OPERATION_ABORTED, "[V] CancelIoEx's contract (virtdisk §4.2)" },
    { VDSSHIM_E_EXISTS, ERROR_FILE_EXISTS, "[U]" },
};

DWORD win32_from_status(int status, const struct vdsshim_diag *diag)
{
    size_t i;

    if (status == VDSSHIM_E_IO) return diag && diag->sys_error ? diag->sys_error : ERROR_IO_DEVICE;
    for (i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
        if (status_map[i].status == status) return status_map[i].error;
    return ERROR_GEN_FAILURE;
}
