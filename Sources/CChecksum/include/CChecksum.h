/* The plain C API Swift sees for the disk buffer's record checksums (zlib). */
#ifndef CCHECKSUM_H
#define CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 (IEEE 802.3, as zlib and gzip compute it) of `count` bytes, continuing `crc`: 0 to
 * start, the last result to go on. zlib's, which folds several words per step, runs at about
 * three times the speed of a table-driven loop, and every byte the buffer sees goes through it. */
uint32_t cchecksum_crc32(uint32_t crc, const uint8_t *bytes, size_t count);

#endif
