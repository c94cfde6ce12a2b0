/* CRC-32C (Castagnoli, reflected 0x82F63B78), as VHDX uses it. */
#include <stdatomic.h>

#include "crc32c.h"

static uint32_t table[8][256];
/* 0 unbuilt, 1 being built, 2 ready: the provider DLLs' worker threads may
 * checksum at the same time, and exactly one of them builds the table. */
static atomic_int table_state;

static void init_table(void)
{
    uint32_t i, j, c;

    for (i = 0; i < 256; i++)
    {
        c = i;
        for (j = 0; j < 8; j++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        table[0][i] = c;
    }
    /* Slicing by 8: the log and 64 KiB region tables are checksummed whole. */
    for (i = 0; i < 256; i++)
        for (j = 1; j < 8; j++) table[j][i] = (table[j - 1][i] >> 8) ^ table[0][table[j - 1][i] & 0xff];
}

static void table_once(void)
{
    int unbuilt = 0;

    if (atomic_load_explicit(&table_state, memory_order_acquire) == 2) return;
    if (atomic_compare_exchange_strong(&table_state, &unbuilt, 1))
    {
        init_table();
        atomic_store_explicit(&table_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&table_state, memory_order_acquire) != 2)
        ;   /* another thread is filling 8 KiB: microseconds */
}

uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t len)
{
    table_once();
    crc = ~crc;
    while (len >= 8)
    {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][lo >> 8 & 0xff] ^ table[5][lo >> 16 & 0xff] ^ table[4][lo >> 24]
            ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t crc32c(const uint8_t *p, size_t len)
{
    return crc32c_update(0, p, len);
}

uint32_t crc32c_with_zero_field(const uint8_t *p, size_t len, size_t field)
{
    static const uint8_t zero[4];
    uint32_t crc = crc32c_update(0, p, field);

    crc = crc32c_update(crc, zero, 4);
    return crc32c_update(crc, p + field + 4, len - field - 4);
}
