/*
 * The provider suite's fixtures, by name: what run.sh used to make with
 * qemu before the suite, now made by the test that needs them (fixture()),
 * so each test runs alone and in any order. The recipes are the old ones:
 * data, allocated zero blocks (the space Compact gives back), and more data.
 */
#include "conformance.h"
#include "fat_builder.h"
#include "win_fixtures.h"

#define MiB FIXTURE_MiB

static const struct fill dyn_vhdx[] = {
    { 0, 2 * MiB, 0x61 }, { 2 * MiB, 8 * MiB, 0 }, { 40 * MiB, 1 * MiB, 0x62 }, { 50 * MiB, 4 * MiB, 0 },
};
/* 1 GiB, half of it allocated zeros: a compaction long enough to cancel. */
static const struct fill long_vhdx[] = { { 0, 512 * MiB, 0 }, { 900 * MiB, 1 * MiB, 0x63 } };
static const struct fill grow_vhdx[] = { { 0, 3 * MiB, 0x66 }, { 63 * MiB, 1 * MiB, 0x67 } };
/* Fixed disks to grow, with data at both ends. */
static const struct fill fixed_grow[] = { { 0, 1 * MiB, 0x68 }, { 15 * MiB, 1 * MiB, 0x69 } };
static const struct fill dyn_vhd[] = { { 0, 2 * MiB, 0x64 }, { 2 * MiB, 6 * MiB, 0 }, { 20 * MiB, 2 * MiB, 0x65 } };

static BOOL fat_disk(const WCHAR *name)
{
    uint8_t *raw = malloc(FAT_DISK_SIZE);
    BOOL good;

    if (!raw)
    {
        ok(0, "fixture %ls: out of memory", name);
        return FALSE;
    }
    fat_disk_build(raw);
    good = make_vhdx_from_raw(name, raw, FAT_DISK_SIZE);
    free(raw);
    return good;
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

BOOL fixture(const WCHAR *name)
{
    static const WCHAR *const dyn_copies[] = { L"dyn.vhdx", L"attach.vhdx", L"orphan.vhdx", L"race.vhdx" };
    static const WCHAR *const long_copies[] = { L"cancel.vhdx", L"busy.vhdx", L"busy3.vhdx" };
    size_t i;

    for (i = 0; i < sizeof(dyn_copies) / sizeof(*dyn_copies); i++)
        if (!wcscmp(name, dyn_copies[i])) return make_vhdx(name, 64 * MiB, dyn_vhdx, N(dyn_vhdx));
    for (i = 0; i < sizeof(long_copies) / sizeof(*long_copies); i++)
        if (!wcscmp(name, long_copies[i])) return make_vhdx(name, 1024 * MiB, long_vhdx, N(long_vhdx));
    if (!wcscmp(name, L"grow.vhdx")) return make_vhdx(name, 64 * MiB, grow_vhdx, N(grow_vhdx));
    if (!wcscmp(name, L"fixed-grow.vhd") || !wcscmp(name, L"fixed-grow.vhdx"))
        return make_fixed(name, 16 * MiB, fixed_grow, N(fixed_grow));
    if (!wcscmp(name, L"dyn.vhd")) return make_vhd(name, 32 * MiB, dyn_vhd, N(dyn_vhd));
    if (!wcscmp(name, L"fixed.vhd")) return make_fixed(name, 16 * MiB, NULL, 0);
    if (!wcscmp(name, L"created-fixed.vhd")) return make_fixed(name, 8 * MiB, NULL, 0);
    if (!wcscmp(name, L"chain") || !wcscmp(name, L"chain2")) return make_chain_fixture(name, TRUE);
    if (!wcscmp(name, L"fs.vhdx") || !wcscmp(name, L"fs-offline.vhdx")) return fat_disk(name);
    ok(0, "no fixture is called %ls", name);
    return FALSE;
}
