/*
 * make_chain FORMAT DIR: writes DIR/parent.FORMAT (dynamic, some blocks) and
 * DIR/child.FORMAT (differencing, full and partial blocks over and beside
 * the parent's) with the spec-driven test builders, for the CLI merge tests
 * (no other tool here writes differencing images).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhd_builder.h"
#include "vhdx_builder.h"

#define MiB (1u << 20)

static int save(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f))
    {
        fprintf(stderr, "make_chain: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const uint8_t id_p[16] = { 0xc1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    static const uint8_t id_c[16] = { 0xc2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    uint8_t *d = malloc(2 * MiB), bits[2 * MiB / 512 / 8];
    size_t size;
    unsigned i;
    int rc = 0;

    if (argc != 3 || (strcmp(argv[1], "vhd") && strcmp(argv[1], "vhdx")))
    {
        fprintf(stderr, "usage: make_chain vhd|vhdx DIR\n");
        return 2;
    }
    memset(bits, 0, sizeof(bits));
    memset(bits + 16, 0xff, 32);        /* sectors 128..383 */
    bits[500] = 0x81;
    if (!strcmp(argv[1], "vhd"))
    {
        struct vhd_builder b;

        vb_init(&b, 64ull * MiB, 2 * MiB, id_p, NULL);
        for (i = 0; i < 32; i += 3)
        {
            fill_random(d, 2 * MiB, 10 + i);
            vb_add_block(&b, i, NULL, d);
        }
        vb_finish(&b, &size);
        rc |= save(argv[2], "parent.vhd", b.data, size);
        vb_free(&b);
        vb_init(&b, 64ull * MiB, 2 * MiB, id_c, id_p);
        vb_add_locator(&b, 0x57327275u /* W2ru */, ".\\parent.vhd");
        for (i = 0; i < 32; i += 2)
        {
            fill_random(d, 2 * MiB, 50 + i);
            vb_add_block(&b, i, i % 4 ? bits : NULL, d);
        }
        vb_finish(&b, &size);
        rc |= save(argv[2], "child.vhd", b.data, size);
        vb_free(&b);
    }
    else
    {
        struct vhdx_builder b;
        char linkage[39];

        xb_init(&b, 64ull * MiB, 2 * MiB, 512, id_p, NULL, NULL);
        for (i = 0; i < 32; i += 3)
        {
            fill_random(d, 2 * MiB, 10 + i);
            xb_add_block(&b, i, 6, d, NULL);
        }
        xb_finish(&b, &size);
        rc |= save(argv[2], "parent.vhdx", b.data, size);
        xb_free(&b);
        xb_guid_text(id_p, linkage);
        xb_init(&b, 64ull * MiB, 2 * MiB, 512, id_c, linkage, "parent.vhdx");
        for (i = 0; i < 32; i += 2)
        {
            fill_random(d, 2 * MiB, 50 + i);
            xb_add_block(&b, i, i % 4 ? 7 : 6, d, i % 4 ? bits : NULL);   /* 7: partially present */
        }
        xb_finish(&b, &size);
        rc |= save(argv[2], "child.vhdx", b.data, size);
        xb_free(&b);
    }
    free(d);
    return rc;
}
