/* The test chain (chain_builder.h), with the spec-driven image builders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_builder.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1u << 20)
#define BLOCK (2 * MiB)
#define BLOCKS (CHAIN_SIZE / BLOCK)

static const uint8_t id_parent[16] = { 0xc1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t id_child[16] = { 0xc2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static int in_parent(unsigned i) { return i % 3 == 0; }
static int in_child(unsigned i) { return i % 2 == 0; }
static int child_full(unsigned i) { return i % 4 == 0; }

/* The partial blocks' sector bitmap. Each byte reads the same LSB first
 * (VHDX) and MSB first (VHD), so one bitmap means the same sectors in both. */
static void partial_bitmap(uint8_t bits[BLOCK / 512 / 8])
{
    memset(bits, 0, BLOCK / 512 / 8);
    memset(bits + 16, 0xff, 32);        /* sectors 128..383 */
    bits[500] = 0x81;                   /* sectors 4000 and 4007 */
}

int chain_save(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f))
    {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int build_vhd(const char *dir, uint8_t *d, const uint8_t *bits)
{
    struct vhd_builder b;
    size_t size;
    unsigned i;
    int rc;

    vb_init(&b, CHAIN_SIZE, BLOCK, id_parent, NULL);
    for (i = 0; i < BLOCKS; i++)
        if (in_parent(i))
        {
            fill_random(d, BLOCK, 10 + i);
            vb_add_block(&b, i, NULL, d);
        }
    vb_finish(&b, &size);
    rc = chain_save(dir, "parent.vhd", b.data, size);
    vb_free(&b);
    vb_init(&b, CHAIN_SIZE, BLOCK, id_child, id_parent);
    vb_add_locator(&b, 0x57327275u /* W2ru */, ".\\parent.vhd");
    for (i = 0; i < BLOCKS; i++)
        if (in_child(i))
        {
            fill_random(d, BLOCK, 50 + i);
            vb_add_block(&b, i, child_full(i) ? NULL : bits, d);
        }
    vb_finish(&b, &size);
    rc |= chain_save(dir, "child.vhd", b.data, size);
    vb_free(&b);
    return rc;
}

static int build_vhdx(const char *dir, uint8_t *d, const uint8_t *bits)
{
    struct vhdx_builder b;
    char linkage[39];
    size_t size;
    unsigned i;
    int rc;

    xb_init(&b, CHAIN_SIZE, BLOCK, 512, id_parent, NULL, NULL);
    for (i = 0; i < BLOCKS; i++)
        if (in_parent(i))
        {
            fill_random(d, BLOCK, 10 + i);
            xb_add_block(&b, i, 6, d, NULL);
        }
    xb_finish(&b, &size);
    rc = chain_save(dir, "parent.vhdx", b.data, size);
    xb_free(&b);
    xb_guid_text(id_parent, linkage);
    xb_init(&b, CHAIN_SIZE, BLOCK, 512, id_child, linkage, "parent.vhdx");
    for (i = 0; i < BLOCKS; i++)
        if (in_child(i))
        {
            fill_random(d, BLOCK, 50 + i);
            /* 6 fully present, 7 partially present */
            xb_add_block(&b, i, child_full(i) ? 6 : 7, d, child_full(i) ? NULL : bits);
        }
    xb_finish(&b, &size);
    rc |= chain_save(dir, "child.vhdx", b.data, size);
    xb_free(&b);
    return rc;
}

int chain_build(int vhdx, const char *dir)
{
    uint8_t *d = malloc(BLOCK), bits[BLOCK / 512 / 8];
    int rc;

    if (!d) return 1;
    partial_bitmap(bits);
    rc = vhdx ? build_vhdx(dir, d, bits) : build_vhd(dir, d, bits);
    free(d);
    return rc;
}

void chain_expected(uint8_t *out)
{
    uint8_t bits[BLOCK / 512 / 8], *child = malloc(BLOCK);
    unsigned i, s;

    partial_bitmap(bits);
    memset(out, 0, CHAIN_SIZE);
    for (i = 0; i < BLOCKS; i++)
    {
        uint8_t *at = out + (size_t)i * BLOCK;

        if (in_parent(i)) fill_random(at, BLOCK, 10 + i);
        if (!in_child(i) || !child) continue;
        fill_random(child, BLOCK, 50 + i);
        for (s = 0; s < BLOCK / 512; s++)
            if (child_full(i) || bits[s / 8] & (1u << (s % 8))) memcpy(at + s * 512, child + s * 512, 512);
    }
    free(child);
}
