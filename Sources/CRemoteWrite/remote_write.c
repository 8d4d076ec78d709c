/* Compression, merging and decoding of remote-write requests: the only file that includes the
 * protobuf-c output and snappy. The requests themselves are written in Swift (RemoteWriteWire). */
#include "CRemoteWrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "remote.pb-c.h"

/* The buffers only grow, so steady-state compression allocates nothing. */
struct crw_encoder {
    uint8_t *packed;
    size_t packed_capacity;
    uint8_t *compressed;
    size_t compressed_capacity;
};

crw_encoder *crw_encoder_new(void)
{
    return calloc(1, sizeof(struct crw_encoder));
}

void crw_encoder_free(crw_encoder *encoder)
{
    if (!encoder)
        return;
    free(encoder->packed);
    free(encoder->compressed);
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

int32_t crw_compress(crw_encoder *e, const uint8_t *raw, size_t length, const uint8_t **body, size_t *body_length)
{
    size_t compressed_length = snappy_max_compressed_length(length);
    int err;

    if ((err = reserve_bytes(&e->compressed, &e->compressed_capacity, compressed_length)))
        return err;
    if (snappy_compress((const char *)raw, length, (char *)e->compressed, &compressed_length) != SNAPPY_OK)
        return -EIO;
    *body = e->compressed;
    *body_length = compressed_length;
    return 0;
}

int32_t crw_merge(crw_encoder *e, const uint8_t *bodies, const size_t *lengths, size_t count,
                  const uint8_t **body, size_t *length)
{
    size_t total = 0, used = 0, offset = 0, i;
    int err;

    for (i = 0; i < count; i++) {
        size_t raw;
        if (snappy_uncompressed_length((const char *)bodies + offset, lengths[i], &raw) != SNAPPY_OK)
            return -EBADMSG;
        total += raw;
        offset += lengths[i];
    }
    if ((err = reserve_bytes(&e->packed, &e->packed_capacity, total ? total : 1)))
        return err;
    for (i = 0, offset = 0; i < count; i++) {
        size_t raw = e->packed_capacity - used;
        if (snappy_uncompress((const char *)bodies + offset, lengths[i], (char *)e->packed + used, &raw) != SNAPPY_OK)
            return -EBADMSG;
        used += raw;
        offset += lengths[i];
    }
    return crw_compress(e, e->packed, used, body, length);
}

struct crw_decoded {
    Prometheus__WriteRequest *message;
};

int32_t crw_decode(const uint8_t *body, size_t length, crw_decoded **out)
{
    size_t raw_length;
    char *raw;
    struct crw_decoded *decoded;

    if (snappy_uncompressed_length((const char *)body, length, &raw_length) != SNAPPY_OK)
        return -EBADMSG;
    raw = malloc(raw_length ? raw_length : 1);
    if (!raw)
        return -ENOMEM;
    if (snappy_uncompress((const char *)body, length, raw, &raw_length) != SNAPPY_OK) {
        free(raw);
        return -EBADMSG;
    }
    decoded = calloc(1, sizeof(*decoded));
    if (!decoded) {
        free(raw);
        return -ENOMEM;
    }
    decoded->message = prometheus__write_request__unpack(NULL, raw_length, (const uint8_t *)raw);
    free(raw);
    if (!decoded->message) {
        free(decoded);
        return -EBADMSG;
    }
    *out = decoded;
    return 0;
}

void crw_decoded_free(crw_decoded *decoded)
{
    if (!decoded)
        return;
    prometheus__write_request__free_unpacked(decoded->message, NULL);
    free(decoded);
}

size_t crw_decoded_series_count(const crw_decoded *d) { return d->message->n_timeseries; }

size_t crw_decoded_label_count(const crw_decoded *d, size_t series)
{
    return d->message->timeseries[series]->n_labels;
}

void crw_decoded_label(const crw_decoded *d, size_t series, size_t index, const char **name, const char **value)
{
    *name = d->message->timeseries[series]->labels[index]->name;
    *value = d->message->timeseries[series]->labels[index]->value;
}

size_t crw_decoded_sample_count(const crw_decoded *d, size_t series)
{
    return d->message->timeseries[series]->n_samples;
}

void crw_decoded_sample(const crw_decoded *d, size_t series, size_t index, double *value, int64_t *timestamp_ms)
{
    *value = d->message->timeseries[series]->samples[index]->value;
    *timestamp_ms = d->message->timeseries[series]->samples[index]->timestamp;
}

size_t crw_decoded_metadata_count(const crw_decoded *d) { return d->message->n_metadata; }

void crw_decoded_metadata(const crw_decoded *d, size_t index, int32_t *type, const char **family, const char **help)
{
    *type = (int32_t)d->message->metadata[index]->type;
    *family = d->message->metadata[index]->metric_family_name;
    *help = d->message->metadata[index]->help;
}
