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

/* Live objects, server locks and running jobs: DllCanUnloadNow says S_OK at
 * 0, and the shared server (server.c) may stop (factory.c). */
extern LONG provider_refs;
static inline void provider_ref(void) { InterlockedIncrement(&provider_refs); }
static inline void provider_unref(void) { InterlockedDecrement(&provider_refs); }

/* The class factory of CLSID_VdsLoader (factory.c), static: it does not count. */
IClassFactory *loader_factory(void);
/* The server's stop: succeeds, and refuses every later activation with
 * CO_E_SERVER_STOPPING, only while nothing lives (no object, lock or job). */
BOOL server_try_stop(void);

/*
 * Every COM object handed out belongs to one client (client.c), which the
 * object names in its link; a client's objects are disconnected when its
 * process ends. key lets a client find its own COM object for a piece of
 * shared state (the provider, a VDisk), so that it sees one identity.
 */
struct client;
struct client_link
{
    struct client_link *next, *prev;
    struct client *client;
    IUnknown *object;
    LONG *refcount;
    const void *key;
};
/* The client making the current call (this process outside a call). */
HRESULT client_of_caller(struct client **out);
void client_release(struct client *c);
DWORD client_pid(const struct client *c);
/* Called by an object's constructor, and untrack from its destructor. */
void client_track(struct client *c, struct client_link *link, IUnknown *object, LONG *refcount, const void *key);
void client_untrack(struct client_link *link);
/* The client's live object made with key, AddRef'd, or NULL. */
IUnknown *client_lookup(struct client *c, const void *key);

struct vd_provider;
struct vdisk;

HRESULT loader_create(struct client *client, REFIID riid, void **out);
HRESULT service_create(struct client *client, IVdsService **out);
BOOL is_local_machine(const WCHAR *machine);
HRESULT enum_create(struct client *client, IUnknown **objects, ULONG count, IEnumVdsObject **out);
/* The client's COM object for the process's one provider. */
HRESULT vd_provider_create(struct client *client, IVdsVdProvider **out);
struct client *vd_provider_client(IVdsVdProvider *iface);
/* The provider's cached VDisk for path, made if there is none (AddVDisk's
 * lookup), as the COM object of the client that iface belongs to. */
HRESULT vd_provider_vdisk(IVdsVdProvider *iface, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path,
                          IVdsVDisk **out);

/* A VDisk's shared record (vdisk.c): the provider's list holds these; each
 * client sees one through its own IVdsVDisk. */
struct vdisk *vdisk_record_create(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path);
void vdisk_record_release(struct vdisk *v);
const WCHAR *vdisk_record_path(const struct vdisk *v);
/* Whether AddVDisk's type fits the known VDisk (UNKNOWN fits any). */
BOOL vdisk_record_type_agrees(const struct vdisk *v, const VIRTUAL_STORAGE_TYPE *type);
/* Whether name is the device name this VDisk reports while attached. */
BOOL vdisk_record_is_device(struct vdisk *v, const WCHAR *name);
/* client's IVdsVDisk for the record: the same object while it lives. */
HRESULT vdisk_object(struct client *client, struct vdisk *v, IVdsVDisk **out);
struct client *vdisk_client(IVdsVDisk *iface);
const WCHAR *vdisk_path(IVdsVDisk *iface);
const VIRTUAL_STORAGE_TYPE *vdisk_type(IVdsVDisk *iface);
/* The prefix of those names: "\\?\VdsshimVDisk{". */
#define VDISK_DEVICE_PREFIX L"\\\\?\\VdsshimVDisk{"
/* The provider, and with it the list of VDisks every client shares, lives
 * while a client holds a view of it or of one of its VDisks (so also while
 * a handle is open or a job runs), and while a disk is attached: an
 * attachment outlives its handles and clients. One hold per view and per
 * attachment (vd_provider.c). */
void vd_provider_hold(BOOL hold);

/*
 * The logical state machine of a VDisk, kept by the VDisk, driven by its
 * open handle. Every transition is one check-and-set under the VDisk's lock
 * (vdisk.c), so two threads cannot both pass a check: the answers below are
 * the codes of the check that failed.
 */
enum attach_state { ATTACH_NONE, ATTACH_RO, ATTACH_RW };
/* The long-running operation a VDisk is in, if any (one at a time). */
enum busy_op { BUSY_NONE, BUSY_COMPACTING, BUSY_MERGING, BUSY_EXPANDING, BUSY_DELETING };
struct vdisk_state
{
    ULONG handles;              /* open IVdsOpenVDisk objects, of every client */
    BOOL exclusive;             /* one of them wants the VDisk alone */
    enum attach_state attached;
    enum busy_op busy;
    BOOL deleted;               /* DetachAndDelete removed the file */
    BOOL have_info;
    struct vdsshim_info info;   /* from the open handle, refreshed after an operation */
};
void vdisk_snapshot(IVdsVDisk *iface, struct vdisk_state *state);
/* Held around a handle's open of the file, so that no look collides with it. */
void vdisk_file_lock(IVdsVDisk *iface, BOOL lock);
/* Open: VDS_E_VD_DISK_ALREADY_OPEN unless both the new handle and those
 * open only look or detach (vdisk.c); end with the new handle's info, or
 * NULL when the engine refused the file. */
