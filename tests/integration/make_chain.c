/*
 * make_chain FORMAT DIR: writes DIR/parent.FORMAT (dynamic, some blocks) and
 * DIR/child.FORMAT (differencing, full and partial blocks over and beside
 * the parent's): the test chain of chain_builder.h, for the CLI merge tests
 * (no other tool here writes differencing images).
 * make_chain FORMAT DIR PARENT.raw CHILD.raw: the same pair from two raw disks
 * of one size: the parent holds every 2 MiB block of PARENT.raw with data,
 * the child exactly the sectors where CHILD.raw differs (a partial block with
 * a sector bitmap, or a full one), so that the chain reads as CHILD.raw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_builder.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1u << 20)

static uint8_t *load(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    long n;

    if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && n % (2 * MiB) == 0 && !fseek(f, 0, SEEK_SET)
        && (d = malloc((size_t)n)) && fread(d, 1, (size_t)n, f) == (size_t)n)
        *size = (size_t)n;
    else
    {
        fprintf(stderr, "make_chain: cannot read %s (a multiple of 2 MiB)\n", path);
        free(d);
        d = NULL;
    }
    if (f) fclose(f);
    return d;
}

static int is_zero(const uint8_t *p, size_t n)
{
    while (n--)
        if (*p++) return 0;
    return 1;
}

/* Parent from one raw disk, child from the sectors where the second differs. */
static int from_raw(int vhdx, const char *dir, const char *praw, const char *craw, const uint8_t *id_p,
                    const uint8_t *id_c)
{
    const uint32_t bs = 2 * MiB, spb = bs / 512;
    size_t psize = 0, csize = 0, size, i;
    uint8_t *p = load(praw, &psize), *c = load(craw, &csize), bits[2 * MiB / 512 / 8];
    char linkage[39];
    int rc = 0;

    if (!p || !c || psize != csize)
    {
        if (p && c) fprintf(stderr, "make_chain: %s and %s differ in size\n", praw, craw);
        free(p);
        free(c);
        return 1;
    }
    for (int child = 0; child < 2; child++)
    {
        struct vhd_builder vb;
        struct vhdx_builder xb;

        if (vhdx)
        {
            xb_guid_text(id_p, linkage);
            xb_init(&xb, psize, bs, 512, child ? id_c : id_p, child ? linkage : NULL, child ? "parent.vhdx" : NULL);
        }
        else
        {
            vb_init(&vb, psize, bs, child ? id_c : id_p, child ? id_p : NULL);
            if (child) vb_add_locator(&vb, 0x57327275u /* W2ru */, ".\\parent.vhd");
        }
        for (i = 0; i < psize / bs; i++)
        {
            const uint8_t *pb = p + i * bs, *cb = c + i * bs;
            unsigned s, n = 0;

            if (!child)
            {
                if (is_zero(pb, bs)) continue;
                if (vhdx) xb_add_block(&xb, i, 6, pb, NULL);
                else vb_add_block(&vb, (uint32_t)i, NULL, pb);
                continue;
            }
            memset(bits, 0, sizeof(bits));
            for (s = 0; s < spb; s++)
                if (memcmp(pb + s * 512, cb + s * 512, 512))
                {
                    /* VHD bitmaps are MSB first, VHDX bitmaps LSB first. */
                    bits[s / 8] |= vhdx ? 1u << (s % 8) : 0x80u >> (s % 8);
                    n++;
                }
            if (!n) continue;
            if (vhdx) xb_add_block(&xb, i, n == spb ? 6 : 7, cb, n == spb ? NULL : bits);
            else vb_add_block(&vb, (uint32_t)i, n == spb ? NULL : bits, cb);
        }
        if (vhdx)
        {
            xb_finish(&xb, &size);
            rc |= chain_save(dir, child ? "child.vhdx" : "parent.vhdx", xb.data, size);
            xb_free(&xb);
        }
        else
        {
            vb_finish(&vb, &size);
            rc |= chain_save(dir, child ? "child.vhd" : "parent.vhd", vb.data, size);
            vb_free(&vb);
        }
    }
    free(p);
    free(c);
    return rc;
}

int main(int argc, char **argv)
{
    static const uint8_t id_p[16] = { 0xc1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    static const uint8_t id_c[16] = { 0xc2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

    if ((argc != 3 && argc != 5) || (strcmp(argv[1], "vhd") && strcmp(argv[1], "vhdx")))
    {
        fprintf(stderr, "usage: make_chain vhd|vhdx DIR [PARENT.raw CHILD.raw]\n");
        return 2;
    }
    if (argc == 5) return from_raw(!strcmp(argv[1], "vhdx"), argv[2], argv[3], argv[4], id_p, id_c);
    return chain_build(!strcmp(argv[1], "vhdx"), argv[2]);
}
