/*
 * The VHDX log entry layout (vhdx_log_entry.c): each field at the offset
 * MS-VHDX §2.3.1 gives it, and decode(encode(x)) == x for the header, both
 * descriptor kinds and a data sector. Offsets are checked against the spec's
 * own numbers here, not against the header's names, so a wrong name fails.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "endian.h"
#include "vhdx_log_entry.h"

static void test_header_round_trip(void **state)
{
    struct vhdx_log_header h, back;
    uint8_t buf[VHDX_LOG_ENTRY_HEADER_SIZE];
    unsigned i;

    (void)state;
    memset(&h, 0, sizeof(h));           /* padding too: the structs are compared whole */
    memset(&back, 0, sizeof(back));
    h.checksum = 0x11223344u;
    h.entry_length = 3 * 4096;
    h.tail = 8192;
    h.sequence = 0x0102030405060708ull;
    h.desc_count = 2;
    for (i = 0; i < 16; i++) h.log_guid.b[i] = (uint8_t)(0xa0 + i);
    h.flushed_file_offset = 5ull << 20;
    h.last_file_offset = 6ull << 20;
    memset(buf, 0xee, sizeof(buf));
    vhdx_log_header_encode(&h, buf);
    assert_memory_equal(buf, "loge", 4);
    assert_int_equal(get_le32(buf + 4), 0x11223344u);
    assert_int_equal(get_le32(buf + 8), 3 * 4096);
    assert_int_equal(get_le32(buf + 12), 8192);
    assert_true(get_le64(buf + 16) == 0x0102030405060708ull);
    assert_int_equal(get_le32(buf + 24), 2);
    assert_int_equal(get_le32(buf + 28), 0);            /* reserved */
    assert_int_equal(buf[32], 0xa0);
    assert_int_equal(buf[47], 0xaf);
    assert_true(get_le64(buf + 48) == 5ull << 20);
    assert_true(get_le64(buf + 56) == 6ull << 20);
    assert_int_equal(vhdx_log_header_decode(buf, &back), 1);
    assert_memory_equal(&back, &h, sizeof(h));
    buf[0] = 'L';
    assert_int_equal(vhdx_log_header_decode(buf, &back), 0);
}

static void test_descriptors_round_trip(void **state)
{
    struct vhdx_log_desc z, d, back;
    uint8_t buf[VHDX_LOG_DESC_SIZE];

    (void)state;
    memset(&z, 0, sizeof(z));
    memset(&d, 0, sizeof(d));
    z.is_zero = 1;
    z.zero_length = 1ull << 20;
    z.file_offset = 3ull << 20;
    z.sequence = 77;
    vhdx_log_desc_encode(&z, buf);
    assert_memory_equal(buf, "zero", 4);
    assert_int_equal(get_le32(buf + 4), 0);
    assert_true(get_le64(buf + 8) == 1ull << 20);
    assert_true(get_le64(buf + 16) == 3ull << 20);
    assert_true(get_le64(buf + 24) == 77);
    assert_int_equal(vhdx_log_desc_decode(buf, &back), 1);
    assert_memory_equal(&back, &z, sizeof(z));

    memcpy(d.leading, "LEADING!", 8);
    memcpy(d.trailing, "TAIL", 4);
    d.file_offset = 4096;
    d.sequence = 78;
    vhdx_log_desc_encode(&d, buf);
    assert_memory_equal(buf, "desc", 4);
    assert_memory_equal(buf + 4, "TAIL", 4);
    assert_memory_equal(buf + 8, "LEADING!", 8);
    assert_true(get_le64(buf + 16) == 4096);
    assert_int_equal(vhdx_log_desc_decode(buf, &back), 1);
    assert_memory_equal(&back, &d, sizeof(d));
    memcpy(buf, "data", 4);
    assert_int_equal(vhdx_log_desc_decode(buf, &back), 0);
}

static void test_data_sector_round_trip(void **state)
{
    uint8_t *sector = malloc(VHDX_LOG_SECTOR), *data = malloc(VHDX_LOG_SECTOR), *back = malloc(VHDX_LOG_SECTOR);
    const uint64_t seq = 0x0000000900000003ull;
    struct vhdx_log_desc d = { 0 };
    unsigned i;

    (void)state;
    for (i = 0; i < VHDX_LOG_SECTOR; i++) sector[i] = (uint8_t)(i * 7 + 1);
    vhdx_log_data_encode(sector, seq, &d, data);
    assert_memory_equal(data, "data", 4);
    assert_int_equal(get_le32(data + 4), 9);
    assert_int_equal(get_le32(data + 4092), 3);
    assert_memory_equal(data + 8, sector + 8, 4084);
    assert_memory_equal(d.leading, sector, 8);
    assert_memory_equal(d.trailing, sector + 4092, 4);
    assert_int_equal(vhdx_log_data_matches(data, seq), 1);
    assert_int_equal(vhdx_log_data_matches(data, seq + 1), 0);
    assert_int_equal(vhdx_log_data_matches(data, seq + (1ull << 32)), 0);
    vhdx_log_data_decode(&d, data, back);
    assert_memory_equal(back, sector, VHDX_LOG_SECTOR);
    free(sector);
    free(data);
    free(back);
}

/* The first sector holds the header and 126 descriptors, later ones 128. */
static void test_entry_sizes(void **state)
{
    (void)state;
    assert_int_equal(VHDX_LOG_DESCS_FIRST_SECTOR, 126);
    assert_int_equal(vhdx_log_desc_sectors(0), 1);
    assert_int_equal(vhdx_log_desc_sectors(126), 1);
    assert_int_equal(vhdx_log_desc_sectors(127), 2);
    assert_int_equal(vhdx_log_desc_sectors(254), 2);
    assert_int_equal(vhdx_log_desc_sectors(255), 3);
    assert_int_equal(vhdx_log_entry_bytes(0), 4096);
    assert_int_equal(vhdx_log_entry_bytes(126), 127 * 4096);
    assert_int_equal(vhdx_log_entry_bytes(127), 129 * 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_descriptors_round_trip),
        cmocka_unit_test(test_data_sector_round_trip),
        cmocka_unit_test(test_entry_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
