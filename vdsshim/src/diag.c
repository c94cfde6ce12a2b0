/* Failure detail and small shared helpers. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdlib.h>
#ifdef _WIN32
#include <malloc.h>
#endif
#include <stdio.h>
#include <string.h>

#include "engine.h"

int diag_set(struct vdsshim_diag *diag, int status, uint64_t file_offset, const char *fmt, ...)
{
    va_list ap;

    if (!diag) return status;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
    va_end(ap);
    diag->file_offset = file_offset;
    diag->sys_error = 0;
    return status;
}

int diag_io(struct vdsshim_diag *diag, struct vdsshim_io *io, int status, uint64_t file_offset,
            const char *what)
{
    if (!diag) return status;
    diag_set(diag, status, file_offset, "%s at offset %llu: %s", what,
             (unsigned long long)file_offset, io && io->fail_reason ? io->fail_reason : vdsshim_strerror(status));
    diag->sys_error = io ? io->last_error : 0;
    return status;
}

int diag_file_error(struct vdsshim_diag *diag, struct vdsshim_io *tmp, int status, const char *path,
                    const char *what)
{
    if (!diag) return status;
    diag_set(diag, status, 0, "%s %s: %s", what, path, tmp->fail_reason ? tmp->fail_reason : vdsshim_strerror(status));
    diag->sys_error = tmp->last_error;
    return status;
}

int progress_report(struct progress *p, unsigned lo, unsigned hi, uint64_t done, uint64_t total)
{
    unsigned pct = total ? lo + (unsigned)((double)(hi - lo) * (double)done / (double)total) : hi;

    if (pct > hi) pct = hi;
    if (pct < p->last) pct = p->last;   /* never backwards */
    p->last = pct;
    if (p->fn && p->fn(p->ctx, pct)) return VDSSHIM_E_CANCELLED;
    return VDSSHIM_OK;
}

int buffer_is_zero(const uint8_t *buf, size_t len)
{
    /* Word-at-a-time: this loop is the zero scan's hot path. */
    static const uint8_t zero[64];
    size_t i = 0;

    for (; len - i >= 64; i += 64)
        if (memcmp(buf + i, zero, 64)) return 0;
    for (; i < len; i++)
        if (buf[i]) return 0;
    return 1;
}

void *io_buffer_alloc(size_t size)
{
#ifdef _WIN32
    return _aligned_malloc(size, 4096);
#else
    void *p;
    return posix_memalign(&p, 4096, size) ? NULL : p;
#endif
}

void io_buffer_free(void *p)
{
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}
