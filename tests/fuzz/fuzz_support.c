#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: property broken: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

int fuzz_is_refusal(int status)
{
    return status == VDSSHIM_E_CORRUPT || status == VDSSHIM_E_UNSUPPORTED
        || status == VDSSHIM_E_UNKNOWN_FORMAT || status == VDSSHIM_E_PARENT_NOT_FOUND;
}

/* Whole-disk reads up to this size; above it, FUZZ_SAMPLES ranges. */
#define FUZZ_FULL_READ (1u << 20)
#define FUZZ_SAMPLES 128
#define FUZZ_SAMPLE_LEN 4096u

uint8_t *fuzz_guest_view(struct vdsshim_image *img, size_t *len, int *status)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vdsshim_info info;
    uint64_t vs, step;
    uint8_t *buf;
    unsigned i;

    vdsshim_get_info(img, &info);
    vs = info.virtual_size;
    if (vs <= FUZZ_FULL_READ)
    {
        buf = malloc(vs ? (size_t)vs : 1);
        if (!buf) abort();
        *status = vdsshim_read(img, 0, buf, (size_t)vs, &diag);
        *len = (size_t)vs;
        if (*status) { free(buf); return NULL; }
        return buf;
    }
    /* Samples at the start of evenly spaced ranges (block starts when the
     * spacing is a multiple of the block size), plus the very end. */
    buf = malloc((size_t)FUZZ_SAMPLES * FUZZ_SAMPLE_LEN);
    if (!buf) abort();
    step = (vs / FUZZ_SAMPLES) & ~(uint64_t)511;
    for (i = 0; i < FUZZ_SAMPLES; i++)
    {
        uint64_t off = i + 1 == FUZZ_SAMPLES ? vs - FUZZ_SAMPLE_LEN : i * step;

        *status = vdsshim_read(img, off, buf + (size_t)i * FUZZ_SAMPLE_LEN, FUZZ_SAMPLE_LEN, &diag);
        if (*status) { free(buf); return NULL; }
    }
    *len = (size_t)FUZZ_SAMPLES * FUZZ_SAMPLE_LEN;
    return buf;
}
