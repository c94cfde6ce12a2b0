/*
 * LVM2 physical volumes (formats.md §6 has none; the layout is LVM2's
 * lib/format_text/layout.h and lib/label/label.h, checked against a PV that
 * Windows made and PVs that Debian's lvm2 2.03 writes):
 *
 *   label     one of the first four 512-byte sectors: "LABELONE", its own
 *             sector number (u64 @8), a CRC (u32 @16) of bytes 20..511, the
 *             offset of the PV header (u32 @20), "LVM2 001" (@24)
 *   PV header its UUID (32 ASCII bytes), the device size (u64), then two
 *             lists of {offset, size} (u64 pairs) ending in a zero pair: the
 *             data areas, then the metadata areas (MDAs)
 *   MDA       a 512-byte header (CRC u32 of bytes 4..511, magic
 *             " LVM2 x[5A%r0N*>", version 1, its own start and size, then
 *             raw locations {offset, size, CRC, flags}): the first location
 *             is the committed metadata text, a circular buffer after the
 *             header, so it may wrap to offset 512
 *
 * LVM2's CRC is the reflected CRC-32 (0xEDB88320) started at 0xf597a6cf and
 * not inverted at the end. The text (lvm_text.c) names the volume group, its
 * extent size (512-byte sectors), its PVs (UUID, pe_start, pe_count) and its
 * LVs, each a list of segments.
 *
 * What is mapped, and why only that: a visible LV whose segments are all
 * linear ("striped", one stripe) is a volume at known disk ranges, given to
 * the file-system recognisers; a PV's extents that no segment uses hold
 * nothing. Everything else falls back with its reason: other segment types
 * (their data lives in hidden sub-LVs that are never mapped), an LV that
 * another LV's segments name (a snapshot's origin, whose old blocks the
 * snapshot still reads; a thin volume's external origin), a volume group
 * with a PV not on this disk, metadata copies that disagree, a checksum that
 * fails, an MDA where its header says it is not, a shared (lvmlockd) group.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsmap.h"
#include "lvm_text.h"

#define LVM_SECTOR 512u
#define LABEL_SCAN_SECTORS 4u
#define LVM_INITIAL_CRC 0xf597a6cfu
#define MDA_HEADER_SIZE 512u
#define MDA_MAGIC " LVM2 x[5A%r0N*>"
#define RAW_LOCN_IGNORED 1u
#define MAX_MDAS 2u                 /* pvcreate --pvmetadatacopies: 0, 1 or 2 */
#define MAX_TEXT (16u << 20)
#define MAX_USES 65536u

