/* Win32 file backend: ReadFile/WriteFile with OVERLAPPED offsets,
 * FlushFileBuffers, SetEndOfFile, LockFileEx. Paths are UTF-8. */
#ifdef _WIN32

#include <stdlib.h>
#include <windows.h>

#include "diag.h"
#include "io_platform.h"
#include "paths.h"

/* Largest single ReadFile/WriteFile request (a DWORD, kept well below it). */
#define WIN32_IO_CHUNK (64u << 20)

struct win32_io
{
    struct vdsshim_io io;
    HANDLE file;
};

static struct win32_io *impl_from_io(struct vdsshim_io *io)
{
    return (struct win32_io *)io;
}

static int status_from_win32(struct vdsshim_io *io, DWORD err)
{
    io->last_error = err;
    io->fail_reason = err == ERROR_WRITE_PROTECT ? "read-only file system" : NULL;
    switch (err)
    {
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return VDSSHIM_E_NOSPC;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
        return VDSSHIM_E_NOT_FOUND;
    case ERROR_ACCESS_DENIED:
    case ERROR_WRITE_PROTECT:
        return VDSSHIM_E_ACCESS;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return VDSSHIM_E_IN_USE;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return VDSSHIM_E_NOMEM;
    default:
        return VDSSHIM_E_IO;
    }
}

static OVERLAPPED overlapped_at(uint64_t off)
{
    OVERLAPPED ov = { 0 };

    ov.Offset = (DWORD)off;
    ov.OffsetHigh = (DWORD)(off >> 32);
    return ov;
}

static int win32_read_at(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    struct win32_io *w = impl_from_io(io);
    uint8_t *dst = buf;

    while (len)
    {
        DWORD want = len > WIN32_IO_CHUNK ? WIN32_IO_CHUNK : (DWORD)len, got = 0;
        OVERLAPPED ov = overlapped_at(off);

        if (!ReadFile(w->file, dst, want, &got, &ov))
        {
            DWORD err = GetLastError();
            if (err == ERROR_HANDLE_EOF)
            {
                io->last_error = 0;
                return VDSSHIM_E_IO;
            }
            return status_from_win32(io, err);
        }
        if (!got)
        {
            io->last_error = 0;
            return VDSSHIM_E_IO;
        }
        dst += got;
        len -= got;
        off += got;
    }
    return VDSSHIM_OK;
}

static int win32_write_at(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    struct win32_io *w = impl_from_io(io);
    const uint8_t *src = buf;

    while (len)
    {
        DWORD want = len > WIN32_IO_CHUNK ? WIN32_IO_CHUNK : (DWORD)len, done = 0;
        OVERLAPPED ov = overlapped_at(off);

        if (!WriteFile(w->file, src, want, &done, &ov)) return status_from_win32(io, GetLastError());
        if (!done) return status_from_win32(io, ERROR_WRITE_FAULT);
        src += done;
        len -= done;
        off += done;
    }
    return VDSSHIM_OK;
}

static int win32_flush(struct vdsshim_io *io)
{
    if (!FlushFileBuffers(impl_from_io(io)->file)) return status_from_win32(io, GetLastError());
    return VDSSHIM_OK;
}

static int win32_get_size(struct vdsshim_io *io, uint64_t *size)
{
    LARGE_INTEGER li;

    if (!GetFileSizeEx(impl_from_io(io)->file, &li)) return status_from_win32(io, GetLastError());
    *size = (uint64_t)li.QuadPart;
    return VDSSHIM_OK;
}

static int win32_set_size(struct vdsshim_io *io, uint64_t size)
{
    struct win32_io *w = impl_from_io(io);
    FILE_END_OF_FILE_INFO eof;

    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(w->file, FileEndOfFileInfo, &eof, sizeof(eof)))
        return status_from_win32(io, GetLastError());
    return VDSSHIM_OK;
}

/*
 * Is the file held by a native process under qemu's lock protocol (see
 * io_posix_qemu_lock.c)? Wine turns LockFileEx into a POSIX fcntl lock in
 * wineserver, which conflicts with qemu's OFD read locks when it is a write
 * lock: so an exclusive lock on a byte that qemu (or a native vdsshim) holds
 * fails, and is released at once when it does not. Bytes: 200 + i of every
 * permission we need (someone refuses to share it), 100 + i of every one we
 * refuse to share (someone holds it). Only a handle open for writing gets a
 * write lock from wineserver, so read-only opens cannot see them [V: Wine
 * server/fd.c falls back to a read lock on EBADF]; those are inspections.
 * On Windows nothing else takes these bytes and the probe always passes.
 */
