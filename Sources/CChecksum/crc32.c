#include "CChecksum.h"

#include <zlib.h>

uint32_t cchecksum_crc32(uint32_t crc, const uint8_t *bytes, size_t count)
{
    /* zlib reads a NULL buffer as "give the initial value", whatever crc holds. */
    if (count == 0)
        return crc;
    return (uint32_t)crc32_z(crc, bytes, count);
}
