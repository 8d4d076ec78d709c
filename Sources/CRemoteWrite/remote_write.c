/* Encoding and decoding of remote-write requests: the only file that includes the protobuf-c
 * output and snappy. */
#include "CRemoteWrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "remote.pb-c.h"

/* Every array here only grows, so steady-state encoding allocates nothing. */
struct crw_encoder {
    Prometheus__TimeSeries *series;
    Prometheus__TimeSeries **series_pointers;
    size_t series_capacity;
    Prometheus__Label *labels;
    Prometheus__Label **label_pointers;
    size_t label_capacity;
    Prometheus__Sample *samples;
    Prometheus__Sample **sample_pointers;
    size_t sample_capacity;
    Prometheus__MetricMetadata *metadata;
    Prometheus__MetricMetadata **metadata_pointers;
    size_t metadata_capacity;
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
    free(encoder->series);
    free(encoder->series_pointers);
    free(encoder->labels);
    free(encoder->label_pointers);
    free(encoder->samples);
    free(encoder->sample_pointers);
    free(encoder->metadata);
    free(encoder->metadata_pointers);
    free(encoder->packed);
    free(encoder->compressed);
    free(encoder);
}

/* Grows `*items` (and its pointer array) to hold `count` elements of `size` bytes. */
static int reserve(void **items, void ***pointers, size_t *capacity, size_t count, size_t size)
{
    size_t grown;
    void *more, **more_pointers;

    if (count <= *capacity)
        return 0;
    grown = *capacity ? *capacity : 64;
    while (grown < count)
        grown *= 2;
    more = realloc(*items, grown * size);
    if (!more)
        return -ENOMEM;
    *items = more;
    more_pointers = realloc(*pointers, grown * sizeof(void *));
    if (!more_pointers)
        return -ENOMEM;
    *pointers = more_pointers;
    *capacity = grown;
    return 0;
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

static int valid_string(const crw_request *request, uint32_t offset)
{
    return offset < request->arena_length && memchr(request->arena + offset, 0, request->arena_length - offset);
}

static char *arena_string(const crw_request *request, uint32_t offset)
{
    return (char *)(request->arena + offset);
}

int32_t crw_encode(crw_encoder *e, const crw_request *request, const uint8_t **body, size_t *length)
{
    Prometheus__WriteRequest message = PROMETHEUS__WRITE_REQUEST__INIT;
    size_t packed_length, compressed_length, i;
    int err;

    if ((err = reserve((void **)&e->series, (void ***)&e->series_pointers, &e->series_capacity,
                       request->series_count, sizeof(*e->series))) ||
        (err = reserve((void **)&e->labels, (void ***)&e->label_pointers, &e->label_capacity,
                       request->label_count, sizeof(*e->labels))) ||
        (err = reserve((void **)&e->samples, (void ***)&e->sample_pointers, &e->sample_capacity,
                       request->sample_count, sizeof(*e->samples))) ||
        (err = reserve((void **)&e->metadata, (void ***)&e->metadata_pointers, &e->metadata_capacity,
                       request->metadata_count, sizeof(*e->metadata))))
        return err;

    for (i = 0; i < request->label_count; i++) {
        const crw_label *label = &request->labels[i];
        if (!valid_string(request, label->name) || !valid_string(request, label->value))
            return -EINVAL;
        prometheus__label__init(&e->labels[i]);
        e->labels[i].name = arena_string(request, label->name);
        e->labels[i].value = arena_string(request, label->value);
        e->label_pointers[i] = &e->labels[i];
    }
    for (i = 0; i < request->sample_count; i++) {
        prometheus__sample__init(&e->samples[i]);
        e->samples[i].value = request->samples[i].value;
        e->samples[i].timestamp = request->samples[i].timestamp_ms;
        e->sample_pointers[i] = &e->samples[i];
    }
    for (i = 0; i < request->series_count; i++) {
        const crw_series *series = &request->series[i];
        if ((size_t)series->label_start + series->label_count > request->label_count ||
            (size_t)series->sample_start + series->sample_count > request->sample_count)
            return -EINVAL;
        prometheus__time_series__init(&e->series[i]);
        e->series[i].n_labels = series->label_count;
        e->series[i].labels = e->label_pointers + series->label_start;
        e->series[i].n_samples = series->sample_count;
        e->series[i].samples = e->sample_pointers + series->sample_start;
        e->series_pointers[i] = &e->series[i];
    }
    for (i = 0; i < request->metadata_count; i++) {
        const crw_metadata *metadata = &request->metadata[i];
        if (!valid_string(request, metadata->family) || !valid_string(request, metadata->help))
            return -EINVAL;
        prometheus__metric_metadata__init(&e->metadata[i]);
        e->metadata[i].type = (Prometheus__MetricMetadata__MetricType)metadata->type;
        e->metadata[i].metric_family_name = arena_string(request, metadata->family);
        e->metadata[i].help = arena_string(request, metadata->help);
        e->metadata_pointers[i] = &e->metadata[i];
    }
    message.n_timeseries = request->series_count;
    message.timeseries = e->series_pointers;
    message.n_metadata = request->metadata_count;
    message.metadata = e->metadata_pointers;

    packed_length = prometheus__write_request__get_packed_size(&message);
    if ((err = reserve_bytes(&e->packed, &e->packed_capacity, packed_length ? packed_length : 1)))
        return err;
    prometheus__write_request__pack(&message, e->packed);

    compressed_length = snappy_max_compressed_length(packed_length);
    if ((err = reserve_bytes(&e->compressed, &e->compressed_capacity, compressed_length)))
        return err;
    if (snappy_compress((const char *)e->packed, packed_length, (char *)e->compressed, &compressed_length) != SNAPPY_OK)
        return -EIO;
    *body = e->compressed;
    *length = compressed_length;
    return 0;
}

int32_t crw_merge(crw_encoder *e, const uint8_t *bodies, const size_t *lengths, size_t count,
                  const uint8_t **body, size_t *length)
{
    size_t total = 0, used = 0, offset = 0, compressed_length, i;
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
    compressed_length = snappy_max_compressed_length(used);
    if ((err = reserve_bytes(&e->compressed, &e->compressed_capacity, compressed_length)))
        return err;
    if (snappy_compress((const char *)e->packed, used, (char *)e->compressed, &compressed_length) != SNAPPY_OK)
        return -EIO;
    *body = e->compressed;
    *length = compressed_length;
    return 0;
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
