/*
 * LD_PRELOAD for host_extents.sh: the host refuses every range operation
 * the POSIX backend tries (FICLONERANGE and copy_file_range with
 * EOPNOTSUPP and ENOSYS, hole punching with EOPNOTSUPP, SEEK_DATA and
 * SEEK_HOLE with EINVAL), as an old kernel or a FUSE file system would, so
 * the engine's read-and-write fall-backs run on a real file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t len, unsigned flags)
{
    (void)in; (void)in_off; (void)out; (void)out_off; (void)len; (void)flags;
    errno = ENOSYS;
    return -1;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    (void)fd; (void)mode; (void)off; (void)len;
    errno = EOPNOTSUPP;
    return -1;
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    (void)fd; (void)mode; (void)off; (void)len;
    errno = EOPNOTSUPP;
    return -1;
}

off_t lseek(int fd, off_t off, int whence)
{
    static off_t (*next)(int, off_t, int);

    if (whence == SEEK_DATA || whence == SEEK_HOLE)
    {
        errno = EINVAL;
        return -1;
    }
    if (!next) next = (off_t (*)(int, off_t, int))dlsym(RTLD_NEXT, "lseek");
    return next(fd, off, whence);
}

off64_t lseek64(int fd, off64_t off, int whence)
{
    static off64_t (*next)(int, off64_t, int);

    if (whence == SEEK_DATA || whence == SEEK_HOLE)
    {
        errno = EINVAL;
        return -1;
    }
    if (!next) next = (off64_t (*)(int, off64_t, int))dlsym(RTLD_NEXT, "lseek64");
    return next(fd, off, whence);
}

int ioctl(int fd, unsigned long request, ...)
{
    static int (*next)(int, unsigned long, void *);
    va_list ap;
    void *arg;

    va_start(ap, request);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (request == FICLONERANGE || request == FICLONE)
    {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (!next) next = (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
    return next(fd, request, arg);
}
