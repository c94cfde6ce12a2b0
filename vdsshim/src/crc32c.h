#ifndef VDSSHIM_CRC32C_H
#define VDSSHIM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(const uint8_t *p, size_t len);
/* Continue a CRC: crc32c_update(crc32c(a), b) == crc32c(a || b). */
uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t len);
/* The CRC of p[0..len) with the 4-byte checksum field at offset field taken as zero. */
uint32_t crc32c_with_zero_field(const uint8_t *p, size_t len, size_t field);

#endif
