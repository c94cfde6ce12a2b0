/*
 * The POSIX backend's range operations (vdsshim_io.h): block moves without
 * a user-space copy, holes punched and found.
 *
 * A move is first offered to FICLONERANGE, which shares the extents (XFS
 * with reflink, btrfs) and writes no data; then to copy_file_range, which
 * the kernel does in place (and which itself reflinks where it can). Each
 * refusal that means "not here" (EOPNOTSUPP, EXDEV, EINVAL, ENOSYS, ...) is
 * remembered per file, so a file system that cannot do one is asked once.
 *
 * A copied range is handed to writeback at once (sync_file_range with
 * SYNC_FILE_RANGE_WRITE: start, do not wait). The flush that ends a batch
 * of moves then finds most of the batch already on the medium, instead of
 * writing all of it while the copying waits, so the copies and the disk
 * overlap. It is a hint, not a barrier: durability still comes only from
 * that flush, so the crash model is unchanged, and its errors are left for
 * the flush to report.
 */
#ifndef _WIN32

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_platform.h"

/* errno values that say "this file system or kernel cannot", not "failed". */
static int is_refusal(int err)
{
    return err == EOPNOTSUPP || err == ENOTSUP || err == EXDEV || err == EINVAL || err == ENOSYS
        || err == ENOTTY;
}

int posix_copy_range(int fd, uint64_t src, uint64_t dst, uint64_t len, unsigned *refused, int *how)
{
    if (!(*refused & POSIX_NO_CLONE) && len && src % 4096 == 0 && dst % 4096 == 0 && len % 4096 == 0)
    {
        struct file_clone_range r = { .src_fd = fd, .src_offset = src, .src_length = len, .dest_offset = dst };

        if (ioctl(fd, FICLONERANGE, &r) == 0)
        {
            *how = VDSSHIM_COPY_CLONED;
            return 0;
        }
        if (!is_refusal(errno)) return -1;
        *refused |= POSIX_NO_CLONE;
    }
    if (!(*refused & POSIX_NO_COPY))
    {
        off64_t in = (off64_t)src, out = (off64_t)dst;
        uint64_t left = len;

        while (left)
        {
            ssize_t n = copy_file_range(fd, &in, fd, &out, left, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && is_refusal(errno) && left == len)
            {
                *refused |= POSIX_NO_COPY;
                break;
            }
            if (n <= 0)
            {
                if (n == 0) errno = EIO;    /* the source ended early */
                return -1;
            }
            left -= (uint64_t)n;
        }
        if (!left)
        {
            sync_file_range(fd, (off64_t)dst, (off64_t)len, SYNC_FILE_RANGE_WRITE);
            *how = VDSSHIM_COPY_COPIED;
            return 0;
        }
    }
    errno = EOPNOTSUPP;
    return 1;
}

int posix_punch(int fd, uint64_t off, uint64_t len)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) return 0;
    return is_refusal(errno) ? 1 : -1;
}

int posix_next_data(int fd, uint64_t off, uint64_t *data, uint64_t *hole)
{
    struct stat st;
    off_t d, h;

    if (fstat(fd, &st) < 0) return -1;
    if (off >= (uint64_t)st.st_size)
    {
        *data = *hole = (uint64_t)st.st_size;
        return 0;
    }
    if ((d = lseek(fd, (off_t)off, SEEK_DATA)) < 0)
    {
        if (errno == ENXIO)         /* no data after off */
        {
            *data = *hole = (uint64_t)st.st_size;
            return 0;
        }
        if (!is_refusal(errno)) return -1;
        *data = off;                /* no hole reporting here: all of it is data */
        *hole = (uint64_t)st.st_size;
        return 0;
    }
    if ((h = lseek(fd, d, SEEK_HOLE)) < 0) return -1;
    *data = (uint64_t)d;
    *hole = (uint64_t)h;
    return 0;
}

int posix_allocated(int fd, uint64_t *bytes)
{
    struct stat st;

    if (fstat(fd, &st) < 0) return -1;
    *bytes = (uint64_t)st.st_blocks * 512;
    return 0;
}

#endif
