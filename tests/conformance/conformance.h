/* Shared by the provider conformance suite's files: TAP checks, codes, helpers. */
#ifndef VDSSHIM_CONFORMANCE_H
#define VDSSHIM_CONFORMANCE_H

#define COBJMACROS
#include <windows.h>
#include <stdio.h>
#include <stdarg.h>

#include "vdsshim_vds.h"

#define VDS_E_NOT_SUPPORTED               ((HRESULT)0x80042400)
#define VDS_E_OBJECT_NOT_FOUND            ((HRESULT)0x80042405)
#define VDS_E_OPERATION_PENDING           ((HRESULT)0x80042409)
#define VDS_E_OBJECT_DELETED              ((HRESULT)0x8004240B)
#define VDS_E_CANCEL_TOO_LATE             ((HRESULT)0x8004240C)
#define VDS_E_OPERATION_CANCELED          ((HRESULT)0x8004240D)
#define VDS_E_INVALID_QUERY_PROVIDER_FLAG ((HRESULT)0x8004256C)
#define VDS_E_VDISK_INVALID_OP_STATE      ((HRESULT)0x8004291A)
#define VDS_E_VDISK_PATHNAME_INVALID      ((HRESULT)0x80042927)
#define VDS_E_VD_DISK_IS_EXPANDING        ((HRESULT)0x8004292C)
#define VDS_E_VD_DISK_IS_COMPACTING       ((HRESULT)0x8004292D)
#define VDS_E_VD_DISK_IS_MERGING          ((HRESULT)0x8004292E)
#define VDS_E_VD_IS_ATTACHED              ((HRESULT)0x8004292F)
#define VDS_E_VD_DISK_ALREADY_OPEN        ((HRESULT)0x80042930)
#define VDS_E_VD_ALREADY_COMPACTING       ((HRESULT)0x80042932)
#define VDS_E_VD_ALREADY_ATTACHED         ((HRESULT)0x80042934)
#define VDS_E_VD_ALREADY_DETACHED         ((HRESULT)0x80042935)
#define VDS_E_VD_NOT_ATTACHED_READONLY    ((HRESULT)0x80042936)
#define ERROR_VHD_INVALID_TYPE_HR         ((HRESULT)0xC03A001B)
#define ERROR_VHD_PARENT_NOT_FOUND_HR     ((HRESULT)0xC03A000D)
#define ERROR_FILE_EXISTS_HR              ((HRESULT)0x80070050)
#define ERROR_VHD_FORMAT_UNKNOWN_HR       ((HRESULT)0xC03A0004)
#define ERROR_VIRTDISK_NOT_VIRTUAL_DISK_HR ((HRESULT)0xC03A0015)
#define VDS_E_VD_ALREADY_MERGING          ((HRESULT)0x80042933)
#define VDS_E_VD_DISK_ALREADY_EXPANDING   ((HRESULT)0x80042931)

#include "win_tap.h"
#include "win_fixtures.h"
extern const WCHAR *dir;
extern DWORD clsctx;
extern IVdsServiceLoader *loader;   /* the one LoadService goes through, kept for the whole run */

/* A function, not a macro: the call under test runs exactly once. */
void ok_hr_(HRESULT got, HRESULT want, const char *what, int line);
#define ok_hr(hr, want, what) ok_hr_((hr), (want), (what), __LINE__)

/* NULL out-pointers are the provider's to reject in process. Across processes
 * the client's proxy answers (RPC_X_NULL_REF_POINTER), and wine's proxy even
 * runs the call on the server first, so there the call is not made at all. */
#define ok_null_out(call, what) do { \
        if (clsctx == CLSCTX_INPROC_SERVER) ok_hr_((call), E_POINTER, (what), __LINE__); \
        else printf("# skipped out of process (the proxy answers for NULL pointers): %s\n", (what)); \
    } while (0)

ULONG refcount(IUnknown *unk);
/* Wait, checked to return S_OK; the task's result. out gets a 0x55 sentinel first. */
HRESULT wait_task(IVdsAsync *async, VDS_ASYNC_OUTPUT *out);
/* A failed task's VDS_ASYNC_OUTPUT is all zeros: no pointer to release. */
BOOL output_zeroed(const VDS_ASYNC_OUTPUT *out);
/* The provider's test hook (VDSSHIM_TEST_HOOKS=1): jobs started between
 * hold_jobs and release_jobs wait, running, until released or cancelled. */
HANDLE hold_jobs(void);
void release_jobs(HANDLE hold);
/* The VDisk's state, exactly (GetProperties checked to return S_OK). */
VDS_VDISK_STATE vdisk_state(IVdsVDisk *vdisk);
IVdsOpenVDisk *open_disk(IVdsVdProvider *prov, const WCHAR *name, ULONG device, VIRTUAL_DISK_ACCESS_MASK mask,
                         ULONG rw_depth, IVdsVDisk **vdisk);
/* Attach (read-only or not) and wait: the task's result. */
HRESULT attach(IVdsOpenVDisk *open, BOOL read_only);
void path_of(const WCHAR *name, WCHAR *out);
ULONGLONG file_size(const WCHAR *path);
IVdsVDisk *add_vdisk(IVdsVdProvider *prov, const WCHAR *name, ULONG device);
/* conformance_fixtures.c: makes dir\name afresh (and name.raw, what its
 * guest reads); FALSE, with a "not ok" line, when it cannot. */
BOOL fixture(const WCHAR *name);

/* conformance_ops.c: CreateVDisk, Expand, Merge, DetachAndDelete, busy states. */
void test_create_vdisk(IVdsVdProvider *prov);
void test_expand(IVdsVdProvider *prov);
void test_merge(IVdsVdProvider *prov);
void test_detach_and_delete(IVdsVdProvider *prov);
void test_busy_states(IVdsVdProvider *prov);
void test_atomic_state(IVdsVdProvider *prov);
void test_atomic_open_attach(IVdsVdProvider *prov);
void test_cancel_rules(IVdsVdProvider *prov);
void test_compact_child(IVdsVdProvider *prov);
/* conformance_attach.c: attachments that outlive handles and services, device names. */
void test_attachment_lifetime(IVdsVdProvider *prov);
/* conformance_fs.c: Compact attached read-only (file-system-aware) against detached. */
void test_fs_aware_compact(IVdsVdProvider *prov);
void test_file_closed_after_wait(IVdsVdProvider *prov);

#endif