static uint32_t lvm_crc(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    int k;

    for (i = 0; i < n; i++)
    {
        crc ^= p[i];
        for (k = 0; k < 8; k++) crc = crc >> 1 ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return crc;
}

int lvm_find_label(const struct fs_volume *vol, int *found, struct vdsshim_diag *diag)
{
    uint8_t s[LABEL_SCAN_SECTORS * LVM_SECTOR];
    unsigned k;
    int st;

    *found = 0;
    if (vol->size < 2 * sizeof(s)) return VDSSHIM_OK;
    if ((st = fs_read(vol, 0, s, sizeof(s), diag))) return st;
    for (k = 0; k < LABEL_SCAN_SECTORS; k++)
    {
        const uint8_t *l = s + k * LVM_SECTOR;
        if (!memcmp(l, "LABELONE", 8) && get_le64(l + 8) == k && !memcmp(l + 24, "LVM2 001", 8))
        {
            *found = (int)k + 1;
            return VDSSHIM_OK;
        }
    }
    return VDSSHIM_OK;
}

struct pv
{
    const struct partition *part;
    struct fs_volume vol;
    int label_sector;               /* 1 + the sector holding the label */
    char uuid[33];
    struct vdsshim_fs_report *r;
    char *text;                     /* the first MDA's metadata, parsed into tree */
    struct lvm_tree tree;
    const struct lvm_node *vg;      /* the volume group section of tree */
    int64_t seqno;
    int in_vg;                      /* claimed by a volume group's processing */
    char reason[120];               /* why this PV (and its group) falls back */
};

/* Note why the PV falls back; its reading goes on no further. */
static int ENGINE_PRINTF(2, 3) pv_fail(struct pv *pv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(pv->reason, sizeof(pv->reason), fmt, ap);
    va_end(ap);
    return VDSSHIM_OK;
}

/* The metadata text of the MDA at [off, off + size) of the PV: *text (NULL
 * when the MDA holds none or is marked ignored). */
static int read_mda(struct pv *pv, uint64_t off, uint64_t size, char **text, struct vdsshim_diag *diag)
{
    uint8_t h[MDA_HEADER_SIZE];
    uint64_t at, len, first;
    uint32_t crc;
    char *t;
    int st;

    *text = NULL;
    if (size < 2 * MDA_HEADER_SIZE || off > pv->vol.size || size > pv->vol.size - off)
        return pv_fail(pv, "a metadata area (%llu bytes at %llu) lies outside the physical volume",
                       (unsigned long long)size, (unsigned long long)off);
    if ((st = fs_read(&pv->vol, off, h, sizeof(h), diag))) return st;
    if (get_le32(h) != lvm_crc(LVM_INITIAL_CRC, h + 4, sizeof(h) - 4) || memcmp(h + 4, MDA_MAGIC, 16))
        return pv_fail(pv, "the metadata area header at %llu fails its checksum or magic", (unsigned long long)off);
    if (get_le32(h + 20) != 1)
        return pv_fail(pv, "metadata area version %u", get_le32(h + 20));
    if (get_le64(h + 24) != off || get_le64(h + 32) != size)
        return pv_fail(pv, "the metadata area header says it is at %llu, the PV header says %llu",
                       (unsigned long long)get_le64(h + 24), (unsigned long long)off);
    at = get_le64(h + 40);
    len = get_le64(h + 48);
    crc = get_le32(h + 56);
    if (get_le32(h + 60) & RAW_LOCN_IGNORED) return VDSSHIM_OK;
    if (!at && !len) return VDSSHIM_OK;
    if (at < MDA_HEADER_SIZE || at >= size || !len || len > size - MDA_HEADER_SIZE || len > MAX_TEXT)
        return pv_fail(pv, "the metadata text (%llu bytes at %llu) does not fit its area", (unsigned long long)len,
                       (unsigned long long)at);
    if (!(t = malloc((size_t)len + 1))) return VDSSHIM_E_NOMEM;
    /* A circular buffer: what passes the area's end continues after its header. */
    first = size - at < len ? size - at : len;
    st = fs_read(&pv->vol, off + at, t, (size_t)first, diag);
    if (!st && first < len) st = fs_read(&pv->vol, off + MDA_HEADER_SIZE, t + first, (size_t)(len - first), diag);
    if (st)
    {
        free(t);
        return st;
    }
    if (lvm_crc(LVM_INITIAL_CRC, (const uint8_t *)t, (size_t)len) != crc)
    {
        free(t);
        return pv_fail(pv, "the metadata text fails its checksum");
    }
    t[len] = 0;
    *text = t;
    return VDSSHIM_OK;
}

/* The label, the PV header and every metadata area of one PV. */
static int read_pv(struct pv *pv, struct vdsshim_diag *diag)
{
    uint8_t s[LVM_SECTOR];
    uint64_t sec = (uint64_t)(pv->label_sector - 1) * LVM_SECTOR;
    uint32_t hoff;
    const uint8_t *p, *end;
    unsigned list, nmda = 0;
    int st;

    if ((st = fs_read(&pv->vol, sec, s, sizeof(s), diag))) return st;
    if (get_le32(s + 16) != lvm_crc(LVM_INITIAL_CRC, s + 20, sizeof(s) - 20))
        return pv_fail(pv, "the LVM2 label fails its checksum");
    hoff = get_le32(s + 20);
    if (hoff < 32 || hoff > sizeof(s) - 32 - 48) return pv_fail(pv, "the PV header is at label offset %u", hoff);
    memcpy(pv->uuid, s + hoff, 32);
    pv->uuid[32] = 0;
    if (get_le64(s + hoff + 32) > pv->vol.size)
        return pv_fail(pv, "the physical volume (%llu bytes) is larger than its partition",
                       (unsigned long long)get_le64(s + hoff + 32));
    /* Two zero-terminated lists: data areas, then metadata areas. */
    p = s + hoff + 40;
    end = s + sizeof(s);
    for (list = 0; list < 2; list++)
    {
        for (; p + 16 <= end && (get_le64(p) || get_le64(p + 8)); p += 16)
        {
            char *text;
            if (!list) continue;
            if (++nmda > MAX_MDAS) return pv_fail(pv, "more than %u metadata areas", MAX_MDAS);
            if ((st = read_mda(pv, get_le64(p), get_le64(p + 8), &text, diag))) return st;
            if (pv->reason[0]) return VDSSHIM_OK;
            if (!text) continue;
            if (!pv->text)
            {
                const char *err;
                const struct lvm_node *n, *seq;
                pv->text = text;
                if (lvm_text_parse(pv->text, &pv->tree, &err)) return pv_fail(pv, "metadata text: %s", err);
                for (n = pv->tree.root->child; n && n->kind != LVM_SECTION; n = n->next) {}
                if (!n || !(seq = lvm_get(n, "seqno", LVM_INT)))
                    return pv_fail(pv, "the metadata text holds no volume group");
                pv->vg = n;
                pv->seqno = seq->num;
                continue;
            }
            /* A second copy: it must be the same commit. */
            {
                struct lvm_tree t2;
                const char *err;
                const struct lvm_node *n, *seq = NULL;
                int bad = lvm_text_parse(text, &t2, &err);

                if (!bad)
                {
                    for (n = t2.root->child; n && n->kind != LVM_SECTION; n = n->next) {}
                    seq = n ? lvm_get(n, "seqno", LVM_INT) : NULL;
                }
                if (!bad && (!seq || seq->num != pv->seqno))
                    pv_fail(pv, "its two metadata copies disagree (seqno %lld and %lld)", (long long)pv->seqno,
                            seq ? (long long)seq->num : -1ll);
                else if (bad)
                    pv_fail(pv, "second metadata copy: %s", err);
                if (!bad) lvm_text_free(&t2);
                free(text);
                if (pv->reason[0]) return VDSSHIM_OK;
            }
        }
        p += 16;
    }
    return VDSSHIM_OK;
}

/* UUIDs in the text carry dashes ("ggfWay-APBB-..."), the label none. */
static int same_uuid(const char *text_id, const char *label_id)
{
    size_t k = 0;

    for (; *text_id; text_id++)
        if (*text_id != '-' && (k >= 32 || *text_id != label_id[k++])) return 0;
    return k == 32;
}

/* An extent range a linear or striped area uses on a PV. */
struct use
{
    unsigned pv;                    /* index into the group's PVs */
    uint64_t start, count;
    const char *lv;
};

static int cmp_use(const void *a, const void *b)
{
    const struct use *x = a, *y = b;

    if (x->pv != y->pv) return x->pv < y->pv ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

struct vg
{
    const char *name;
    const struct lvm_node *sec;
    struct pv *pv[VDSSHIM_MAX_FS_REPORTS];   /* in the order of physical_volumes */
    const struct lvm_node *pvsec[VDSSHIM_MAX_FS_REPORTS];
    unsigned npv;
    uint64_t extent;                /* bytes */
    struct use *uses;
    size_t nuses;
    char reason[120];
};

/* Note why the whole group falls back. */
static int ENGINE_PRINTF(2, 3) vg_fail(struct vg *g, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(g->reason, sizeof(g->reason), fmt, ap);
    va_end(ap);
    return VDSSHIM_OK;
}

static int pv_index(const struct vg *g, const char *name)
{
    unsigned i;

    for (i = 0; i < g->npv; i++)
        if (!strcmp(g->pvsec[i]->key, name)) return (int)i;
    return -1;
}

static const struct lvm_node *segment(const struct lvm_node *lv, unsigned k)
{
    char name[24];

    snprintf(name, sizeof(name), "segment%u", k);
    return lvm_get(lv, name, LVM_SECTION);
}

/* Every extent every LV's segments use, checked against the PVs; and no
 * segment type other than striped may name a PV itself. */
static int collect_uses(struct vg *g)
{
    const struct lvm_node *lvs = lvm_get(g->sec, "logical_volumes", LVM_SECTION), *lv;
    size_t cap = 0, i;

    for (lv = lvs ? lvs->child : NULL; lv; lv = lv->next)
    {
        const struct lvm_node *cnt = lvm_get(lv, "segment_count", LVM_INT);
        unsigned k;

        if (lv->kind != LVM_SECTION) continue;
        if (!cnt || cnt->num < 1 || cnt->num > 65536) return vg_fail(g, "LV %s has no segment count", lv->key);
        for (k = 1; k <= (unsigned)cnt->num; k++)
        {
            const struct lvm_node *seg = segment(lv, k), *type, *ec, *sc, *stripes, *n;
            uint64_t per;
            unsigned nstripes, s;

            if (!seg || !(type = lvm_get(seg, "type", LVM_STRING)) || !(ec = lvm_get(seg, "extent_count", LVM_INT))
                || ec->num < 1)
                return vg_fail(g, "LV %s: segment %u is incomplete", lv->key, k);
            if (strcmp(type->str, "striped"))
            {
                /* Its extents are in sub-LVs; it must not name a PV itself. */
                for (n = seg->child; n; n = n->next)
                {
                    const struct lvm_node *e = n->kind == LVM_LIST ? n->child : n;
                    for (; e; e = n->kind == LVM_LIST ? e->next : NULL)
                        if (e->kind == LVM_STRING && pv_index(g, e->str) >= 0)
                            return vg_fail(g, "LV %s: a %s segment places extents on %s itself", lv->key, type->str,
                                           e->str);
                }
                continue;
            }
            if (!(sc = lvm_get(seg, "stripe_count", LVM_INT)) || sc->num < 1 || sc->num > 128
                || ec->num % sc->num || !(stripes = lvm_get(seg, "stripes", LVM_LIST)))
                return vg_fail(g, "LV %s: segment %u's stripes are inconsistent", lv->key, k);
            nstripes = (unsigned)sc->num;
            per = (uint64_t)ec->num / nstripes;
            for (s = 0, n = stripes->child; s < nstripes; s++, n = n->next->next)
            {
                int idx;
                if (!n || n->kind != LVM_STRING || !n->next || n->next->kind != LVM_INT || n->next->num < 0
                    || (idx = pv_index(g, n->str)) < 0)
                    return vg_fail(g, "LV %s: segment %u names an unknown physical volume", lv->key, k);
                if (g->nuses == cap)
                {
                    struct use *u;
                    if (cap >= MAX_USES) return vg_fail(g, "more than %u segments", MAX_USES);
                    cap = cap ? cap * 2 : 64;
                    if (!(u = realloc(g->uses, cap * sizeof(*u)))) return VDSSHIM_E_NOMEM;
                    g->uses = u;
                }
                g->uses[g->nuses++] = (struct use){ (unsigned)idx, (uint64_t)n->next->num, per, lv->key };
            }
        }
    }
    if (g->nuses) qsort(g->uses, g->nuses, sizeof(*g->uses), cmp_use);
    for (i = 0; i < g->nuses; i++)
    {
        const struct use *u = &g->uses[i];
        const struct lvm_node *pc = lvm_get(g->pvsec[u->pv], "pe_count", LVM_INT);

        if (u->start + u->count > (uint64_t)pc->num)
            return vg_fail(g, "LV %s uses extents past the end of %s", u->lv, g->pvsec[u->pv]->key);
        if (i && u[-1].pv == u->pv && u[-1].start + u[-1].count > u->start)
            return vg_fail(g, "LVs %s and %s share extents of %s", u[-1].lv, u->lv, g->pvsec[u->pv]->key);
    }
    return VDSSHIM_OK;
}

/* Each PV's pe_start and pe_count, against its partition and its MDAs. */
static int check_pvs(struct vg *g)
{
    const struct lvm_node *es = lvm_get(g->sec, "extent_size", LVM_INT);
    unsigned i;

    if (!es || es->num < 1 || es->num > (1ll << 32)) return vg_fail(g, "volume group %s has no extent size", g->name);
    g->extent = (uint64_t)es->num * LVM_SECTOR;
    for (i = 0; i < g->npv; i++)
    {
        const struct lvm_node *ps = lvm_get(g->pvsec[i], "pe_start", LVM_INT);
        const struct lvm_node *pc = lvm_get(g->pvsec[i], "pe_count", LVM_INT);
        uint64_t start, bytes;

        if (!ps || !pc || ps->num < 0 || pc->num < 0 || (uint64_t)ps->num > g->pv[i]->vol.size / LVM_SECTOR
            || (uint64_t)pc->num > g->pv[i]->vol.size / g->extent)
            return vg_fail(g, "%s has no pe_start or pe_count", g->pvsec[i]->key);
        start = (uint64_t)ps->num * LVM_SECTOR;
        bytes = (uint64_t)pc->num * g->extent;
        if (start < LABEL_SCAN_SECTORS * LVM_SECTOR || bytes > g->pv[i]->vol.size - start)
            return vg_fail(g, "%s's extents (%llu bytes from %llu) do not fit its partition", g->pvsec[i]->key,
                           (unsigned long long)bytes, (unsigned long long)start);
    }
    return VDSSHIM_OK;
}

/* The LV that another LV's non-linear segment names (a snapshot's origin or
 * store, a thin external origin, a cache's origin): name of the user, or NULL. */
static const char *used_by(const struct vg *g, const char *name)
{
    const struct lvm_node *lvs = lvm_get(g->sec, "logical_volumes", LVM_SECTION), *lv, *n, *e;
    unsigned k;

    for (lv = lvs ? lvs->child : NULL; lv; lv = lv->next)
        for (k = 1; lv->kind == LVM_SECTION && segment(lv, k); k++)
        {
            const struct lvm_node *seg = segment(lv, k), *type = lvm_get(seg, "type", LVM_STRING);
            if (type && !strcmp(type->str, "striped")) continue;
            for (n = seg->child; n; n = n->next)
                for (e = n->kind == LVM_LIST ? n->child : n; e; e = n->kind == LVM_LIST ? e->next : NULL)
                    if (e->kind == LVM_STRING && !strcmp(e->str, name) && strcmp(lv->key, name)) return lv->key;
        }
    return NULL;
}

static int cmp_segment(const void *a, const void *b)
{
    const struct fs_segment *x = a, *y = b;

    return x->vol_off < y->vol_off ? -1 : x->vol_off > y->vol_off;
}

/* One LV: mapped when visible, linear and nobody else's component. */
static int map_lv(struct vg *g, const struct lvm_node *lv, struct fsmap *map)
{
    struct fs_segment *seg = NULL;
    struct fs_extent *ranges = NULL;
    struct vdsshim_fs_report *r;
    const char *user, *why = NULL;
    char name[32], whybuf[120];
    uint64_t size = 0;
    size_t nseg = 0, i;
    unsigned k;
    int st = VDSSHIM_OK;

    if (!lvm_list_has(lv, "status", "VISIBLE")) return VDSSHIM_OK;     /* a sub-LV: never a volume itself */
    for (k = 1; segment(lv, k); k++) {}
    seg = calloc(k, sizeof(*seg));
    ranges = calloc(k, sizeof(*ranges));
    if (!seg || !ranges)
    {
        st = VDSSHIM_E_NOMEM;
        goto done;
    }
    for (k = 1; !why && segment(lv, k); k++)
    {
        const struct lvm_node *s = segment(lv, k), *type = lvm_get(s, "type", LVM_STRING);
        const struct lvm_node *se = lvm_get(s, "start_extent", LVM_INT), *ec = lvm_get(s, "extent_count", LVM_INT);
        const struct lvm_node *sc = lvm_get(s, "stripe_count", LVM_INT), *stripes = lvm_get(s, "stripes", LVM_LIST);
        int idx;

        if (strcmp(type->str, "striped"))
        {
            snprintf(whybuf, sizeof(whybuf), "a %s LV: only linear LVs are mapped", type->str);
            why = whybuf;
        }
        else if (sc->num != 1)
        {
            snprintf(whybuf, sizeof(whybuf), "striped across %lld stripes: only linear LVs are mapped",
                     (long long)sc->num);
            why = whybuf;
        }
        else if (!se || se->num < 0)
            why = "a segment has no start extent";
        else
        {
            idx = pv_index(g, stripes->child->str);
            seg[nseg].vol_off = (uint64_t)se->num * g->extent;
            seg[nseg].len = (uint64_t)ec->num * g->extent;
            seg[nseg].disk_off = g->pv[idx]->vol.offset
                                 + (uint64_t)lvm_get(g->pvsec[idx], "pe_start", LVM_INT)->num * LVM_SECTOR
                                 + (uint64_t)stripes->child->next->num * g->extent;
            nseg++;
        }
    }
    if (!why && (user = used_by(g, lv->key)))
    {
        snprintf(whybuf, sizeof(whybuf), "LV %s reads through it (a snapshot, cache or thin origin)", user);
        why = whybuf;
    }
    if (!why)
    {
        qsort(seg, nseg, sizeof(*seg), cmp_segment);
        for (i = 0; i < nseg && !why; i++)
        {
            if (seg[i].vol_off != size) why = "its segments leave a gap or overlap";
            size += seg[i].len;
            ranges[i].start = seg[i].disk_off;
            ranges[i].len = seg[i].len;
        }
    }
    snprintf(name, sizeof(name), "LV %s/%s", g->name, lv->key);
    if (!(r = fsmap_new_report(map, name, nseg ? seg[0].disk_off : 0, size))) goto done;
    if (why)
    {
        fs_fall_back(r, VDSSHIM_E_UNSUPPORTED, "%s", why);
        goto done;
    }
    {
        struct fs_volume vol = { g->pv[0]->vol.img, seg[0].disk_off, size, g->pv[0]->vol.sector, seg, nseg };
        if (!(st = fsmap_report_ranges(map, r, ranges, nseg))) st = fsmap_map_volume(&vol, map, r);
    }
done:
    free(seg);
    free(ranges);
    return st;
}

/* The extents of each PV that no LV uses: free. */
static int map_pv_free(struct vg *g, struct fsmap *map)
{
    struct fs_extent *ranges = malloc((g->nuses + 1) * sizeof(*ranges));
    unsigned i;
    size_t u = 0, n;
    int st = VDSSHIM_OK;

    if (!ranges) return VDSSHIM_E_NOMEM;
    for (i = 0; i < g->npv && !st; i++)
    {
        struct pv *pv = g->pv[i];
        uint64_t start = (uint64_t)lvm_get(g->pvsec[i], "pe_start", LVM_INT)->num * LVM_SECTOR;
        uint64_t count = (uint64_t)lvm_get(g->pvsec[i], "pe_count", LVM_INT)->num, e = 0;

        for (n = 0; e < count && !st; )
        {
            uint64_t next = count;
            if (u < g->nuses && g->uses[u].pv == i) next = g->uses[u].start;
            if (next > e)
            {
                ranges[n].start = pv->vol.offset + start + e * g->extent;
                ranges[n].len = (next - e) * g->extent;
                st = fsmap_add_free(map, &pv->vol, start + e * g->extent, (next - e) * g->extent, pv->r);
                n++;
            }
            if (next == count) break;
            e = g->uses[u].start + g->uses[u].count;
            u++;
        }
        while (u < g->nuses && g->uses[u].pv == i) u++;
        if (!st) st = fsmap_report_ranges(map, pv->r, ranges, n);
        pv->r->used = !st;
    }
    free(ranges);
    return st;
}

/* A volume group found on pvs[first]: every PV it lists must be among pvs. */
static int map_vg(struct pv *pvs, unsigned npvs, unsigned first, struct fsmap *map)
{
    struct vg g = { .name = pvs[first].vg->key, .sec = pvs[first].vg };
    const struct lvm_node *list = lvm_get(g.sec, "physical_volumes", LVM_SECTION), *n, *id, *lt;
    const struct lvm_node *vgid = lvm_get(g.sec, "id", LVM_STRING), *lvs, *lv;
    unsigned i, missing = 0, listed = 0;
    int st = VDSSHIM_OK;

    for (n = list ? list->child : NULL; n; n = n->next)
    {
        if (n->kind != LVM_SECTION) continue;
        listed++;
        if (!(id = lvm_get(n, "id", LVM_STRING))) continue;
        for (i = 0; i < npvs && !same_uuid(id->str, pvs[i].uuid); i++) {}
        if (i == npvs || g.npv == VDSSHIM_MAX_FS_REPORTS)
        {
            missing++;
            continue;
        }
        pvs[i].in_vg = 1;
        g.pv[g.npv] = &pvs[i];
        g.pvsec[g.npv++] = n;
    }
    /* Every PV of the group is claimed, whatever else goes wrong. */
    for (i = 0; i < npvs; i++)
    {
        const struct lvm_node *other = pvs[i].vg ? lvm_get(pvs[i].vg, "id", LVM_STRING) : NULL;
        if (other && vgid && !strcmp(other->str, vgid->str)) pvs[i].in_vg = 1;
    }
    if (!vgid || !listed) vg_fail(&g, "volume group %s lists no physical volumes", g.name);
    else if (missing)
        vg_fail(&g, "volume group %s has %u physical volumes, %u of them not on this disk", g.name, listed, missing);
    else if ((lt = lvm_get(g.sec, "lock_type", LVM_STRING)) && strcmp(lt->str, "none"))
        vg_fail(&g, "a shared volume group (lock_type %s): another host may write it", lt->str);
    for (i = 0; i < npvs && !g.reason[0]; i++)
    {
        const struct lvm_node *other = pvs[i].vg ? lvm_get(pvs[i].vg, "id", LVM_STRING) : NULL;
        if (!pvs[i].in_vg || !other || strcmp(other->str, vgid->str)) continue;
        if (pvs[i].reason[0]) vg_fail(&g, "%s: %s", pvs[i].part->name, pvs[i].reason);
        else if (pvs[i].seqno != pvs[first].seqno)
            vg_fail(&g, "the metadata copies disagree (seqno %lld and %lld)", (long long)pvs[first].seqno,
                    (long long)pvs[i].seqno);
    }
    for (i = 0; i < g.npv && !g.reason[0]; i++)
        if (g.pv[i]->reason[0]) vg_fail(&g, "%s: %s", g.pv[i]->part->name, g.pv[i]->reason);
    if (!g.reason[0] && !(st = check_pvs(&g)) && !g.reason[0]) st = collect_uses(&g);
    if (!st && !g.reason[0])
    {
        lvs = lvm_get(g.sec, "logical_volumes", LVM_SECTION);
        for (lv = lvs ? lvs->child : NULL; lv && !st; lv = lv->next)
            if (lv->kind == LVM_SECTION) st = map_lv(&g, lv, map);
        if (!st) st = map_pv_free(&g, map);
    }
    for (i = 0; i < g.npv && g.reason[0]; i++) fs_fall_back(g.pv[i]->r, VDSSHIM_E_UNSUPPORTED, "%s", g.reason);
    free(g.uses);
    return st;
}

int lvm_map_all(struct vdsshim_image *img, const struct partition *parts, const int *is_pv, unsigned nparts,
                struct fsmap *map, struct vdsshim_diag *diag)
{
    struct pv pvs[VDSSHIM_MAX_FS_REPORTS];
    unsigned npvs = 0, i;
    int st = VDSSHIM_OK;

    memset(pvs, 0, sizeof(pvs));
    for (i = 0; i < nparts; i++)
    {
        struct pv *pv;
        if (!is_pv[i]) continue;
        pv = &pvs[npvs];
        /* No report left: the PV is not looked at, and its group, missing it, falls back. */
        if (!(pv->r = fsmap_new_report(map, parts[i].name, parts[i].offset, parts[i].size))) break;
        npvs++;
        pv->part = &parts[i];
        pv->vol = (struct fs_volume){ img, parts[i].offset, parts[i].size, img->info.logical_sector_size, NULL, 0 };
        pv->label_sector = is_pv[i];
        strcpy(pv->r->fs, "LVM2 PV");
        if ((st = read_pv(pv, diag))) goto done;
    }
    for (i = 0; i < npvs && !st; i++)
        if (pvs[i].vg && !pvs[i].in_vg) st = map_vg(pvs, npvs, i, map);
    for (i = 0; i < npvs && !st; i++)
        if (!pvs[i].in_vg)
            fs_fall_back(pvs[i].r, VDSSHIM_E_UNSUPPORTED, "%s",
                         pvs[i].reason[0] ? pvs[i].reason
                                          : "a physical volume no volume group on this disk lists (its extents are kept)");
done:
    for (i = 0; i < npvs; i++)
    {
        lvm_text_free(&pvs[i].tree);
        free(pvs[i].text);
    }
    if (st == VDSSHIM_E_NOMEM) return diag_set(diag, st, 0, "out of memory for the free-space map");
    return st;
}
