/*
 * qemu's image lock protocol, so that a running VM and vdsshim see each other.
 *
 * qemu's file driver (block/file-posix.c, raw_apply_lock_bytes and
 * raw_check_lock_bytes [V]) takes open-file-description (OFD) read locks on
 * single bytes of the image file: byte 100 + i while it holds permission i,
 * byte 200 + i while it refuses to share permission i with anyone else. It
 * then tests, with F_OFD_GETLK for a write lock, that nobody else holds
 * byte 200 + i of a permission it wants, nor byte 100 + i of one it refuses
 * to share. Permission bits (include/block/block-common.h, qemu 7.2 [V],
 * and checked against /proc/locks with qemu-io here): 0 consistent read,
 * 1 write, 2 write-unchanged, 3 resize.
 *
 * flock (vdsshim's own lock between its processes) and OFD locks are kept
 * apart by Linux, so both are needed. Wine's LockFileEx becomes a POSIX
 * fcntl lock in wineserver at the same offset, which conflicts with OFD
 * locks: testing the Win32 backend's lock byte here lets a native vdsshim
 * see a Wine one.
 */
#ifndef _WIN32

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "io_platform.h"

enum
{
    QEMU_PERM_CONSISTENT_READ = 1u << 0,
    QEMU_PERM_WRITE = 1u << 1,
    QEMU_PERM_WRITE_UNCHANGED = 1u << 2,
    QEMU_PERM_RESIZE = 1u << 3,
    QEMU_PERM_ALL = 0xf,
    QEMU_PERM_BITS = 4,
    QEMU_LOCK_PERM_BASE = 100,
    QEMU_LOCK_SHARED_BASE = 200,
};

/* One byte at off: set a read lock (F_RDLCK), or test whether a lock of
 * type would conflict (F_OFD_GETLK; *held set if so). */
static int ofd_byte(int fd, int cmd, short type, uint64_t off, int *held)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = 1;
    if (fcntl(fd, cmd, &fl) < 0) return -errno;
    if (held) *held = fl.l_type != F_UNLCK;
    return 0;
}

/* Give back every lock byte taken so far (a refused open). */
static void release(int fd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = QEMU_LOCK_PERM_BASE;
    fl.l_len = QEMU_LOCK_SHARED_BASE + QEMU_PERM_BITS - QEMU_LOCK_PERM_BASE;
    fcntl(fd, F_OFD_SETLK, &fl);
}

int posix_qemu_lock(int fd, int write, const char **holder, uint32_t *err)
{
    /* Inspection reads consistently and refuses writers, as `qemu-img check`
     * and `qemu-io -r` do; changing an image needs every permission and
     * shares none, since readers would see blocks move under them. */
    unsigned perm = write ? QEMU_PERM_CONSISTENT_READ | QEMU_PERM_WRITE | QEMU_PERM_RESIZE
                          : QEMU_PERM_CONSISTENT_READ;
    unsigned unshared = write ? QEMU_PERM_ALL : QEMU_PERM_WRITE | QEMU_PERM_RESIZE;
    unsigned i;
    int held, r;

    for (i = 0; i < QEMU_PERM_BITS; i++)
    {
        if ((perm >> i) & 1)
            r = ofd_byte(fd, F_OFD_SETLK, F_RDLCK, QEMU_LOCK_PERM_BASE + i, NULL);
        else if ((unshared >> i) & 1)
            r = 0;
        else
            continue;
        if (!r && ((unshared >> i) & 1))
            r = ofd_byte(fd, F_OFD_SETLK, F_RDLCK, QEMU_LOCK_SHARED_BASE + i, NULL);
        /* A file system without byte-range locks: qemu goes on too. */
        if (r == -EINVAL || r == -ENOLCK || r == -EOPNOTSUPP) return VDSSHIM_OK;
        if (r == -EAGAIN || r == -EACCES) goto in_use;     /* a write lock is there */
        if (r) goto failed;
    }
    for (i = 0; i < QEMU_PERM_BITS; i++)
    {
        held = 0;
        if (((perm >> i) & 1) && (r = ofd_byte(fd, F_OFD_GETLK, F_WRLCK, QEMU_LOCK_SHARED_BASE + i, &held)))
            goto failed;
        if (held) goto in_use;
        if (((unshared >> i) & 1) && (r = ofd_byte(fd, F_OFD_GETLK, F_WRLCK, QEMU_LOCK_PERM_BASE + i, &held)))
            goto failed;
        if (held) goto in_use;
    }
    /* A Wine vdsshim holds its Win32 lock byte (io_win32.c) as a POSIX lock:
     * shared for reading, exclusive for writing. */
    held = 0;
    if ((r = ofd_byte(fd, F_OFD_GETLK, write ? F_WRLCK : F_RDLCK, WIN32_LOCK_OFFSET, &held))
        && r != -EINVAL && r != -EOVERFLOW)
        goto failed;
    if (held)
    {
        *holder = "vdsshim under Wine";
        *err = EAGAIN;
        return VDSSHIM_E_IN_USE;
    }
    return VDSSHIM_OK;

in_use:
    *holder = "qemu";
    *err = EAGAIN;
    release(fd);
    return VDSSHIM_E_IN_USE;
failed:
    *err = (uint32_t)-r;
    release(fd);
    return VDSSHIM_E_IO;
}

#endif /* !_WIN32 */
