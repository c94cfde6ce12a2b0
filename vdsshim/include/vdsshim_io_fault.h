/*
 * Fault-injecting I/O wrapper for tests: counts every operation, fails a
 * chosen write/flush/truncate with EIO or ENOSPC, or cuts the power after a
 * chosen write. A power cut decides which writes (and truncates) not yet
 * flushed reached the medium, then every later operation fails with
 * VDSSHIM_E_IO, as if the machine had stopped. A real disk persists any
 * subset of its unflushed writes, in any order (CrashMonkey's model): the
 * modes below pick whole writes by subset, suffix or seed, or tear them at
 * 512-byte granularity.
 */
#ifndef VDSSHIM_IO_FAULT_H
#define VDSSHIM_IO_FAULT_H

#include "vdsshim_io.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vdsshim_fault_cut_mode
{
    VDSSHIM_CUT_DROP,       /* unflushed writes are lost */
    VDSSHIM_CUT_APPLY,      /* unflushed writes all reached the disk */
    VDSSHIM_CUT_TEAR,       /* each unflushed write: dropped, applied or torn, by seed */
    VDSSHIM_CUT_SUBSET,     /* unflushed operation j persists iff bit j of subset_mask
                             * (operations past 63: by seed) */
    VDSSHIM_CUT_SUFFIX,     /* operations from number split on persist, the older ones are lost */
    VDSSHIM_CUT_KEEP_NEWEST, /* only the newest unflushed operation persists */
};

struct vdsshim_fault_counters
{
    uint64_t reads, writes, flushes, truncates;
    uint64_t bytes_read, bytes_written;
    uint64_t pending_at_cut;        /* unflushed operations when the power was cut */
    uint64_t copies, punches;       /* copy_range and punch calls (each also counted a write) */
};

struct vdsshim_fault_plan
{
    uint64_t cut_after_write;       /* 1-based write index; 0 = never */
    uint64_t cut_after_truncate;    /* 1-based truncate index; 0 = never */
    enum vdsshim_fault_cut_mode cut_mode;
    uint32_t seed;                  /* chooses the fate of each write under VDSSHIM_CUT_TEAR */
    uint64_t subset_mask;           /* VDSSHIM_CUT_SUBSET */
    uint64_t split;                 /* VDSSHIM_CUT_SUFFIX */
    uint64_t fail_write;            /* 1-based index of the write that fails; 0 = none */
    uint64_t fail_flush;
    uint64_t fail_truncate;
    int fail_status;                /* VDSSHIM_E_IO or VDSSHIM_E_NOSPC */
    /* Cut the power (cut_mode) when the io is closed, if it was not cut
     * before: what an operation that returned success left unflushed. */
    int cut_at_close;
    /* For an io handed to code that closes it: on close, the counters are
     * copied here and the inner io is left here instead of being closed. */
    struct vdsshim_fault_counters *counters_on_close;
    struct vdsshim_io **inner_on_close;
    /* Refuse copy_range and punch (VDSSHIM_E_UNSUPPORTED), so the engine's
     * read-and-write fall-back runs under the same sweeps. */
    int refuse_ranges;
};

/* Wrap inner (taking ownership). With plan NULL it only counts. */
int vdsshim_io_fault_wrap(struct vdsshim_io *inner, const struct vdsshim_fault_plan *plan,
                          struct vdsshim_io **out);

void vdsshim_io_fault_counters(struct vdsshim_io *io, struct vdsshim_fault_counters *c);
/* Non-zero once the power has been cut. */
int vdsshim_io_fault_power_lost(struct vdsshim_io *io);
/* Take back the inner io (the state the disk was left in); frees the wrapper. */
struct vdsshim_io *vdsshim_io_fault_unwrap(struct vdsshim_io *io);

#ifdef __cplusplus
}
#endif

#endif /* VDSSHIM_IO_FAULT_H */
