/*
 * Relocation planning shared by the VHD and VHDX compactors: the smallest
 * file end reachable by moving blocks into holes, and the fewest moves that
 * reach it. Every object that ends above that end must move; nothing below
 * it does. Targets are holes, never the source of a move not yet committed,
 * so every copy is made while the old one is still the referenced one.
 */
#ifndef VDSSHIM_PLAN_H
#define VDSSHIM_PLAN_H

#include <stddef.h>
#include <stdint.h>

struct plan_object
{
    uint64_t start, size;
    uint64_t id;            /* the caller's (a BAT index); ignored for fixed objects */
    int movable;            /* 0: metadata that stays (headers, BAT, log, locators) */
};

struct plan_move
{
    uint64_t id;
    uint64_t from, to, size;
};

/*
 * objs is sorted in place. align: where a moved object may start (512 for
 * VHD, 1 MiB for VHDX). Returns VDSSHIM_OK with *moves (malloc'd) and *end,
 * the end of everything after the moves. The first *barrier moves (0 or 1)
 * must be committed before any later one is copied: a later target may use
 * the slot they leave. The moves after the barrier come in order of target.
 */
int plan_relocation(struct plan_object *objs, size_t n, uint64_t align, struct plan_move **moves,
                    size_t *nmoves, size_t *barrier, uint64_t *end);

#endif
