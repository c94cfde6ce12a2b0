/* POSIX file backend: pread/pwrite/fdatasync/ftruncate/flock (+ qemu's lock bytes). */
#ifndef _WIN32

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "io_platform.h"
#include "paths.h"

struct posix_io
{
    struct vdsshim_io io;
    int fd;
    unsigned refused;       /* POSIX_NO_CLONE, POSIX_NO_COPY: asked once, refused */
};

static struct posix_io *impl_from_io(struct vdsshim_io *io)
{
    return (struct posix_io *)io;
}

static int status_from_errno(struct vdsshim_io *io, int err)
{
    io->last_error = (uint32_t)err;
    io->fail_reason = err == EROFS ? "read-only file system" : NULL;
    switch (err)
    {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return VDSSHIM_E_NOSPC;
    case ENOENT:
    case ENOTDIR:
        return VDSSHIM_E_NOT_FOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return VDSSHIM_E_ACCESS;
    case ENOMEM:
        return VDSSHIM_E_NOMEM;
    default:
        return VDSSHIM_E_IO;
    }
}

static int posix_read_at(struct vdsshim_io *io, void *buf, size_t len, uint64_t off)
{
    struct posix_io *p = impl_from_io(io);
    uint8_t *dst = buf;

    while (len)
    {
        ssize_t n = pread(p->fd, dst, len, (off_t)off);
        if (n < 0)
        {
            if (errno == EINTR) continue;
            return status_from_errno(io, errno);
        }
        if (n == 0)
        {
            io->last_error = 0;     /* short read: past the end of the file */
            return VDSSHIM_E_IO;
        }
        dst += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return VDSSHIM_OK;
}

static int posix_write_at(struct vdsshim_io *io, const void *buf, size_t len, uint64_t off)
{
    struct posix_io *p = impl_from_io(io);
    const uint8_t *src = buf;

    while (len)
    {
        ssize_t n = pwrite(p->fd, src, len, (off_t)off);
        if (n < 0)
        {
            if (errno == EINTR) continue;
            return status_from_errno(io, errno);
        }
        src += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return VDSSHIM_OK;
}

static int posix_flush(struct vdsshim_io *io)
{
    if (fdatasync(impl_from_io(io)->fd) < 0) return status_from_errno(io, errno);
    return VDSSHIM_OK;
}

static int posix_get_size(struct vdsshim_io *io, uint64_t *size)
{
    struct stat st;

    if (fstat(impl_from_io(io)->fd, &st) < 0) return status_from_errno(io, errno);
    *size = (uint64_t)st.st_size;
    return VDSSHIM_OK;
}

static int posix_set_size(struct vdsshim_io *io, uint64_t size)
{
    if (ftruncate(impl_from_io(io)->fd, (off_t)size) < 0) return status_from_errno(io, errno);
    return VDSSHIM_OK;
}

static int posix_lock(struct vdsshim_io *io, int exclusive)
{
    /* flock, not fcntl locks: those are per process and vanish when any fd
     * of the file is closed, which a parent-chain open would do. */
    int fd = impl_from_io(io)->fd, st;

    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
    {
        if (errno == EWOULDBLOCK)
        {
            io->last_error = (uint32_t)errno;
            io->lock_holder = "vdsshim";
            return VDSSHIM_E_IN_USE;
        }
        return status_from_errno(io, errno);
    }
    if ((st = posix_qemu_lock(fd, exclusive, &io->lock_holder, &io->last_error)))
    {
        flock(fd, LOCK_UN);
        return st;
    }
    return VDSSHIM_OK;
}

static void posix_close(struct vdsshim_io *io)
{
    struct posix_io *p = impl_from_io(io);

    close(p->fd);
    free(p);
}

static int posix_io_copy_range(struct vdsshim_io *io, uint64_t src, uint64_t dst, uint64_t len, int *how)
{
    struct posix_io *p = impl_from_io(io);
    int r = posix_copy_range(p->fd, src, dst, len, &p->refused, how);

    return r < 0 ? status_from_errno(io, errno) : r ? VDSSHIM_E_UNSUPPORTED : VDSSHIM_OK;
}

static int posix_io_punch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    int r = posix_punch(impl_from_io(io)->fd, off, len);

    return r < 0 ? status_from_errno(io, errno) : r ? VDSSHIM_E_UNSUPPORTED : VDSSHIM_OK;
}

static int posix_io_next_data(struct vdsshim_io *io, uint64_t off, uint64_t *data, uint64_t *hole)
{
    return posix_next_data(impl_from_io(io)->fd, off, data, hole) ? status_from_errno(io, errno) : VDSSHIM_OK;
}

static int posix_io_allocated(struct vdsshim_io *io, uint64_t *bytes)
{
    return posix_allocated(impl_from_io(io)->fd, bytes) ? status_from_errno(io, errno) : VDSSHIM_OK;
}

static int posix_io_prefetch(struct vdsshim_io *io, uint64_t off, uint64_t len)
{
    /* The kernel reads ahead while the engine checks what it already has. */
    int err = posix_fadvise(impl_from_io(io)->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);

    return err ? status_from_errno(io, err) : VDSSHIM_OK;
}

static const struct vdsshim_io_ops posix_io_ops =
{
    posix_read_at,
    posix_write_at,
    posix_flush,
    posix_get_size,
    posix_set_size,
    posix_lock,
    posix_close,
    posix_io_copy_range,
    posix_io_punch,
    posix_io_next_data,
    posix_io_allocated,
    posix_io_prefetch,
};

static int open_failed(int err)
{
    struct vdsshim_io tmp = { 0 };

    io_open_error = (uint32_t)err;
    switch (err)
    {
    case ELOOP: io_open_reason = "too many levels of symbolic links"; return VDSSHIM_E_NOT_FOUND;
    case EROFS: io_open_reason = "read-only file system"; break;
    case EISDIR: io_open_reason = "is a directory, not a disk image file"; return VDSSHIM_E_UNKNOWN_FORMAT;
    default: io_open_reason = NULL; break;
    }
    return status_from_errno(&tmp, err);
}

/* Only regular files are disk images here: a FIFO or a device would block,
 * never end or change under us. */
static const char *not_regular(mode_t mode)
{
    if (S_ISREG(mode)) return NULL;
    if (S_ISDIR(mode)) return "is a directory, not a disk image file";
    if (S_ISFIFO(mode)) return "is a FIFO, not a disk image file";
    if (S_ISCHR(mode)) return "is a character device, not a disk image file";
    if (S_ISBLK(mode)) return "is a block device, not a disk image file";
    if (S_ISSOCK(mode)) return "is a socket, not a disk image file";
    return "is not a regular file";
}

int vdsshim_io_open_file(const char *path, int writable, struct vdsshim_io **out)
{
    struct posix_io *p;
    struct stat st;
    int fd, fl;

    *out = NULL;
    io_open_reason = NULL;
    io_open_error = 0;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer forever. */
    fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return open_failed(errno);
    if (fstat(fd, &st) < 0)
    {
        int err = errno;
        close(fd);
        return open_failed(err);
    }
    if ((io_open_reason = not_regular(st.st_mode)))
    {
        close(fd);
        return VDSSHIM_E_UNKNOWN_FORMAT;
    }
    if ((fl = fcntl(fd, F_GETFL)) >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (!(p = calloc(1, sizeof(*p))))
    {
        close(fd);
        return VDSSHIM_E_NOMEM;
    }
    p->io.ops = &posix_io_ops;
    p->fd = fd;
    /* Scans and copies stream through the file: ask for a larger readahead. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = &p->io;
    return VDSSHIM_OK;
}

int vdsshim_io_create_file(const char *path, struct vdsshim_io **out)
{
    struct posix_io *p;
    int fd;

    *out = NULL;
    io_open_reason = NULL;
    io_open_error = 0;
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return errno == EEXIST ? VDSSHIM_E_EXISTS : open_failed(errno);
    if (!(p = calloc(1, sizeof(*p))))
    {
        close(fd);
        unlink(path);
        return VDSSHIM_E_NOMEM;
    }
    p->io.ops = &posix_io_ops;
    p->fd = fd;
    *out = &p->io;
    return VDSSHIM_OK;
}

int vdsshim_delete_file(const char *path, struct vdsshim_diag *diag)
{
    struct vdsshim_io tmp = { 0 };

    if (!unlink(path)) return VDSSHIM_OK;
    return diag_file_error(diag, &tmp, status_from_errno(&tmp, errno), path, "cannot delete");
}

int vdsshim_rename_file(const char *from, const char *to)
{
    struct vdsshim_io tmp = { 0 };
    const char *slash = strrchr(to, '/');
    char *dir;
    int fd;

    /* link + unlink: a rename that cannot replace, on every file system. */
    if (link(from, to)) return errno == EEXIST ? VDSSHIM_E_EXISTS : status_from_errno(&tmp, errno);
    if (unlink(from)) return status_from_errno(&tmp, errno);
    /* The new name durable: the directory's entry flushed. */
    if (!(dir = strdup(slash ? to : ".")))
        return VDSSHIM_E_NOMEM;
    if (slash) dir[slash == to ? 1 : slash - to] = 0;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0)
    {
        fsync(fd);
        close(fd);
    }
    free(dir);
    return VDSSHIM_OK;
}

int platform_same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

char *platform_path_absolute(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir, *real, *out;

    if ((real = realpath(path, NULL))) return real;
    /* Not there yet (a file about to be created): its directory's real path + its name. */
    if (!slash) return platform_path_absolute_join(".", path);
    if (!(dir = malloc((size_t)(slash - path) + 2))) return NULL;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash == path ? 1 : slash - path] = 0;
    if (slash == path) dir[0] = '/';
    out = platform_path_absolute_join(dir, slash + 1);
    free(dir);
    return out;
}

char *platform_path_absolute_join(const char *dir, const char *name)
{
    char *real = realpath(dir, NULL), *out;

    if (!real) return NULL;
    if ((out = malloc(strlen(real) + strlen(name) + 2)))
        sprintf(out, "%s%s%s", real, real[strlen(real) - 1] == '/' ? "" : "/", name);
    free(real);
    return out;
}

int vdsshim_random_bytes(void *buf, size_t len)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    uint8_t *p = buf;

    if (fd < 0) return VDSSHIM_E_IO;
    while (len)
    {
        ssize_t n = read(fd, p, len);
        if (n <= 0)
        {
            if (n < 0 && errno == EINTR) continue;
            close(fd);
            return VDSSHIM_E_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return VDSSHIM_OK;
}

#endif /* !_WIN32 */
