/*
 * The handles OpenVirtualDisk and CreateVirtualDisk return.
 *
 * On Windows the handle is a file object of the virtual-disk driver, closed
 * with CloseHandle, which takes the file's lock with it. Under Wine,
 * CloseHandle goes to ntdll and wineserver: no DLL code runs, so a table
 * keyed by the handle's value can neither free its state nor release the
 * file, and a value that CloseHandle freed and some other CreateFile got
 * again would reach stale state (virtdisk-reference.md §4.3).
 *
 * So each handle is the client end of a named pipe this DLL creates, with
 * a name made for it alone ("\vdsshim-virtdisk-PID-N"):
 *   - the handle is a real Win32 handle: CloseHandle, DuplicateHandle and
 *     WaitForSingleObject work on it as on any;
 *   - the DLL keeps the server end with an overlapped read pending on it.
 *     When the client's last handle to the pipe closes, that read completes
 *     (the pipe is broken), a wait on its event fires, and the disk's
 *     reference goes: the image, and the file's lock, close as soon as no
 *     call or operation still uses them [V: Wine 8, checked];
 *   - every call identifies its handle by the pipe's name
 *     (GetFileInformationByHandleEx, FileNameInfo [V: Wine 8 answers it for
 *     pipes]), not by its value: a reused value names another pipe or
 *     another kind of object, and is ERROR_INVALID_HANDLE, never the old
 *     state.
 * While an operation started with an OVERLAPPED runs, a read is pending
 * on the client end, so that CancelIoEx(handle, overlapped) has something
 * to cancel (ops.c).
 * The cost: ReadFile/WriteFile on the handle do not reach the virtual disk
 * (the RawIO sample's use after an attach).
 */
#include <stdio.h>
#include <stdlib.h>

#include "virtdisk_private.h"

#define PIPE_PREFIX L"\\\\.\\pipe\\"

static CRITICAL_SECTION table_cs;
static CRITICAL_SECTION_DEBUG table_cs_debug =
{
    0, 0, &table_cs,
    { &table_cs_debug.ProcessLocksList, &table_cs_debug.ProcessLocksList },
    0, 0, 0, 0, 0
};
static CRITICAL_SECTION table_cs = { &table_cs_debug, -1, 0, 0, 0, 0 };

struct table_entry
{
    struct vd_disk *disk;
    struct table_entry *next;
};
static struct table_entry *table;
static LONG next_id;

static void disk_free(struct vd_disk *disk)
{
    if (InterlockedDecrement(&disk->memrefs)) return;
    if (disk->server) CloseHandle(disk->server);
    if (disk->watch_event) CloseHandle(disk->watch_event);
    vd_ops_free(disk->ops);
    DeleteCriticalSection(&disk->cs);
    free(disk->path);
    free(disk);
}

void vd_disk_release(struct vd_disk *disk)
{
    if (InterlockedDecrement(&disk->refcount)) return;
    TRACE("closing %s\n", debugstr_w(disk->path));
    if (disk->img) vdsshim_close(disk->img);
    disk->img = NULL;
    disk_free(disk);
}

static void table_remove(struct vd_disk *disk)
{
    struct table_entry **p, *e;

    EnterCriticalSection(&table_cs);
    for (p = &table; (e = *p); p = &e->next)
        if (e->disk == disk)
        {
            *p = e->next;
            free(e);
            break;
        }
    LeaveCriticalSection(&table_cs);
}

/* The client's handle is gone: the table's use goes, once. */
static void handle_gone(struct vd_disk *disk)
{
    if (InterlockedExchange(&disk->closed, 1)) return;
    table_remove(disk);
    vd_disk_release(disk);
}

/* Callbacks between their start and the end of their handle_gone: an Open
 * waits for them (vd_handle_retire_closed), or one could take the entry off
 * the table and still hold the image while the Open finds the file in use
 * (ERROR_SHARING_VIOLATION on a reopen right after CloseHandle, under load). */
static LONG retiring;

/* The pending read on the server end ended: the client closed its handle. */
static void CALLBACK handle_closed(void *ctx, BOOLEAN timed_out)
{
    struct vd_disk *disk = ctx;

    (void)timed_out;
    InterlockedIncrement(&retiring);
    UnregisterWait(disk->watch_wait);   /* from its own callback: does not wait */
    handle_gone(disk);
    InterlockedDecrement(&retiring);
    disk_free(disk);                    /* the wait's hold on the memory */
}

