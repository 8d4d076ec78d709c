/* Compression, merging and decoding of remote-write requests: the only file that includes the
 * protobuf-c output and snappy. The requests themselves are written in Swift (RemoteWriteWire). */
#include "CRemoteWrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "remote.pb-c.h"
#include "unpack.h"

/* Snappy compresses its input in independent 64 KiB blocks (no copy reaches across one), so a
 * body compressed a block at a time is the same bytes as one compressed whole, and no request is
 * ever held uncompressed: only the block being filled. */
#define CRW_BLOCK (1u << 16)
/* Room before the compressed blocks for the body's length, a varint of at most 5 bytes: snappy
 * bodies are shorter than 4 GiB. */
#define CRW_LENGTH_ROOM 5

/* The buffers only grow, so steady-state compression allocates nothing of its own (snappy
 * allocates working memory for each block it compresses: see ProcessMemory.swift). */
struct crw_encoder {
    uint8_t block[CRW_BLOCK];
    size_t block_used;
    /* The body being written: CRW_LENGTH_ROOM bytes, then the compressed blocks so far. */
    uint8_t *out;
    size_t out_used;
    size_t out_capacity;
    /* Uncompressed bytes of the body being written. */
    uint64_t total;
};

crw_encoder *crw_encoder_new(void)
{
    return calloc(1, sizeof(struct crw_encoder));
}

void crw_encoder_free(crw_encoder *encoder)
{
    if (!encoder)
        return;
    free(encoder->out);
    free(encoder);
}

static int reserve_bytes(uint8_t **bytes, size_t *capacity, size_t count)
{
    uint8_t *more;

    if (count <= *capacity)
        return 0;
    more = realloc(*bytes, count);
    if (!more)
        return -ENOMEM;
    *bytes = more;
    *capacity = count;
    return 0;
}

static size_t varint_length(uint64_t value)
{
    size_t length = 1;

    while (value >= 0x80) {
        value >>= 7;
        length++;
    }
    return length;
}

/* Appends one block's elements: snappy's output for it without its own length prefix. */
static int compress_block(crw_encoder *e, const uint8_t *raw, size_t length)
{
    size_t compressed_length = snappy_max_compressed_length(length);
    size_t prefix = varint_length(length);
    int err;

    if ((err = reserve_bytes(&e->out, &e->out_capacity, e->out_used + compressed_length)))
        return err;
    if (snappy_compress((const char *)raw, length, (char *)e->out + e->out_used, &compressed_length) != SNAPPY_OK)
        return -EIO;
    memmove(e->out + e->out_used, e->out + e->out_used + prefix, compressed_length - prefix);
    e->out_used += compressed_length - prefix;
    return 0;
}

/* Makes room for the length of a body, unless one is being written. */
static int begin(crw_encoder *e)
{
    int err;

    if (e->out_used > 0)
        return 0;
    if ((err = reserve_bytes(&e->out, &e->out_capacity, CRW_LENGTH_ROOM)))
        return err;
    e->out_used = CRW_LENGTH_ROOM;
    return 0;
}

int32_t crw_compress_write(crw_encoder *e, const uint8_t *raw, size_t length)
{
    int err;

    if ((err = begin(e)))
        return err;
    if (e->total + length > UINT32_MAX)
        return -EFBIG;
    e->total += length;
    while (length > 0) {
        size_t take;

        if (e->block_used == 0 && length >= CRW_BLOCK) {
            if ((err = compress_block(e, raw, CRW_BLOCK)))
                return err;
            raw += CRW_BLOCK;
            length -= CRW_BLOCK;
            continue;
        }
        take = CRW_BLOCK - e->block_used < length ? CRW_BLOCK - e->block_used : length;
        memcpy(e->block + e->block_used, raw, take);
        e->block_used += take;
        raw += take;
        length -= take;
        if (e->block_used == CRW_BLOCK) {
            e->block_used = 0;
            if ((err = compress_block(e, e->block, CRW_BLOCK)))
                return err;
        }
    }
    return 0;
}

/* Forgets the body being written. */
static void reset(crw_encoder *e)
{
    e->block_used = 0;
    e->out_used = 0;
    e->total = 0;
}

