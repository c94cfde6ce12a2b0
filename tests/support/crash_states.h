/*
 * The states a power cut can leave, tried at every cut point of a crash
 * sweep: all unflushed writes lost, all kept, torn by seed, and reordered:
 * only the newest kept, every suffix kept with the older writes lost (what
 * a missing flush between two steps makes possible), and subsets, all of
 * them when few writes are pending. VDSSHIM_CRASH_STATES=full (the flush
 * mutation script) tries every suffix and more subsets.
 */
#ifndef VDSSHIM_TEST_CRASH_STATES_H
#define VDSSHIM_TEST_CRASH_STATES_H

#include <stddef.h>
#include <stdint.h>

#include "vdsshim_io_fault.h"

/*
 * State i of a cut after which pending operations were unflushed (learnt
 * from state 0's counters, pending_at_cut; pass 0 before). Sets the mode
 * fields of plan (cut point and hooks are the caller's) and a name for
 * messages; returns 0 past the last state.
 */
int crash_state(unsigned i, uint64_t pending, struct vdsshim_fault_plan *plan, char *name, size_t len);

#endif
