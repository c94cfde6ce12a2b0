/* The engine's streaming buffers (buffer.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <malloc.h>
#endif

#include "buffer.h"

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
