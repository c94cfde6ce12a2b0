/* Fixtures for the PE conformance suites (win_fixtures.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "chain_builder.h"
#include "vdsshim.h"
#include "vhd_builder.h"
#include "vhdx_builder.h"
#include "win_fixtures.h"
#include "win_tap.h"

const WCHAR *fixture_dir;

/* The block at index i into buf, or FALSE when it has no data. */
typedef BOOL (*block_fn)(const void *ctx, uint64_t index, uint32_t block, uint8_t *buf);

struct fills
{
    const struct fill *f;
    int n;
};

void fixture_path(const WCHAR *name, WCHAR *out)
{
    _snwprintf(out, MAX_PATH, L"%ls\\%ls", fixture_dir, name);
    out[MAX_PATH - 1] = 0;
}

void no_file(const WCHAR *name)
{
    WCHAR path[MAX_PATH];

    fixture_path(name, path);
    DeleteFileW(path);
}

static BOOL failed_to(const WCHAR *name, const char *what)
{
    ok(0, "fixture %ls: %s (error %lu)", name, what, (unsigned long)GetLastError());
    return FALSE;
}

static BOOL fills_block(const void *ctx, uint64_t index, uint32_t block, uint8_t *buf)
{
    const struct fills *fs = ctx;
    uint64_t start = index * block, end = start + block;
    BOOL any = FALSE;
    int i;

    memset(buf, 0, block);
    for (i = 0; i < fs->n; i++)
    {
        const struct fill *f = &fs->f[i];
        uint64_t from = f->offset > start ? f->offset : start, to = f->offset + f->length < end ? f->offset + f->length : end;

        if (from >= to) continue;
        any = TRUE;
        memset(buf + (from - start), f->byte, (size_t)(to - from));
    }
    return any;
}

static BOOL raw_block(const void *ctx, uint64_t index, uint32_t block, uint8_t *buf)
{
    memcpy(buf, (const uint8_t *)ctx + index * block, block);
    return !buffer_is_zero(buf, block);
}

static BOOL write_at(HANDLE h, uint64_t offset, const void *data, uint32_t len)
{
    OVERLAPPED ov = { 0 };
    DWORD done;

    ov.Offset = (DWORD)offset;
    ov.OffsetHigh = (DWORD)(offset >> 32);
    return WriteFile(h, data, len, &done, &ov) && done == len;
}

