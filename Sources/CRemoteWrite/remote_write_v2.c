/* Decoding of remote-write 2.0 requests (io.prometheus.write.v2.Request): the only file that
 * includes protoc-c's output for proto/remote_v2.proto. The requests are written in Swift. */
#include "CRemoteWrite.h"

#include "remote_v2.pb-c.h"
#include "unpack.h"

/* The unpacked message itself, as in remote_write.c. */
struct crw_decoded_v2 {
    Io__Prometheus__Write__V2__Request message;
};

int32_t crw_decode_v2(const uint8_t *body, size_t length, crw_decoded_v2 **out)
{
    int32_t error;
    ProtobufCMessage *message = crw_unpack(&io__prometheus__write__v2__request__descriptor, body, length, &error);

    if (!message)
        return error;
    *out = (crw_decoded_v2 *)message;
    return 0;
}

void crw_decoded_v2_free(crw_decoded_v2 *decoded)
{
    if (decoded)
        protobuf_c_message_free_unpacked(&decoded->message.base, NULL);
}

size_t crw_decoded_v2_symbol_count(const crw_decoded_v2 *d) { return d->message.n_symbols; }

const char *crw_decoded_v2_symbol(const crw_decoded_v2 *d, size_t index) { return d->message.symbols[index]; }

size_t crw_decoded_v2_series_count(const crw_decoded_v2 *d) { return d->message.n_timeseries; }

void crw_decoded_v2_series(const crw_decoded_v2 *d, size_t series, crw_series_v2 *out)
{
    const Io__Prometheus__Write__V2__TimeSeries *s = d->message.timeseries[series];

    out->refs = s->labels_refs;
    out->ref_count = s->n_labels_refs;
    out->sample_count = s->n_samples;
    out->has_metadata = s->metadata != NULL;
    out->type = s->metadata ? (int32_t)s->metadata->type : 0;
    out->help_ref = s->metadata ? s->metadata->help_ref : 0;
    out->unit_ref = s->metadata ? s->metadata->unit_ref : 0;
}

void crw_decoded_v2_sample(const crw_decoded_v2 *d, size_t series, size_t index, double *value, int64_t *timestamp_ms,
                           int64_t *start_timestamp_ms)
{
    const Io__Prometheus__Write__V2__Sample *sample = d->message.timeseries[series]->samples[index];

    *value = sample->value;
    *timestamp_ms = sample->timestamp;
    *start_timestamp_ms = sample->start_timestamp;
}
