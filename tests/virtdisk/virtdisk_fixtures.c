/*
 * The virtdisk suite's fixtures, by name: what run.sh used to make with
 * qemu before the suite, now made by the test that needs them (fixture()),
 * so each test runs alone and in any order.
 */
#include <stdlib.h>
#include <string.h>

#include "vhd_builder.h"
#include "virtdisk_fixtures.h"
#include "win_fixtures.h"
#include "win_tap.h"

#define MiB FIXTURE_MiB

/* 64 MiB, 1 MiB blocks: data, allocated zero blocks, data, zero blocks. */
static const struct fill dyn[] = {
    { 0, 2 * MiB, 0x61 }, { 2 * MiB, 8 * MiB, 0 }, { 40 * MiB, 1 * MiB, 0x62 }, { 50 * MiB, 4 * MiB, 0 },
};

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

/* 64 MiB with one MBR partition of 40 MiB at 1 MiB (the smallest safe size
 * is its end); with_data: random data inside it (3 MiB at 2 MiB) and past it
 * (2 MiB at 50 MiB), so that only an unsafe shrink goes below 64 MiB. */
static BOOL partitioned(const WCHAR *name, BOOL with_data)
{
    uint8_t *raw = calloc(1, 64 * MiB);
    BOOL good;

    if (!raw)
    {
        ok(0, "fixture %ls: out of memory", name);
        return FALSE;
    }
    raw[446 + 4] = 0x83;
    le32(raw + 446 + 8, 2048);
    le32(raw + 446 + 12, 81920);
    raw[510] = 0x55;
    raw[511] = 0xaa;
    if (with_data)
    {
        fill_random(raw + 2 * MiB, 3 * MiB, 31);
        fill_random(raw + 50 * MiB, 2 * MiB, 32);
    }
    good = make_vhdx_from_raw(name, raw, 64 * MiB);
    free(raw);
    return good;
}

static BOOL copy(const WCHAR *from, const WCHAR *to)
{
    WCHAR a[MAX_PATH], b[MAX_PATH];

    fixture_path(from, a);
    fixture_path(to, b);
    if (CopyFileW(a, b, FALSE)) return TRUE;
    ok(0, "fixture %ls: cannot copy %ls (error %lu)", to, from, GetLastError());
    return FALSE;
}

BOOL fixture(const WCHAR *name)
{
    static const WCHAR *const dyn_copies[] = { L"dyn.vhdx", L"hold.vhdx", L"close.vhdx", L"grow.vhdx" };
    size_t i;

    for (i = 0; i < sizeof(dyn_copies) / sizeof(*dyn_copies); i++)
        if (!wcscmp(name, dyn_copies[i])) return make_vhdx(name, 64 * MiB, dyn, 4);
    /* cancel.orig: the bytes before, for run.sh to compare with what a cancelled Compact left. */
    if (!wcscmp(name, L"cancel.vhdx")) return make_vhdx(name, 64 * MiB, dyn, 4) && copy(name, L"cancel.orig");
    if (!wcscmp(name, L"frag.vhdx")) return make_vhdx_backwards(name, 64 * MiB, dyn, 4);
    /* The test chain (chain_builder.h): m2\parent.vhdx, m2\child.vhdx and what the child reads. */
    if (!wcscmp(name, L"m2")) return make_chain_fixture(name, TRUE);
    if (!wcscmp(name, L"meta.vhdx")) return make_vhdx(name, 64 * MiB, dyn, 4) && add_user_item(name);
    if (!wcscmp(name, L"plain.vhd")) return make_vhd(name, 8 * MiB, NULL, 0);
    if (!wcscmp(name, L"part.vhdx")) return partitioned(name, FALSE);
    if (!wcscmp(name, L"shrink.vhdx")) return partitioned(name, TRUE);
    ok(0, "no fixture is called %ls", name);
    return FALSE;
}
