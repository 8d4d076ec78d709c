/* Decoding of remote-write 2.0 requests (io.prometheus.write.v2.Request): the only file that
 * includes protoc-c's output for proto/remote_v2.proto. The requests are written in Swift. */
#include "CRemoteWrite.h"

#include <errno.h>
#include <stdlib.h>

#include "remote_v2.pb-c.h"
#include "uncompress.h"

struct crw_decoded_v2 {
    Io__Prometheus__Write__V2__Request *message;
};

int32_t crw_decode_v2(const uint8_t *body, size_t length, crw_decoded_v2 **out)
{
    size_t raw_length;
    uint8_t *raw;
    struct crw_decoded_v2 *decoded;
    int32_t result = crw_uncompress(body, length, &raw, &raw_length);

    if (result)
        return result;
    decoded = calloc(1, sizeof(*decoded));
    if (!decoded) {
        free(raw);
        return -ENOMEM;
    }
    decoded->message = io__prometheus__write__v2__request__unpack(NULL, raw_length, raw);
    free(raw);
    if (!decoded->message) {
        free(decoded);
        return -EBADMSG;
    }
    *out = decoded;
    return 0;
}

void crw_decoded_v2_free(crw_decoded_v2 *decoded)
{
    if (!decoded)
        return;
    io__prometheus__write__v2__request__free_unpacked(decoded->message, NULL);
    free(decoded);
}

size_t crw_decoded_v2_symbol_count(const crw_decoded_v2 *d) { return d->message->n_symbols; }

const char *crw_decoded_v2_symbol(const crw_decoded_v2 *d, size_t index) { return d->message->symbols[index]; }

size_t crw_decoded_v2_series_count(const crw_decoded_v2 *d) { return d->message->n_timeseries; }

void crw_decoded_v2_series(const crw_decoded_v2 *d, size_t series, crw_series_v2 *out)
{
    const Io__Prometheus__Write__V2__TimeSeries *s = d->message->timeseries[series];

    out->refs = s->labels_refs;
    out->ref_count = s->n_labels_refs;
    out->sample_count = s->n_samples;
    out->has_metadata = s->metadata != NULL;
    out->type = s->metadata ? (int32_t)s->metadata->type : 0;
    out->help_ref = s->metadata ? s->metadata->help_ref : 0;
    out->unit_ref = s->metadata ? s->metadata->unit_ref : 0;
    out->created_timestamp_ms = s->created_timestamp;
}

void crw_decoded_v2_sample(const crw_decoded_v2 *d, size_t series, size_t index, double *value, int64_t *timestamp_ms)
{
    *value = d->message->timeseries[series]->samples[index]->value;
    *timestamp_ms = d->message->timeseries[series]->samples[index]->timestamp;
}
