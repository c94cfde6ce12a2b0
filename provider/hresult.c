/*
 * Engine statuses become HRESULTs here and nowhere else. One table; each row
 * says where its code comes from: [V] read in vds-reference.md's sources,
 * [U] Windows' exact choice unverified, the best-supported code picked.
 */
#include "provider_private.h"

static const struct
{
    int status;
    HRESULT hr;
    const char *why;
}
status_map[] =
{
    { VDSSHIM_OK, S_OK, "[V]" },
    { VDSSHIM_E_INVALID_ARG, E_INVALIDARG, "[V] §4.2 ERROR_INVALID_PARAMETER as HRESULT" },
    { VDSSHIM_E_NOMEM, E_OUTOFMEMORY, "[V] COM" },
    { VDSSHIM_E_NOSPC, (HRESULT)0x80070070, "[V] HRESULT_FROM_WIN32(ERROR_DISK_FULL)" },
    { VDSSHIM_E_NOT_FOUND, (HRESULT)0x80070002, "[V] HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)" },
    { VDSSHIM_E_ACCESS, E_ACCESSDENIED, "[V] HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)" },
    { VDSSHIM_E_UNKNOWN_FORMAT, VDSSHIM_ERROR_VIRTDISK_NOT_VIRTUAL_DISK, "[U] §4.3 ERROR_VIRTDISK_NOT_VIRTUAL_DISK" },
    { VDSSHIM_E_CORRUPT, (HRESULT)0x80070570, "[U] HRESULT_FROM_WIN32(ERROR_FILE_CORRUPT), §4.2" },
    { VDSSHIM_E_UNSUPPORTED, VDSSHIM_ERROR_VHD_FORMAT_UNSUPPORTED_VERSION, "[U] §4.3" },
    { VDSSHIM_E_WRONG_TYPE, VDSSHIM_ERROR_VHD_INVALID_TYPE, "[U] §4.3: the likeliest for compacting a fixed disk" },
    { VDSSHIM_E_PARENT_NOT_FOUND, VDSSHIM_ERROR_VHD_PARENT_VHD_NOT_FOUND, "[V] §4.3" },
    { VDSSHIM_E_PARENT_MISMATCH, VDSSHIM_ERROR_VHD_CHILD_PARENT_ID_MISMATCH, "[U] ERROR_VHD_CHILD_PARENT_ID_MISMATCH" },
    { VDSSHIM_E_IN_USE, (HRESULT)0x80070020, "[U] HRESULT_FROM_WIN32(ERROR_SHARING_VIOLATION)" },
    { VDSSHIM_E_READONLY, E_ACCESSDENIED, "[U] an open without the access the operation needs (ReadWriteDepth 0 too)" },
    { VDSSHIM_E_CANCELLED, VDS_E_OPERATION_CANCELED, "[V] §5.2: a cancelled task's result" },
    { VDSSHIM_E_EXISTS, (HRESULT)0x80070050, "[U] HRESULT_FROM_WIN32(ERROR_FILE_EXISTS); CreateVDisk over an existing "
                                             "disk returns that disk instead (create_vdisk.c)" },
};

HRESULT hr_from_status(int status, const struct vdsshim_diag *diag)
{
    size_t i;

    /* An I/O error keeps the system's own code when there is one. */
    if (status == VDSSHIM_E_IO)
        return diag && diag->sys_error ? HRESULT_FROM_WIN32(diag->sys_error) : VDS_E_IO_ERROR;
    for (i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
        if (status_map[i].status == status) return status_map[i].hr;
    return E_FAIL;
}
