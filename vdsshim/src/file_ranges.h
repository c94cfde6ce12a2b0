/* File data by extents (file_ranges.c): reads that skip holes, block moves through the kernel, marked-unit writes. Not installed. */
#ifndef VDSSHIM_FILE_RANGES_H
#define VDSSHIM_FILE_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "vdsshim.h"
#include "vdsshim_io.h"

/* What a block move did, by path. */
struct move_stats
{
    uint64_t bytes_read, bytes_written;     /* through user space */
    uint64_t bytes_copied;                  /* by the kernel (copy_file_range) */
    uint64_t bytes_cloned;                  /* extents shared, nothing copied (reflink) */
    uint64_t bytes_punched;                 /* holes the source had, made holes at the target */
    int no_copy_range, no_punch;            /* the backend refused once: not asked again */
};
/* len bytes at off, the host file's holes as zeros without reading them;
 * *bytes_read grows by what was read. */
int file_read_data(struct vdsshim_io *io, void *buf, size_t len, uint64_t off, uint64_t *bytes_read);
/* [from, from + len) to to (ranges apart): the data extents copied (in the
 * kernel where the backend can), holes punched (or written as zeros). On
 * failure *fail_at is the offset concerned. Durable only after a flush. */
int file_move_range(struct vdsshim_io *io, uint64_t from, uint64_t to, uint64_t len, uint8_t *buf, size_t buflen,
                    struct move_stats *s, uint64_t *fail_at);

/* Write the 512-byte units of buf (n of them) that units marks, at file
 * offset base, one write per run of marked units (the write_units op of
 * each format). Durable only after a flush. */
int file_write_marked(struct vdsshim_io *io, uint64_t base, const uint8_t *buf, size_t n, const uint8_t *units,
                      struct vdsshim_diag *diag);

#endif /* VDSSHIM_FILE_RANGES_H */
