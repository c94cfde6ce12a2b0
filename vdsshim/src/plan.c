/* Relocation planning (see plan.h). */
#include <stdlib.h>

#include "plan.h"
#include "vdsshim.h"

struct hole
{
    uint64_t start, end;
};

static int cmp_start(const void *a, const void *b)
{
    const struct plan_object *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Gaps between the sorted objects, below limit, with aligned starts. */
static size_t find_holes(const struct plan_object *objs, size_t n, uint64_t limit, uint64_t align,
                         struct hole *holes)
{
    uint64_t pos = 0;
    size_t i, nh = 0;

    for (i = 0; i <= n; i++)
    {
        uint64_t next = i < n ? objs[i].start : limit;
        uint64_t a = align_up(pos, align), b = next < limit ? next : limit;

        if (b > a) holes[nh++] = (struct hole){ a, b };
        if (i < n && objs[i].start + objs[i].size > pos) pos = objs[i].start + objs[i].size;
        if (pos >= limit) break;
    }
    return nh;
}

/* First fit of one object into the holes; returns the target or UINT64_MAX. */
static uint64_t place(struct hole *holes, size_t nh, uint64_t size, uint64_t align)
{
    size_t h;

    for (h = 0; h < nh; h++)
        if (holes[h].end - holes[h].start >= size)
        {
            uint64_t at = holes[h].start;
            holes[h].start = align_up(at + size, align);
            if (holes[h].start > holes[h].end) holes[h].start = holes[h].end;
            return at;
        }
    return UINT64_MAX;
}

/*
 * Can every movable object ending above limit go below it? Objects never
 * overlap, so at most one (the straddler) starts below limit: it goes first,
 * into today's holes; once committed, its old slot below limit is free for
 * the rest, placed largest first, first fit (with at most two object sizes,
 * as here, that packs as well as anything). Fills moves if given.
 */
static int feasible(const struct plan_object *objs, size_t n, uint64_t limit, uint64_t align,
                    struct hole *holes, struct plan_move *moves, size_t *nmoves, size_t *barrier)
{
    size_t nh = find_holes(objs, n, limit, align, holes), i, m = 0, h;
    const struct plan_object *x = NULL;
    uint64_t size_class = UINT64_MAX, at;

    for (i = 0; i < n; i++)
        if (objs[i].start < limit && objs[i].start + objs[i].size > limit) x = &objs[i];
    if (x)
    {
        if (!x->movable || (at = place(holes, nh, x->size, align)) == UINT64_MAX) return 0;
        if (moves) moves[m] = (struct plan_move){ x->id, x->start, at, x->size };
        m++;
        /* Its slot below limit joins the hole that ends where it starts, if any. */
        for (h = 0; h < nh && holes[h].end != x->start; h++) {}
        if (h < nh) holes[h].end = limit;
        else
        {
            for (h = nh; h > 0 && holes[h - 1].start > x->start; h--) holes[h] = holes[h - 1];
            holes[h] = (struct hole){ align_up(x->start, align), limit };
            nh++;
        }
    }
    if (barrier) *barrier = m;
    for (;;)
    {
        /* The next smaller size among the other objects to move. */
        uint64_t next = 0;
        for (i = 0; i < n; i++)
            if (&objs[i] != x && objs[i].start >= limit && objs[i].size < size_class && objs[i].size > next)
                next = objs[i].size;
        if (!next) break;
        size_class = next;
        for (i = n; i-- > 0;)
        {
            const struct plan_object *o = &objs[i];
            if (o == x || o->start < limit || o->size != size_class) continue;
            if (!o->movable || (at = place(holes, nh, o->size, align)) == UINT64_MAX) return 0;
            if (moves) moves[m] = (struct plan_move){ o->id, o->start, at, o->size };
            m++;
        }
    }
    if (nmoves) *nmoves = m;
    return 1;
}

static int cmp_target(const void *a, const void *b)
{
    const struct plan_move *x = a, *y = b;

    return x->to < y->to ? -1 : x->to > y->to;
}

int plan_relocation(struct plan_object *objs, size_t n, uint64_t align, struct plan_move **moves,
                    size_t *nmoves, size_t *barrier, uint64_t *end)
{
    struct hole *holes;
    uint64_t lo = 0, hi = 0, actual = 0;
    size_t i;

    *moves = NULL;
    *nmoves = 0;
    qsort(objs, n, sizeof(*objs), cmp_start);
    for (i = 0; i < n; i++)
    {
        uint64_t e = objs[i].start + objs[i].size;
        if (e > hi) hi = e;
        if (!objs[i].movable && e > lo) lo = e;
    }
    *barrier = 0;
    if (!(holes = malloc((n + 2) * sizeof(*holes)))) return VDSSHIM_E_NOMEM;
    if (!(*moves = malloc((n ? n : 1) * sizeof(**moves))))
    {
        free(holes);
        return VDSSHIM_E_NOMEM;
    }
    /* The smallest feasible end; feasible(hi) always holds (nothing moves). */
    lo = align_up(lo, align);
    if (lo > hi) lo = hi;
    while (lo < hi)
    {
        uint64_t mid = lo + (hi - lo) / 2 / align * align;
        if (feasible(objs, n, mid, align, holes, NULL, NULL, NULL)) hi = mid;
        else lo = mid + align > hi ? hi : mid + align;
    }
    feasible(objs, n, lo, align, holes, *moves, nmoves, barrier);
    /* After the barrier every target is a hole that no pending move reads
     * from, so any order is safe: by destination, the writes go forward
     * through the file (and a batch's targets sit together). */
    qsort(*moves + *barrier, *nmoves - *barrier, sizeof(**moves), cmp_target);
    for (i = 0; i < n; i++)
        if (objs[i].start + objs[i].size <= lo && objs[i].start + objs[i].size > actual)
            actual = objs[i].start + objs[i].size;
    for (i = 0; i < *nmoves; i++)
        if ((*moves)[i].to + (*moves)[i].size > actual) actual = (*moves)[i].to + (*moves)[i].size;
    free(holes);
    *end = actual;
    return VDSSHIM_OK;
}
