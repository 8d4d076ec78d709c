/* Shared by the decoders of remote_write.c and remote_write_v2.c; not part of the Swift API. */
#ifndef CRW_UNPACK_H
#define CRW_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* A snappy block body, uncompressed and unpacked as a message of `descriptor` (free it with
 * protobuf_c_message_free_unpacked); NULL with `*error` set to -EBADMSG (not snappy block data,
 * or not such a message) or -ENOMEM. */
ProtobufCMessage *crw_unpack(const ProtobufCMessageDescriptor *descriptor, const uint8_t *body, size_t length,
                             int32_t *error);

#endif
