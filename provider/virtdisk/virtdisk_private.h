/* virtdisk.dll internals: the handle table, the operations, shared helpers. */
#ifndef VDSSHIM_VIRTDISK_PRIVATE_H
#define VDSSHIM_VIRTDISK_PRIVATE_H

#define VDSSHIM_VIRTDISK_BUILD
#include "vdsshim_virtdisk.h"
#include "vdsshim.h"
#include "status_win32.h"
#include "debug.h"

/* An open virtual disk: what a handle OpenVirtualDisk returned names
 * (handle.c). refcount counts its users: the table while the client's
 * handle lives, each call and each running operation; at 0 the image (and
 * the file's lock) closes. memrefs keeps the memory: the users together,
 * and the wait on the pipe until its callback has run. */
struct vd_disk
{
    LONG refcount;
    LONG memrefs;
    LONG closed;                    /* the client's handle is gone: whoever sets it drops the table's use */
    WCHAR pipe_name[64];            /* the handle's identity (handle.c) */
    HANDLE server, watch_event, watch_wait;
    OVERLAPPED watch;
    BYTE watch_byte;
    CRITICAL_SECTION cs;
    struct vdsshim_image *img;
    VIRTUAL_STORAGE_TYPE type;      /* resolved: VHD or VHDX */
    WCHAR *path;
    VIRTUAL_DISK_ACCESS_MASK mask;  /* V1: as given; V2: NONE */
    BOOL v2, info_only, read_only;
    ULONG rw_depth;
    BOOL attached, attached_ro;
    BOOL busy;                      /* an operation runs */
    struct vd_op *ops;              /* operations started with an OVERLAPPED */
};

/* A new handle for disk (which the table then owns); its Win32 handle. */
DWORD vd_handle_create(struct vd_disk *disk, HANDLE *out);
/* The disk a handle names, with a reference, or NULL (ERROR_INVALID_HANDLE). */
struct vd_disk *vd_handle_get(HANDLE handle);
void vd_disk_release(struct vd_disk *disk);
/* Retire the handles their client has closed (handle.c). */
void vd_handle_retire_closed(void);

/* Open the engine image for a new disk record (open.c). */
DWORD vd_disk_open(const VIRTUAL_STORAGE_TYPE *type, const WCHAR *path, VIRTUAL_DISK_ACCESS_MASK mask,
                   OPEN_VIRTUAL_DISK_FLAG flags, BOOL v2, BOOL info_only, BOOL read_only, ULONG rw_depth,
                   HANDLE *handle);

/* The records of a closed disk's operations (ops.c). */
void vd_ops_free(struct vd_op *ops);

/* Whether the handle may write metadata (Compact, Merge, Expand, Resize). */
BOOL vd_disk_can_metaops(const struct vd_disk *disk);

char *vd_utf8(const WCHAR *s);
WCHAR *vd_wide(const char *s);

#endif
