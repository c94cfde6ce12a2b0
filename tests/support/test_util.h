/* Shared helpers for the engine tests (cmocka). */
#ifndef VDSSHIM_TEST_UTIL_H
#define VDSSHIM_TEST_UTIL_H

/* cmocka.h needs these first; on _WIN32 it would otherwise typedef uintptr_t itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vdsshim.h"
#include "vdsshim_io.h"
#include "vdsshim_io_fault.h"

/* Fail with both statuses by name. */
#define assert_status(got, want) assert_status_((got), (want), __FILE__, __LINE__)
void assert_status_(int got, int want, const char *file, int line);

/* Open an in-memory copy of data. */
struct vdsshim_image *open_mem_image(const void *data, size_t size, unsigned flags);
/* Read the whole virtual disk into a new buffer. */
uint8_t *read_all(struct vdsshim_image *img, uint64_t *size);
/* Open a copy read-write: expect status; when refused, a one-line reason
 * mentioning needle (if given), and not one byte written. */
void expect_open_rw(const uint8_t *img, size_t size, const char *path, int status, const char *needle);
/* Compact an in-memory copy of raw opened as path, expecting status want; check
 * that a fresh open reads the same content. Returns the resulting bytes (malloc'd). */
uint8_t *compact_in_memory(const uint8_t *raw, size_t size, const char *path, unsigned flags, int want,
                           struct vdsshim_compact_result *res, size_t *out_size);
/* One operation of a crash sweep: op(img, ctx, diag) on an in-memory copy of
 * raw opened as path with flags, through the fault plan; *disk gets what is
 * left on the disk when the image closes, c the plan's counters. Returns
 * the open's status if it fails, else op's; a failure of op must come with a
 * reason. */
typedef int (*image_op)(struct vdsshim_image *img, void *ctx, struct vdsshim_diag *diag);
int run_op_under_plan(const uint8_t *raw, size_t size, const char *path, unsigned flags, struct vdsshim_fault_plan plan,
                      image_op op, void *ctx, struct vdsshim_io **disk, struct vdsshim_fault_counters *c);
/* What a cut left (an in-memory disk), opened read-only with its chain as
 * path, or the test fails with the open's reason. */
struct vdsshim_image *open_left(struct vdsshim_io *disk, const char *path, const char *what, uint64_t k);
/* The same, read-write, over a fault wrap that keeps the file's final bytes
 * in *after once the image is closed (the caller closes *after). */
struct vdsshim_image *open_left_rw(struct vdsshim_io *disk, const char *path, const char *what, uint64_t k,
                                   struct vdsshim_io **after);
/* The image reads content, vsize bytes, or the test fails. */
void expect_reads(struct vdsshim_image *img, const uint8_t *content, uint64_t vsize, const char *what, uint64_t k);
/* Judges the disk an operation left; must_be_new: its switch was durable
 * (or it finished), so only the new state may show. */
typedef void (*cut_check)(struct vdsshim_io *disk, void *ctx, int must_be_new, const char *what, uint64_t k);
/* The power cut after each of op's writes 1..writes, in every crash state
 * (crash_states.h): check judges each disk left (must_be_new once k is past
 * switch_writes; UINT64_MAX: never), then a re-run from it must succeed and
 * check must find the new state. */
void sweep_op_cuts(const uint8_t *raw, size_t size, const char *path, unsigned flags, image_op op, void *ctx,
                   uint64_t writes, uint64_t switch_writes, cut_check check, void *check_ctx);
/* op on an in-memory copy of raw (run_op_under_plan, no fault) is refused
 * with want, and not one byte of the copy changed. */
void expect_op_refused(const uint8_t *raw, size_t size, const char *path, unsigned flags, image_op op, void *ctx,
                       int want);
/* One MiB of `fill` at off (MiB-aligned, inside one block) in the image at
 * path, through the format's own writer; a VHDX's log is then settled. */
void write_fill(const char *path, uint64_t off, uint8_t fill);
/* Write bytes to a file (for parents and lock tests). */
void write_file(const char *path, const void *data, size_t size);
/* A whole file, malloc'd. */
uint8_t *read_whole_file(const char *path, size_t *size);

#endif
