/*
 * VHDX header, region table and metadata region decoders. Input: a 4 KiB
 * header, a 64 KiB region table, then the metadata region (any length up to
 * 1 MiB; short inputs are zero-padded). Accepted headers and region tables
 * must survive encode → decode → encode unchanged; refusals must say why.
 * The header and the region table are decoded twice: as given, and with
 * their CRC-32C made right, so that mutations reach the checks behind it.
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fuzz.h"
#include "vhdx.h"

#define META_AT (VHDX_HEADER_SIZE + VHDX_REGION_SIZE)
#define META_MAX (1u << 20)

static uint8_t raw[META_AT + META_MAX];
static uint8_t once[VHDX_REGION_SIZE], twice[VHDX_REGION_SIZE], fixed[VHDX_REGION_SIZE];

/* buf with its checksum field (offset 4) set to the CRC-32C of its len bytes. */
static const uint8_t *with_crc(const uint8_t *buf, size_t len)
{
    memcpy(fixed, buf, len);
    put_le32(fixed + 4, crc32c_with_zero_field(fixed, len, 4));
    return fixed;
}

static void check_header(const uint8_t *buf)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vhdx_header h, h2;
    int st = vhdx_header_decode(buf, &h, 64 * 1024, &diag);

    if (st == VDSSHIM_OK)
    {
        vhdx_header_encode(&h, once);
        FUZZ_CHECK(vhdx_header_decode(once, &h2, 0, &diag) == VDSSHIM_OK, "re-encoded header refused: %s", diag.msg);
        vhdx_header_encode(&h2, twice);
        FUZZ_CHECK(!memcmp(once, twice, VHDX_HEADER_SIZE), "header encode/decode is not stable");
    }
    else
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "header refused with %s, reason '%s'",
                   vdsshim_status_name(st), diag.msg);
}

static void check_region_table(const uint8_t *buf)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vhdx_region_table t, t2;
    int st = vhdx_region_table_decode(buf, &t, 192 * 1024, &diag);

    if (st == VDSSHIM_OK)
    {
        vhdx_region_table_encode(&t, once);
        FUZZ_CHECK(vhdx_region_table_decode(once, &t2, 0, &diag) == VDSSHIM_OK,
                   "re-encoded region table refused: %s", diag.msg);
        vhdx_region_table_encode(&t2, twice);
        FUZZ_CHECK(!memcmp(once, twice, VHDX_REGION_SIZE), "region table encode/decode is not stable");
    }
    else
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "region table refused with %s, reason '%s'",
                   vdsshim_status_name(st), diag.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdsshim_diag diag = { .msg = { 0 } };
    struct vhdx_meta m;
    size_t n = size < sizeof(raw) ? size : sizeof(raw);
    uint32_t meta_len = n > META_AT ? (uint32_t)(n - META_AT) : 0;
    int st;

    memset(raw, 0, META_AT);
    memcpy(raw, data, n);

    check_header(raw);
    check_header(with_crc(raw, VHDX_HEADER_SIZE));
    check_region_table(raw + VHDX_HEADER_SIZE);
    check_region_table(with_crc(raw + VHDX_HEADER_SIZE, VHDX_REGION_SIZE));

    diag.msg[0] = 0;
    memset(&m, 0, sizeof(m));
    /* The decoder reads exactly meta_len bytes: a heap copy lets ASan see overruns. */
    {
        uint8_t *region = malloc(meta_len ? meta_len : 1);

        if (!region) abort();
        memcpy(region, raw + META_AT, meta_len);
        st = vhdx_meta_decode(region, meta_len, 2u << 20, &m, &diag);
        free(region);
    }
    if (st == VDSSHIM_OK)
    {
        FUZZ_CHECK(m.block_size >= (1u << 20) && m.block_size <= (256u << 20) && !(m.block_size & (m.block_size - 1)),
                   "accepted block size %u", m.block_size);
        FUZZ_CHECK(m.logical_sector_size == 512 || m.logical_sector_size == 4096,
                   "accepted logical sector size %u", m.logical_sector_size);
        FUZZ_CHECK(m.virtual_size && m.virtual_size % m.logical_sector_size == 0,
                   "accepted virtual size %llu", (unsigned long long)m.virtual_size);
        vhdx_meta_free(&m);
    }
    else
        FUZZ_CHECK(fuzz_is_refusal(st) && diag.msg[0], "metadata refused with %s, reason '%s'",
                   vdsshim_status_name(st), diag.msg);
    return 0;
}
