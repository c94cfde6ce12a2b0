/* The crash states of a sweep (see crash_states.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_states.h"

/* Exhaustive subsets up to this many pending operations. */
#define SUBSETS_ALL_QUICK 3
#define SUBSETS_ALL_FULL 8
/* Otherwise this many subsets chosen by seed, and suffixes at this many split points. */
#define SUBSETS_SAMPLED_QUICK 1
#define SUBSETS_SAMPLED_FULL 16
#define SUFFIXES_QUICK 3

static int full_mode(void)
{
    const char *e = getenv("VDSSHIM_CRASH_STATES");
    return e && !strcmp(e, "full");
}

/* A 64-bit mix of (seed, i): the subsets a seed stands for, stable on every platform. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int crash_state(unsigned i, uint64_t pending, struct vdsshim_fault_plan *plan, char *name, size_t len)
{
    static const char *const classic[] = { "drop", "apply", "tear, seed 1", "tear, seed 2", "tear, seed 3" };
    int full = full_mode();
    uint64_t all = full ? SUBSETS_ALL_FULL : SUBSETS_ALL_QUICK;
    uint64_t nsuffix, nsubset, j;

    if (i < 5)
    {
        plan->cut_mode = i == 0 ? VDSSHIM_CUT_DROP : i == 1 ? VDSSHIM_CUT_APPLY : VDSSHIM_CUT_TEAR;
        plan->seed = i < 2 ? 0 : i - 1;
        snprintf(name, len, "power cut (%s)", classic[i]);
        return 1;
    }
    i -= 5;
    if (pending < 2) return 0;      /* nothing to reorder */
    if (i == 0)
    {
        plan->cut_mode = VDSSHIM_CUT_KEEP_NEWEST;
        snprintf(name, len, "power cut (only the newest of %llu kept)", (unsigned long long)pending);
        return 1;
    }
    i--;
    if (pending <= all)
    {
        /* Every subset but none, all and the newest alone (tried above). */
        uint64_t count = (1ull << pending) - 3;
        if (i >= count) return 0;
        j = i + 1;
        if (j >= 1ull << (pending - 1)) j++;
        plan->cut_mode = VDSSHIM_CUT_SUBSET;
        plan->subset_mask = j;
        snprintf(name, len, "power cut (subset 0x%llx of %llu kept)", (unsigned long long)j,
                 (unsigned long long)pending);
        return 1;
    }
    /* Suffixes from split 1 .. pending - 2 (split pending - 1 is the newest alone). */
    nsuffix = pending - 2;
    if (!full && nsuffix > SUFFIXES_QUICK) nsuffix = SUFFIXES_QUICK;
    if (i < nsuffix)
    {
        /* Quick mode: the two newest kept, half kept, all but the oldest kept. */
        uint64_t quick[SUFFIXES_QUICK] = { pending - 2, pending / 2, 1 };
        j = nsuffix == pending - 2 ? i + 1 : quick[i];
        plan->cut_mode = VDSSHIM_CUT_SUFFIX;
        plan->split = j;
        snprintf(name, len, "power cut (the %llu oldest of %llu lost, the rest kept)", (unsigned long long)j,
                 (unsigned long long)pending);
        return 1;
    }
    i -= (unsigned)nsuffix;
    nsubset = full ? SUBSETS_SAMPLED_FULL : SUBSETS_SAMPLED_QUICK;
    if (i >= nsubset) return 0;
    plan->cut_mode = VDSSHIM_CUT_SUBSET;
    plan->seed = i + 1;
    plan->subset_mask = mix(pending * 1000003u + i);
    snprintf(name, len, "power cut (random subset %u of %llu pending)", i + 1, (unsigned long long)pending);
    return 1;
}