HRESULT vdisk_open_begin(IVdsVDisk *iface, VIRTUAL_DISK_ACCESS_MASK access);
void vdisk_open_end(IVdsVDisk *iface, const struct vdsshim_info *info);
/* The last reference to the handle went: the attachment stays (§2.2.2.19.1.1). */
void vdisk_close(IVdsVDisk *iface);
/* img is the handle's image slot, read under the lock: NULL once the handle died. */
HRESULT vdisk_attach(IVdsVDisk *iface, struct vdsshim_image *const *img, enum attach_state how);
HRESULT vdisk_detach(IVdsVDisk *iface, struct vdsshim_image *const *img);
/* Start op (the rules of each op in vdisk.c); *attached says how the disk was. */
HRESULT vdisk_op_begin(IVdsVDisk *iface, struct vdsshim_image *const *img, enum busy_op op, enum attach_state *attached);
/* The same rules, nothing changed: for a call whose task fails at once. */
HRESULT vdisk_op_check(IVdsVDisk *iface, struct vdsshim_image *const *img, enum busy_op op);
void vdisk_op_end(IVdsVDisk *iface, const struct vdsshim_info *info);
/* A short read-only look at the file (no parents): its info, or the engine's refusal. */
int vdisk_peek(const char *path, struct vdsshim_info *info, struct vdsshim_diag *diag);
/* Whether a file of format is what type names (UNKNOWN names any). */
BOOL vdisk_type_matches(const VIRTUAL_STORAGE_TYPE *type, enum vdsshim_format format);
/* DetachAndDelete's end: the handle's image is gone either way (*img = NULL). */
void vdisk_delete_end(IVdsVDisk *iface, struct vdsshim_image **img, BOOL deleted);
HRESULT open_vdisk_create(IVdsVDisk *vdisk, VIRTUAL_DISK_ACCESS_MASK access, OPEN_VIRTUAL_DISK_FLAG flags,
                          ULONG rw_depth, IVdsOpenVDisk **out);

/* CreateVDisk's job (create_vdisk.c), once the arguments are checked. */
HRESULT create_vdisk_start(IVdsVdProvider *provider, const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, BOOL fixed,
                           const VDS_CREATE_VDISK_PARAMETERS *params, IVdsAsync **async);

/* A job for an async object: runs on a worker thread with progress and cancel. */
struct async_job
{
    BOOL cancellable;           /* run stops when progress says so (the engine's jobs) */
    HRESULT (*run)(struct async_job *job, int (*progress)(void *ctx, unsigned pct), void *ctx);
    void (*destroy)(struct async_job *job);
    /* Optional: on the worker once run has returned, before the result is
     * signalled. Jobs let go of the open handle here, so that a client that
     * releases its own references after Wait finds the file closed. */
    void (*finish)(struct async_job *job);
    /* Optional: the payload of VDS_ASYNC_OUTPUT after success (interfaces AddRef'd per call). */
    void (*output)(struct async_job *job, VDS_ASYNC_OUTPUT *out);
};
HRESULT async_create(struct client *client, VDS_ASYNC_OUTPUT_TYPE type, struct async_job *job, IVdsAsync **out);
/* An async object whose task has already failed with result. */
HRESULT async_create_failed(struct client *client, VDS_ASYNC_OUTPUT_TYPE type, HRESULT result, IVdsAsync **out);

/* Critical sections named for debugging, as Wine names its own: Wine's
 * ntdll prints DebugInfo->Spare[0] as the name in its lock-timeout
 * messages. mingw's header has the newer Windows layout, where the same 8
 * bytes are Flags, CreatorBackTraceIndexHigh and SpareWORD. Windows may run
 * without debug info ((void *)-1): then nothing is named. */
static inline DWORD_PTR *cs_name_slot(CRITICAL_SECTION *cs)
{
    if (!cs->DebugInfo || cs->DebugInfo == (void *)(ULONG_PTR)-1) return NULL;
    return (DWORD_PTR *)(void *)&cs->DebugInfo->Flags;
}
static inline void named_cs_init(CRITICAL_SECTION *cs, const char *name)
{
    DWORD_PTR *slot;

    InitializeCriticalSection(cs);
    if ((slot = cs_name_slot(cs))) *slot = (DWORD_PTR)name;
}
static inline void named_cs_delete(CRITICAL_SECTION *cs)
{
    DWORD_PTR *slot;

    if ((slot = cs_name_slot(cs))) *slot = 0;
    DeleteCriticalSection(cs);
}

/* The one place engine statuses become HRESULTs (hresult.c). */
HRESULT hr_from_status(int status, const struct vdsshim_diag *diag);

WCHAR *co_strdupW(const WCHAR *s);
char *utf8_from_wide(const WCHAR *s);

#endif
