/*
 * Engine statuses become VDS HRESULTs here: the shared Win32 table
 * (shared/status_win32.c) through HRESULT_FROM_WIN32, which leaves the
 * ERROR_VHD_* codes as they are, and gives E_INVALIDARG, E_ACCESSDENIED and
 * E_OUTOFMEMORY for 87, 5 and 14. VDS has its own words for two: a
 * cancelled task ends with VDS_E_OPERATION_CANCELED (vds-reference.md §5.2
 * [V]), and an I/O error with no system code is VDS_E_IO_ERROR.
 */
#include "provider_private.h"
#include "status_win32.h"

HRESULT hr_from_status(int status, const struct vdsshim_diag *diag)
{
    if (status == VDSSHIM_E_CANCELLED) return VDS_E_OPERATION_CANCELED;
    if (status == VDSSHIM_E_IO && !(diag && diag->sys_error)) return VDS_E_IO_ERROR;
    if (status == VDSSHIM_E_NOMEM) return E_OUTOFMEMORY;
    return HRESULT_FROM_WIN32(win32_from_status(status, diag));
}
