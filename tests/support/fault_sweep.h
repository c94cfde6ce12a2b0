#ifndef VDSSHIM_TEST_FAULT_SWEEP_H
#define VDSSHIM_TEST_FAULT_SWEEP_H

#include "crash_states.h"
#include "test_util.h"

struct scenario
{
    uint8_t *raw;           /* the image before compaction (owned) */
    size_t size;
    const char *path;       /* name it is opened under (resolves parent locators) */
    uint8_t *content;       /* what the guest reads */
    uint64_t vsize;
    uint64_t final_size;    /* after an uninterrupted run */
    uint64_t writes, flushes, truncates;
    int refuse_ranges;      /* the backend refuses copy_range and punch: moves read and write */
};

/* Bytes of block moves between two flushes in the compactions below (0: the
 * engine's 256 MiB); tests lower it so that runs cross batch boundaries. */
extern uint64_t sweep_move_batch_bytes;

/* Reference run: content, final size, operation counts. */
void scenario_prepare(struct scenario *sc);
void scenario_free(struct scenario *sc);
/* Compaction over a fault plan; returns its status and the disk left behind. */
int run_with_plan(const struct scenario *sc, struct vdsshim_fault_plan plan, struct vdsshim_io **disk,
                  struct vdsshim_fault_counters *c);
/* The disk after a crash or an error: valid, same content, and a re-run finishes. */
void check_recovers(const struct scenario *sc, struct vdsshim_io *disk, const char *what, uint64_t k);
void sweep_power_cuts(struct scenario *sc);
void sweep_errors(struct scenario *sc);

/* One mutated image: refused with a status and not written, or accepted and
 * compacted with its content unchanged. Counts the outcome. */
void corpus_judge(const uint8_t *m, size_t size, const char *path, unsigned i, unsigned *refused, unsigned *accepted);

#endif
