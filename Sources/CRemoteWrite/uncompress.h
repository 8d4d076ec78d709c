/* Shared by the decoders of remote_write.c and remote_write_v2.c; not part of the Swift API. */
#ifndef CRW_UNCOMPRESS_H
#define CRW_UNCOMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* A snappy block body, uncompressed into `*raw` (malloc'd; the caller frees it).
 * -EBADMSG: not snappy block data; -ENOMEM. */
int32_t crw_uncompress(const uint8_t *body, size_t length, uint8_t **raw, size_t *raw_length);

#endif
