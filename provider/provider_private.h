/* vdsshim.dll internals: constructors and shared utilities only; each COM
 * class stays static in its own file. */
#ifndef VDSSHIM_PROVIDER_PRIVATE_H
#define VDSSHIM_PROVIDER_PRIVATE_H

#define COBJMACROS
#include <windows.h>
#include <objbase.h>

#include "vdsshim_vds.h"
#include "vds_errors.h"
#include "vdsshim.h"
#include "vdsshim_io.h"
#include "debug.h"

/* Live objects, server locks and running jobs: DllCanUnloadNow says S_OK at 0. */
extern LONG provider_refs;
static inline void provider_ref(void) { InterlockedIncrement(&provider_refs); }
static inline void provider_unref(void) { InterlockedDecrement(&provider_refs); }

struct vd_provider;
struct vdisk;

HRESULT loader_create(REFIID riid, void **out);
HRESULT service_create(IVdsService **out);
HRESULT enum_create(IUnknown **objects, ULONG count, IEnumVdsObject **out);
HRESULT vd_provider_create(IVdsVdProvider **out);
/* The provider's cached VDisk for path, made if there is none (AddVDisk's lookup). */
HRESULT vd_provider_vdisk(IVdsVdProvider *iface, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path,
                          IVdsVDisk **out);
HRESULT vdisk_create(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, IVdsVDisk **out);
const WCHAR *vdisk_path(IVdsVDisk *iface);

/* The logical state machine of a VDisk, kept by the VDisk, driven by its open handle. */
enum attach_state { ATTACH_NONE, ATTACH_RO, ATTACH_RW };
/* The long-running operation a VDisk is in, if any (one at a time). */
enum busy_op { BUSY_NONE, BUSY_COMPACTING, BUSY_MERGING, BUSY_EXPANDING };
struct vdisk_state
{
    BOOL open;
    enum attach_state attached;
    enum busy_op busy;
    BOOL deleted;               /* DetachAndDelete removed the file */
    BOOL have_info;
    struct vdsshim_info info;   /* from the open handle, refreshed after a compaction */
};
/* Read or change the state under the VDisk's lock. */
void vdisk_get_state(IVdsVDisk *iface, struct vdisk_state *state);
void vdisk_set_state(IVdsVDisk *iface, const struct vdisk_state *state);
HRESULT open_vdisk_create(IVdsVDisk *vdisk, VIRTUAL_DISK_ACCESS_MASK access, OPEN_VIRTUAL_DISK_FLAG flags,
                          ULONG rw_depth, IVdsOpenVDisk **out);

/* CreateVDisk's job (create_vdisk.c), once the arguments are checked. */
HRESULT create_vdisk_start(IVdsVdProvider *provider, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, BOOL fixed,
                           const VDS_CREATE_VDISK_PARAMETERS *params, IVdsAsync **async);

/* A job for an async object: runs on a worker thread with progress and cancel. */
struct async_job
{
    HRESULT (*run)(struct async_job *job, int (*progress)(void *ctx, unsigned pct), void *ctx);
    void (*destroy)(struct async_job *job);
    /* Optional: on the worker once run has returned, before the result is
     * signalled. Jobs let go of the open handle here, so that a client that
     * releases its own references after Wait finds the file closed. */
    void (*finish)(struct async_job *job);
    /* Optional: the payload of VDS_ASYNC_OUTPUT after success (interfaces AddRef'd per call). */
    void (*output)(struct async_job *job, VDS_ASYNC_OUTPUT *out);
};
HRESULT async_create(VDS_ASYNC_OUTPUT_TYPE type, struct async_job *job, IVdsAsync **out);

/* The one place engine statuses become HRESULTs (hresult.c). */
HRESULT hr_from_status(int status, const struct vdsshim_diag *diag);

WCHAR *co_strdupW(const WCHAR *s);
char *utf8_from_wide(const WCHAR *s);

#endif