int32_t crw_compress_end(crw_encoder *e, const uint8_t **body, size_t *body_length)
{
    size_t prefix = varint_length(e->total);
    uint64_t rest = e->total;
    uint8_t *start;
    int err;

    if ((err = begin(e)) || (e->block_used > 0 && (err = compress_block(e, e->block, e->block_used)))) {
        reset(e);
        return err;
    }
    start = e->out + CRW_LENGTH_ROOM - prefix;
    for (uint8_t *byte = start; rest >= 0x80; rest >>= 7)
        *byte++ = (uint8_t)(rest | 0x80);
    start[prefix - 1] = (uint8_t)rest;
    *body = start;
    *body_length = e->out_used - (CRW_LENGTH_ROOM - prefix);
    reset(e);
    return 0;
}

int32_t crw_body_is_valid(const uint8_t *body, size_t length)
{
    return body && snappy_validate_compressed_buffer((const char *)body, length) == SNAPPY_OK;
}

int32_t crw_uncompress(const uint8_t *body, size_t length, size_t max_length, uint8_t **raw, size_t *raw_length)
{
    size_t size;
    uint8_t *out;

    if (!body || snappy_uncompressed_length((const char *)body, length, &size) != SNAPPY_OK || size > max_length)
        return -EBADMSG;
    out = malloc(size ? size : 1);
    if (!out)
        return -ENOMEM;
    if (snappy_uncompress((const char *)body, length, (char *)out, &size) != SNAPPY_OK) {
        free(out);
        return -EBADMSG;
    }
    *raw = out;
    *raw_length = size;
    return 0;
}

/* The unpacked message itself: a pointer to it is one to its only member. */
struct crw_decoded {
    Prometheus__WriteRequest message;
};

ProtobufCMessage *crw_unpack(const ProtobufCMessageDescriptor *descriptor, const uint8_t *body, size_t length,
                             int32_t *error)
{
    size_t raw_length;
    uint8_t *raw;
    ProtobufCMessage *message;

    *error = -EBADMSG;
    if (snappy_uncompressed_length((const char *)body, length, &raw_length) != SNAPPY_OK)
        return NULL;
    raw = malloc(raw_length ? raw_length : 1);
    if (!raw) {
        *error = -ENOMEM;
        return NULL;
    }
    message = snappy_uncompress((const char *)body, length, (char *)raw, &raw_length) == SNAPPY_OK
        ? protobuf_c_message_unpack(descriptor, NULL, raw_length, raw)
        : NULL;
    free(raw);
    return message;
}

int32_t crw_decode(const uint8_t *body, size_t length, crw_decoded **out)
{
    int32_t error;
    ProtobufCMessage *message = crw_unpack(&prometheus__write_request__descriptor, body, length, &error);

    if (!message)
        return error;
    *out = (crw_decoded *)message;
    return 0;
}

void crw_decoded_free(crw_decoded *decoded)
{
    if (decoded)
        protobuf_c_message_free_unpacked(&decoded->message.base, NULL);
}

size_t crw_decoded_series_count(const crw_decoded *d) { return d->message.n_timeseries; }

size_t crw_decoded_label_count(const crw_decoded *d, size_t series)
{
    return d->message.timeseries[series]->n_labels;
}

void crw_decoded_label(const crw_decoded *d, size_t series, size_t index, const char **name, const char **value)
{
    *name = d->message.timeseries[series]->labels[index]->name;
    *value = d->message.timeseries[series]->labels[index]->value;
}

size_t crw_decoded_sample_count(const crw_decoded *d, size_t series)
{
    return d->message.timeseries[series]->n_samples;
}

void crw_decoded_sample(const crw_decoded *d, size_t series, size_t index, double *value, int64_t *timestamp_ms)
{
    *value = d->message.timeseries[series]->samples[index]->value;
    *timestamp_ms = d->message.timeseries[series]->samples[index]->timestamp;
}

size_t crw_decoded_metadata_count(const crw_decoded *d) { return d->message.n_metadata; }

void crw_decoded_metadata(const crw_decoded *d, size_t index, int32_t *type, const char **family, const char **help)
{
    *type = (int32_t)d->message.metadata[index]->type;
    *family = d->message.metadata[index]->metric_family_name;
    *help = d->message.metadata[index]->help;
}
