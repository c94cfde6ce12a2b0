/*
 * The test chain: parent.FORMAT, dynamic, 64 MiB in 2 MiB blocks with random
 * data in every third block; child.FORMAT, differencing, with every second
 * block: full where the index is a multiple of 4, else partially present
 * (sectors 128..383, 4000 and 4007 of the block). For merge and compaction
 * tests of differencing disks (no other tool here writes them).
 */
#ifndef VDSSHIM_TEST_CHAIN_BUILDER_H
#define VDSSHIM_TEST_CHAIN_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#define CHAIN_SIZE (64u << 20)

/* Writes DIR/parent.FORMAT and DIR/child.FORMAT (vhdx nonzero: VHDX, else
 * VHD); 0, or 1 with the reason on stderr. */
int chain_build(int vhdx, const char *dir);
/* Writes data[0..size) to DIR/name; 0, or 1 with the reason on stderr. */
int chain_save(const char *dir, const char *name, const uint8_t *data, size_t size);
/* What the child reads, from the spec, not from a reader: CHAIN_SIZE bytes. */
void chain_expected(uint8_t *out);

#endif