static int held_by_qemu_protocol(HANDLE file, int exclusive)
{
    static const unsigned bytes_write[] = { 200, 201, 202, 203, 100, 101, 102, 103 };
    static const unsigned bytes_read[] = { 200, 101, 103 };
    const unsigned *bytes = exclusive ? bytes_write : bytes_read;
    size_t i, n = exclusive ? 8 : 3;

    for (i = 0; i < n; i++)
    {
        OVERLAPPED ov = overlapped_at(bytes[i]);

        if (!LockFileEx(file, LOCKFILE_FAIL_IMMEDIATELY | LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ov))
        {
            DWORD err = GetLastError();
            if (err == ERROR_LOCK_VIOLATION || err == ERROR_SHARING_VIOLATION) return 1;
            continue;   /* no byte-range locks here: nothing to see */
        }
        ov = overlapped_at(bytes[i]);
        UnlockFileEx(file, 0, 1, 0, &ov);
    }
    return 0;
}

static int win32_lock(struct vdsshim_io *io, int exclusive)
{
    OVERLAPPED ov = overlapped_at(WIN32_LOCK_OFFSET);
    DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
    HANDLE file = impl_from_io(io)->file;

    if (!LockFileEx(file, flags, 0, 1, 0, &ov))
    {
        int st = status_from_win32(io, GetLastError());
        if (st == VDSSHIM_E_IN_USE) io->lock_holder = "vdsshim";
        return st;
    }
    if (held_by_qemu_protocol(file, exclusive))
    {
        ov = overlapped_at(WIN32_LOCK_OFFSET);
        UnlockFileEx(file, 0, 1, 0, &ov);
        io->last_error = ERROR_LOCK_VIOLATION;
        io->lock_holder = "qemu";
        return VDSSHIM_E_IN_USE;
    }
    return VDSSHIM_OK;
}

static void win32_close(struct vdsshim_io *io)
{
    struct win32_io *w = impl_from_io(io);

    CloseHandle(w->file);   /* releases the byte-range lock too */
    free(w);
}

static const struct vdsshim_io_ops win32_io_ops =
{
    win32_read_at,
    win32_write_at,
    win32_flush,
    win32_get_size,
    win32_set_size,
    win32_lock,
    win32_close,
    /* No range operations in this backend yet (FSCTL_DUPLICATE_EXTENTS_TO_FILE,
     * FSCTL_SET_ZERO_DATA and FSCTL_QUERY_ALLOCATED_RANGES would be the Win32
     * ones; not tried under Wine): the engine reads and writes. */
    NULL, NULL, NULL, NULL, NULL,
};

static WCHAR *wide_from_utf8(const char *s)
{
    WCHAR *w;
    int n;

    if ((n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0)) <= 0) return NULL;
    if (!(w = malloc((size_t)n * sizeof(WCHAR)))) return NULL;
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* Access denied for writing on a read-only volume is "read-only file system"
 * (Wine turns EROFS into access denied and reports the mount's ST_RDONLY as
 * FILE_READ_ONLY_VOLUME). */
static int on_read_only_volume(const WCHAR *path)
{
    HANDLE h = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, 0, NULL);
    DWORD flags = 0;
    int ro;

    if (h == INVALID_HANDLE_VALUE) return 0;
    ro = GetVolumeInformationByHandleW(h, NULL, 0, NULL, NULL, &flags, NULL, 0) && (flags & FILE_READ_ONLY_VOLUME);
    CloseHandle(h);
    return ro;
}

static int open_handle(const char *path, DWORD access, DWORD disposition, struct vdsshim_io **out)
{
    struct win32_io *w;
    WCHAR *wpath;
    HANDLE file;
    DWORD err;

    *out = NULL;
    io_open_reason = NULL;
    io_open_error = 0;
    if (!(wpath = wide_from_utf8(path))) return VDSSHIM_E_INVALID_ARG;

    /* Share read and write: exclusivity between vdsshim users comes from the
     * advisory lock, and readers of a disk being compacted may keep reading. */
    file = CreateFileW(wpath, access, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, disposition,
                       FILE_ATTRIBUTE_NORMAL, NULL);
    err = GetLastError();
    if (file == INVALID_HANDLE_VALUE)
    {
        struct vdsshim_io tmp = { 0 };
        DWORD attrs = GetFileAttributesW(wpath);
        int dir = attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY);
        int ro = err == ERROR_WRITE_PROTECT || (err == ERROR_ACCESS_DENIED && !dir && (access & GENERIC_WRITE)
                                                && on_read_only_volume(wpath));
        free(wpath);
        io_open_error = err;
        /* A directory cannot be opened as a file: access denied, which would mislead. */
        if (err == ERROR_ACCESS_DENIED && dir)
        {
            io_open_reason = "is a directory, not a disk image file";
            return VDSSHIM_E_UNKNOWN_FORMAT;
        }
        if (ro) io_open_reason = "read-only file system";
        return err == ERROR_FILE_EXISTS ? VDSSHIM_E_EXISTS : status_from_win32(&tmp, err);
    }
    free(wpath);
    if (GetFileType(file) != FILE_TYPE_DISK)
    {
        CloseHandle(file);
        io_open_reason = "is not a regular file (a pipe or a device), not a disk image file";
        return VDSSHIM_E_UNKNOWN_FORMAT;
    }
    if (!(w = calloc(1, sizeof(*w))))
    {
        CloseHandle(file);
        return VDSSHIM_E_NOMEM;
    }
    w->io.ops = &win32_io_ops;
    w->file = file;
    *out = &w->io;
    return VDSSHIM_OK;
}