static HANDLE create(const WCHAR *name)
{
    WCHAR path[MAX_PATH];

    fixture_path(name, path);
    return CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

static BOOL save(const WCHAR *name, const uint8_t *data, size_t size)
{
    HANDLE h = create(name);
    size_t done;
    BOOL good = h != INVALID_HANDLE_VALUE;

    for (done = 0; good && done < size; done += 64 * FIXTURE_MiB)
        good = write_at(h, done, data + done, (uint32_t)(size - done < 64 * FIXTURE_MiB ? size - done : 64 * FIXTURE_MiB));
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
    return good || failed_to(name, "cannot write the image");
}

/* name.raw: the blocks with data at their offsets, holes elsewhere. */
struct raw_file
{
    HANDLE h;
    WCHAR name[MAX_PATH];
};

static BOOL raw_open(struct raw_file *r, const WCHAR *name)
{
    _snwprintf(r->name, MAX_PATH, L"%ls.raw", name);
    r->name[MAX_PATH - 1] = 0;
    return (r->h = create(r->name)) != INVALID_HANDLE_VALUE || failed_to(r->name, "cannot create");
}

static BOOL raw_close(struct raw_file *r, uint64_t size)
{
    LARGE_INTEGER end;
    BOOL good;

    end.QuadPart = (LONGLONG)size;
    good = SetFilePointerEx(r->h, end, NULL, FILE_BEGIN) && SetEndOfFile(r->h);
    CloseHandle(r->h);
    return good || failed_to(r->name, "cannot set its size");
}

/* backwards: the blocks go into the file in reverse virtual order. */
static BOOL build(const WCHAR *name, BOOL vhdx, BOOL backwards, uint64_t size, uint32_t block, block_fn get,
                  const void *ctx)
{
    struct vhdx_builder xb;
    struct vhd_builder vb;
    static const uint8_t id[16] = { 0xf1, 0x7e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
    struct raw_file raw;
    uint8_t *buf = malloc(block);
    uint64_t i, n = (size + block - 1) / block, k;
    size_t len;
    BOOL good;

    if (!buf || !raw_open(&raw, name))
    {
        free(buf);
        return buf ? FALSE : failed_to(name, "out of memory");
    }
    if (vhdx) xb_init(&xb, size, block, 512, id, NULL, NULL);
    else vb_init(&vb, size, block, id, NULL);
    for (k = 0, good = TRUE; good && k < n; k++)
    {
        i = backwards ? n - 1 - k : k;
        if (!get(ctx, i, block, buf)) continue;
        if (vhdx) xb_add_block(&xb, i, 6 /* fully present */, buf, NULL);
        else vb_add_block(&vb, (uint32_t)i, NULL, buf);
        /* Zeros stay a hole in the raw copy: it reads them all the same. */
        if (!buffer_is_zero(buf, block)) good = write_at(raw.h, i * block, buf, block) || failed_to(raw.name, "cannot write");
    }
    good = raw_close(&raw, size) && good;
    if (vhdx)
    {
        xb_finish(&xb, &len);
        good = good && save(name, xb.data, len);
        xb_free(&xb);
    }
    else
    {
        vb_finish(&vb, &len);
        good = good && save(name, vb.data, len);
        vb_free(&vb);
    }
    free(buf);
    return good;
}

BOOL make_vhdx(const WCHAR *name, uint64_t size, const struct fill *fills, int n)
{
    struct fills fs = { fills, n };

    return build(name, TRUE, FALSE, size, FIXTURE_MiB, fills_block, &fs);
}

BOOL make_vhdx_backwards(const WCHAR *name, uint64_t size, const struct fill *fills, int n)
{
    struct fills fs = { fills, n };

    return build(name, TRUE, TRUE, size, FIXTURE_MiB, fills_block, &fs);
}

BOOL make_vhd(const WCHAR *name, uint64_t size, const struct fill *fills, int n)
{
    struct fills fs = { fills, n };

    return build(name, FALSE, FALSE, size, 2 * FIXTURE_MiB, fills_block, &fs);
}

BOOL make_vhdx_from_raw(const WCHAR *name, const uint8_t *raw, uint64_t size)
{
    return build(name, TRUE, FALSE, size, FIXTURE_MiB, raw_block, raw);
}

static void utf8_path(const WCHAR *name, char *out)
{
    WCHAR path[MAX_PATH];

    fixture_path(name, path);
    WideCharToMultiByte(CP_UTF8, 0, path, -1, out, MAX_PATH * 3, NULL, NULL);
}

/* FIXTURE_DIR\name + suffix, in out (MAX_PATH). */
static void fixture_path_plus(const WCHAR *name, const WCHAR *suffix, WCHAR *out)
{
    WCHAR full[MAX_PATH];

    _snwprintf(full, MAX_PATH, L"%ls%ls", name, suffix);
    full[MAX_PATH - 1] = 0;
    fixture_path(full, out);
}

BOOL make_fixed(const WCHAR *name, uint64_t size, const struct fill *fills, int n)
{
    size_t len = wcslen(name);
    BOOL vhdx = len > 5 && !_wcsicmp(name + len - 5, L".vhdx");
    struct vdsshim_create_params params = { 0 };
    struct vdsshim_diag diag = { .msg = { 0 } };
    WCHAR dynamic[MAX_PATH], path[MAX_PATH], raw_from[MAX_PATH], raw_to[MAX_PATH];
    char from[MAX_PATH * 3], to[MAX_PATH * 3];
    int st;

    _snwprintf(dynamic, MAX_PATH, L"%ls.dynamic", name);
    dynamic[MAX_PATH - 1] = 0;
    if (!(vhdx ? make_vhdx : make_vhd)(dynamic, size, fills, n)) return FALSE;
    fixture_path(name, path);
    DeleteFileW(path);
    utf8_path(dynamic, from);
    utf8_path(name, to);
    params.format = vhdx ? VDSSHIM_FORMAT_VHDX : VDSSHIM_FORMAT_VHD;
    params.type = VDSSHIM_DISK_FIXED;
    params.block_size = vhdx ? FIXTURE_MiB : 0;
    st = vdsshim_convert(from, to, &params, NULL, &diag);
    fixture_path(dynamic, path);
    DeleteFileW(path);
    /* The dynamic disk's raw copy is the fixed one's. */
    fixture_path_plus(dynamic, L".raw", raw_from);
    fixture_path_plus(name, L".raw", raw_to);
    if (!MoveFileExW(raw_from, raw_to, MOVEFILE_REPLACE_EXISTING)) return failed_to(name, "cannot rename the raw copy");
    if (st) ok(0, "fixture %ls: vdsshim_convert: %s", name, diag.msg);
    return !st;
}

BOOL make_chain_fixture(const WCHAR *subdir, BOOL vhdx)
{
    WCHAR path[MAX_PATH], raw_name[MAX_PATH];
    char at[MAX_PATH * 3];
    uint8_t *expected = malloc(CHAIN_SIZE);
    BOOL good;

    fixture_path(subdir, path);
    CreateDirectoryW(path, NULL);
    WideCharToMultiByte(CP_UTF8, 0, path, -1, at, sizeof(at), NULL, NULL);
    if (!expected) return failed_to(subdir, "out of memory");
    if (chain_build(vhdx, at))
    {
        free(expected);
        return failed_to(subdir, "cannot write the chain");
    }
    chain_expected(expected);
    _snwprintf(raw_name, MAX_PATH, L"%ls\\child.raw", subdir);
    raw_name[MAX_PATH - 1] = 0;
    good = save(raw_name, expected, CHAIN_SIZE);
    free(expected);
    return good;
}

BOOL add_user_item(const WCHAR *name)
{
    static const uint8_t meta_region[16] = { 0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                             0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
    static const uint8_t item[16] = { 0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
                                      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    static const char value[] = "hello, vdsshim";
    WCHAR path[MAX_PATH];
    uint8_t rt[64 * 1024], table[64 * 1024];
    uint32_t count, i, n, entry[4] = { 0x80000, sizeof(value) - 1, 1 /* IsUser */, 0 };
    uint64_t meta = 0;
    DWORD done;
    OVERLAPPED ov = { 0 };
    HANDLE h;
    BOOL good;

    fixture_path(name, path);
    h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) return failed_to(name, "cannot open");
    /* The region table at 192 KiB: the metadata region's offset. */
    ov.Offset = 192 * 1024;
    good = ReadFile(h, rt, sizeof(rt), &done, &ov) && done == sizeof(rt);
    memcpy(&count, rt + 8, 4);
    for (i = 0; good && i < count && i < 2047; i++)
        if (!memcmp(rt + 16 + 32 * i, meta_region, 16)) memcpy(&meta, rt + 32 + 32 * i, 8);
    ov.Offset = (DWORD)meta;
    ov.OffsetHigh = (DWORD)(meta >> 32);
    good = good && meta && ReadFile(h, table, sizeof(table), &done, &ov) && done == sizeof(table);
    /* The table's entry count at 10; entries of 32 bytes from 32. */
    n = good ? (uint32_t)(table[10] | table[11] << 8) : 0;
    if (good)
    {
        memcpy(table + 32 + 32 * n, item, 16);
        memcpy(table + 48 + 32 * n, entry, sizeof(entry));
        table[10] = (uint8_t)(n + 1);
        table[11] = (uint8_t)((n + 1) >> 8);
        good = write_at(h, meta, table, sizeof(table)) && write_at(h, meta + 0x80000, value, sizeof(value) - 1);
    }
    CloseHandle(h);
    return good || failed_to(name, "cannot add the user metadata item");
}
