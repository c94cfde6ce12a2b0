/*
 * Fixtures for the PE conformance suites, made by the test that needs them
 * (as Wine's tests make theirs), so that each test runs alone: images from
 * the spec-driven builders, with no qemu under wine. Each maker replaces
 * fixture_dir\name and writes fixture_dir\name.raw beside it: the bytes the
 * guest reads (sparse), which run.sh's qemu-img compare judges the image
 * against after the suite. A maker that fails says why in a "not ok" line.
 */
#ifndef VDSSHIM_TEST_WIN_FIXTURES_H
#define VDSSHIM_TEST_WIN_FIXTURES_H

#include <windows.h>
#include <stdint.h>

/* A run of the guest's bytes, all `byte` (0: zeros that are allocated all
 * the same, as qemu's block_state_zero=off writes them). Blocks no fill
 * touches have no data. (Random data: make_vhdx_from_raw.) */
struct fill
{
    uint64_t offset, length;
    uint8_t byte;
};
#define FIXTURE_MiB (1ull << 20)

/* The suite's working directory (set once, by wmain). */
extern const WCHAR *fixture_dir;

/* A dynamic VHDX with 1 MiB blocks, one per block a fill touches. */
BOOL make_vhdx(const WCHAR *name, uint64_t size, const struct fill *fills, int n);
/* The same with the blocks in the file in reverse virtual order: a
 * fragmented disk, every block but the first out of place. */
BOOL make_vhdx_backwards(const WCHAR *name, uint64_t size, const struct fill *fills, int n);
/* A dynamic VHD with 2 MiB blocks (qemu's default), likewise. */
BOOL make_vhd(const WCHAR *name, uint64_t size, const struct fill *fills, int n);
/* A fixed VHD or VHDX (by name's extension) reading as the fills: the
 * dynamic one, converted by the engine (vdsshim_convert). */
BOOL make_fixed(const WCHAR *name, uint64_t size, const struct fill *fills, int n);
/* A VHDX (1 MiB blocks) holding raw[0..size): a block where raw has data. */
BOOL make_vhdx_from_raw(const WCHAR *name, const uint8_t *raw, uint64_t size);
/* The test chain (chain_builder.h) in fixture_dir\subdir, and subdir\child.raw. */
BOOL make_chain_fixture(const WCHAR *subdir, BOOL vhdx);
/* One user metadata item {12345678-9abc-def0-1122-334455667788} = "hello,
 * vdsshim" added to name, a VHDX a maker above wrote. */
BOOL add_user_item(const WCHAR *name);
/* Deletes fixture_dir\name if it is there: for what a test creates. */
void no_file(const WCHAR *name);
/* fixture_dir\name, in out (MAX_PATH). */
void fixture_path(const WCHAR *name, WCHAR *out);

#endif