/* CloseHandle breaks the pipe at once, but the wait's callback runs a little
 * later on another thread: an Open right after a close (as Windows allows)
 * first retires every handle whose pipe is already broken, so that their
 * images, and the locks on their files and their parents, close now. */
void vd_handle_retire_closed(void)
{
    struct vd_disk *gone[64];
    struct table_entry *e;
    ULONG n = 0, i;
    DWORD avail;

    EnterCriticalSection(&table_cs);
    for (e = table; e && n < ARRAYSIZE(gone); e = e->next)
        if (!PeekNamedPipe(e->disk->server, NULL, 0, NULL, &avail, NULL) && GetLastError() == ERROR_BROKEN_PIPE)
        {
            gone[n] = e->disk;
            InterlockedIncrement(&gone[n]->refcount);
            n++;
        }
    LeaveCriticalSection(&table_cs);
    for (i = 0; i < n; i++)
    {
        handle_gone(gone[i]);
        vd_disk_release(gone[i]);
    }
    /* A callback already past the table's lookup finishes its release first. */
    while (InterlockedCompareExchange(&retiring, 0, 0)) Sleep(1);
}

DWORD vd_handle_create(struct vd_disk *disk, HANDLE *out)
{
    WCHAR name[80];
    struct table_entry *e;
    HANDLE client;
    DWORD err, mode;

    swprintf(disk->pipe_name, ARRAYSIZE(disk->pipe_name), L"\\vdsshim-virtdisk-%lu-%ld",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&next_id));
    swprintf(name, ARRAYSIZE(name), PIPE_PREFIX L"%ls", disk->pipe_name + 1);
    /* Duplex, in messages: the server end completes an operation's read on
     * the client end with a one- or two-byte message (ops.c). */
    disk->server = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                    PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_REJECT_REMOTE_CLIENTS, 1, 0, 0, 0,
                                    NULL);
    if (disk->server == INVALID_HANDLE_VALUE)
    {
        disk->server = NULL;
        return GetLastError();
    }
    client = CreateFileW(name, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED,
                         NULL);
    if (client == INVALID_HANDLE_VALUE) return GetLastError();
    mode = PIPE_READMODE_MESSAGE;
    if (!SetNamedPipeHandleState(client, &mode, NULL, NULL))
    {
        err = GetLastError();
        CloseHandle(client);
        return err;
    }
    if (!(disk->watch_event = CreateEventW(NULL, TRUE, FALSE, NULL)) || !(e = calloc(1, sizeof(*e))))
    {
        err = disk->watch_event ? ERROR_NOT_ENOUGH_MEMORY : GetLastError();
        CloseHandle(client);
        return err;
    }
    disk->watch.hEvent = disk->watch_event;
    /* Nothing is ever written: the read ends only when the pipe breaks. */
    if (ReadFile(disk->server, &disk->watch_byte, 1, NULL, &disk->watch) || GetLastError() != ERROR_IO_PENDING
        || !RegisterWaitForSingleObject(&disk->watch_wait, disk->watch_event, handle_closed, disk, INFINITE,
                                        WT_EXECUTEONLYONCE))
    {
        err = GetLastError();
        free(e);
        CloseHandle(client);
        return err ? err : ERROR_GEN_FAILURE;
    }
    e->disk = disk;         /* the caller's use becomes the table's */
    InterlockedIncrement(&disk->memrefs);   /* the wait's */
    EnterCriticalSection(&table_cs);
    e->next = table;
    table = e;
    LeaveCriticalSection(&table_cs);
    *out = client;
    return ERROR_SUCCESS;
}

struct vd_disk *vd_handle_get(HANDLE handle)
{
    BYTE buf[sizeof(FILE_NAME_INFO) + 80 * sizeof(WCHAR)];
    FILE_NAME_INFO *info = (FILE_NAME_INFO *)buf;
    struct vd_disk *found = NULL;
    struct table_entry *e;
    size_t len;

    if (!handle || handle == INVALID_HANDLE_VALUE || GetFileType(handle) != FILE_TYPE_PIPE) return NULL;
    if (!GetFileInformationByHandleEx(handle, FileNameInfo, info, sizeof(buf) - sizeof(WCHAR))) return NULL;
    len = info->FileNameLength / sizeof(WCHAR);
    EnterCriticalSection(&table_cs);
    for (e = table; e && !found; e = e->next)
        if (wcslen(e->disk->pipe_name) == len && !wcsncmp(e->disk->pipe_name, info->FileName, len))
        {
            found = e->disk;
            InterlockedIncrement(&found->refcount);
        }
    LeaveCriticalSection(&table_cs);
    return found;
}
