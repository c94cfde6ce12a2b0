/*
 * Shared pieces of the fuzz targets (libFuzzer entry points).
 *
 * The same target sources build two ways: with clang's libFuzzer
 * (scripts/fuzz, build/fuzz) and with fuzz_replay_main.c, which feeds every
 * file of tests/fuzz/regressions/TARGET to the target in the ordinary test
 * builds (native, sanitized, and PE under wine).
 */
#ifndef VDSSHIM_FUZZ_H
#define VDSSHIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "vdsshim.h"
#include "vdsshim_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property: print it and abort, so libFuzzer keeps the input. */
void fuzz_fail(const char *file, int line, const char *fmt, ...)
#if defined(__MINGW32__)
    /* mingw's plain "printf" format is msvcrt's, which knows no %zu; we build with
     * __USE_MINGW_ANSI_STDIO, so the C99 (gnu_printf) rules are the true ones. */
    __attribute__((noreturn, format(gnu_printf, 3, 4)))
#elif defined(__GNUC__)
    __attribute__((noreturn, format(printf, 3, 4)))
#endif
    ;
#define FUZZ_CHECK(cond, ...) do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/*
 * Image inputs are "sparse images", so that a few KiB of input can describe
 * a VHDX whose structures sit megabytes apart:
 *   u32le file_size, then records { u32le offset, u16le length, bytes[length] }
 * over a zero-filled file. Records past the end are clipped; a size above
 * FUZZ_MAX_FILE is refused (returns NULL). tests/fuzz/make_seeds.py writes
 * real images in this form. The file lives in a sparse in-memory backend
 * (fuzz_sparse_io.c) that stores only the pages written.
 * Bit 31 of file_size asks for the checksums to be made right once the
 * records are written (VHD footers and dynamic header, VHDX headers and
 * region tables), so that mutations also reach the checks behind them.
 */
#define FUZZ_MAX_FILE (16u << 20)
#define FUZZ_REPAIR_CHECKSUMS 0x80000000u
struct vdsshim_io *fuzz_sparse_image(const uint8_t *data, size_t size);
/* A digest of a sparse file's size and contents (zero pages ignored). */
uint64_t fuzz_sparse_digest(struct vdsshim_io *io);

/* Statuses a malformed image may be refused with. */
int fuzz_is_refusal(int status);

/*
 * What the guest sees, bounded: the whole disk when small, else a fixed set
 * of sampled ranges. Returns NULL (and the status in *status) when a read
 * fails. The same image always gives the same samples.
 */
uint8_t *fuzz_guest_view(struct vdsshim_image *img, size_t *len, int *status);

#endif /* VDSSHIM_FUZZ_H */