int vdsshim_io_open_file(const char *path, int writable, struct vdsshim_io **out)
{
    return open_handle(path, GENERIC_READ | (writable ? GENERIC_WRITE : 0), OPEN_EXISTING, out);
}

int vdsshim_io_create_file(const char *path, struct vdsshim_io **out)
{
    return open_handle(path, GENERIC_READ | GENERIC_WRITE, CREATE_NEW, out);
}

int vdsshim_delete_file(const char *path, struct vdsshim_diag *diag)
{
    struct vdsshim_io tmp = { 0 };
    WCHAR *wpath = wide_from_utf8(path);
    int st = VDSSHIM_OK;

    if (!wpath) return diag_set(diag, VDSSHIM_E_INVALID_ARG, 0, "%s: not a valid UTF-8 path", path);
    if (!DeleteFileW(wpath)) st = diag_file_error(diag, &tmp, status_from_win32(&tmp, GetLastError()), path, "cannot delete");
    free(wpath);
    return st;
}

int vdsshim_rename_file(const char *from, const char *to)
{
    struct vdsshim_io tmp = { 0 };
    WCHAR *wfrom = wide_from_utf8(from), *wto = wide_from_utf8(to);
    int st = VDSSHIM_OK;

    if (!wfrom || !wto) st = VDSSHIM_E_INVALID_ARG;
    /* No MOVEFILE_REPLACE_EXISTING: an existing file stays. */
    else if (!MoveFileExW(wfrom, wto, MOVEFILE_WRITE_THROUGH))
    {
        DWORD err = GetLastError();
        st = err == ERROR_ALREADY_EXISTS || err == ERROR_FILE_EXISTS ? VDSSHIM_E_EXISTS : status_from_win32(&tmp, err);
    }
    free(wfrom);
    free(wto);
    return st;
}

int platform_same_file(const char *a, const char *b)
{
    BY_HANDLE_FILE_INFORMATION ia, ib;
    WCHAR *wa = wide_from_utf8(a), *wb = wide_from_utf8(b);
    HANDLE ha = INVALID_HANDLE_VALUE, hb = INVALID_HANDLE_VALUE;
    int same = 0;

    /* No access rights asked: works on files others hold open exclusively. */
    if (wa) ha = CreateFileW(wa, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (wb) hb = CreateFileW(wb, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (ha != INVALID_HANDLE_VALUE && hb != INVALID_HANDLE_VALUE
        && GetFileInformationByHandle(ha, &ia) && GetFileInformationByHandle(hb, &ib))
        same = ia.dwVolumeSerialNumber == ib.dwVolumeSerialNumber && ia.nFileIndexHigh == ib.nFileIndexHigh
               && ia.nFileIndexLow == ib.nFileIndexLow;
    if (ha != INVALID_HANDLE_VALUE) CloseHandle(ha);
    if (hb != INVALID_HANDLE_VALUE) CloseHandle(hb);
    free(wa);
    free(wb);
    return same;
}

char *platform_path_absolute(const char *path)
{
    WCHAR *wpath = wide_from_utf8(path), *full = NULL;
    char *out = NULL;
    DWORD n;
    int m;

    if (wpath && (n = GetFullPathNameW(wpath, 0, NULL, NULL)) && (full = malloc(n * sizeof(WCHAR)))
        && GetFullPathNameW(wpath, n, full, NULL)
        && (m = WideCharToMultiByte(CP_UTF8, 0, full, -1, NULL, 0, NULL, NULL)) > 0 && (out = malloc((size_t)m)))
        WideCharToMultiByte(CP_UTF8, 0, full, -1, out, m, NULL, NULL);
    free(wpath);
    free(full);
    return out;
}

int vdsshim_random_bytes(void *buf, size_t len)
{
    /* RtlGenRandom (SystemFunction036): no CNG dependency, present on every Windows and Wine. */
    BOOLEAN (WINAPI *gen)(PVOID, ULONG);
    HMODULE advapi = GetModuleHandleW(L"advapi32.dll");

    if (!advapi) advapi = LoadLibraryW(L"advapi32.dll");
    gen = advapi ? (BOOLEAN (WINAPI *)(PVOID, ULONG))(void *)GetProcAddress(advapi, "SystemFunction036") : NULL;
    if (!gen || !gen(buf, (ULONG)len)) return VDSSHIM_E_IO;
    return VDSSHIM_OK;
}

#endif /* _WIN32 */
