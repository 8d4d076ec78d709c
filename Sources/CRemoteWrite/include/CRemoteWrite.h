/* The plain C API Swift sees for the remote-write wire format (protobuf-c + snappy) and for
 * HTTP (libcurl). No third-party type crosses this line; errors are negative numbers. */
#ifndef CREMOTEWRITE_H
#define CREMOTEWRITE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Compression: the request bodies are protobuf bytes in snappy's block format ---- */

/* Owns the output buffers, reused from request to request. */
typedef struct crw_encoder crw_encoder;

crw_encoder *crw_encoder_new(void);
void crw_encoder_free(crw_encoder *encoder);
/* A body is written in pieces of any size, compressed as they come, and ended: snappy compresses
 * in independent 64 KiB blocks, so only the block being filled is held uncompressed, and the
 * result is the bytes snappy_compress gives for the whole. -EFBIG: 4 GiB or more. */
int32_t crw_compress_write(crw_encoder *encoder, const uint8_t *raw, size_t length);
/* Ends the body written since the last end (empty if none). `*body` stays valid until the next
 * write. */
int32_t crw_compress_end(crw_encoder *encoder, const uint8_t **body, size_t *body_length);

/* 1 if `body` is one whole snappy block, 0 if not; nothing is decompressed. */
int32_t crw_body_is_valid(const uint8_t *body, size_t length);

/* Uncompresses one snappy block into a buffer of its own, which the caller frees with free().
 * -EBADMSG: not snappy block data, or more than `max_length` bytes uncompressed; -ENOMEM. */
int32_t crw_uncompress(const uint8_t *body, size_t length, size_t max_length, uint8_t **raw, size_t *raw_length);

/* ---- Decoding (receivers in tests, diagnostics) ---- */

typedef struct crw_decoded crw_decoded;

/* -EBADMSG: not snappy block data, or not a WriteRequest. */
int32_t crw_decode(const uint8_t *body, size_t length, crw_decoded **out);
void crw_decoded_free(crw_decoded *decoded);
size_t crw_decoded_series_count(const crw_decoded *decoded);
size_t crw_decoded_label_count(const crw_decoded *decoded, size_t series);
void crw_decoded_label(const crw_decoded *decoded, size_t series, size_t index, const char **name, const char **value);
size_t crw_decoded_sample_count(const crw_decoded *decoded, size_t series);
void crw_decoded_sample(const crw_decoded *decoded, size_t series, size_t index, double *value, int64_t *timestamp_ms);
size_t crw_decoded_metadata_count(const crw_decoded *decoded);
void crw_decoded_metadata(const crw_decoded *decoded, size_t index, int32_t *type, const char **family, const char **help);

/* Remote-write 2.0 (io.prometheus.write.v2.Request). Refs are given as sent, unchecked: the
 * reader judges them against the symbol count. -EBADMSG: not snappy block data, or not a Request. */
typedef struct crw_decoded_v2 crw_decoded_v2;

typedef struct crw_series_v2 {
    const uint32_t *refs; /* name, value, name, value, ...: indexes into the symbols */
    size_t ref_count;
    size_t sample_count;
    int32_t has_metadata;
    int32_t type; /* Metadata.MetricType */
    uint32_t help_ref;
    uint32_t unit_ref;
} crw_series_v2;

int32_t crw_decode_v2(const uint8_t *body, size_t length, crw_decoded_v2 **out);
void crw_decoded_v2_free(crw_decoded_v2 *decoded);
size_t crw_decoded_v2_symbol_count(const crw_decoded_v2 *decoded);
const char *crw_decoded_v2_symbol(const crw_decoded_v2 *decoded, size_t index);
size_t crw_decoded_v2_series_count(const crw_decoded_v2 *decoded);
/* `out->refs` stays valid until crw_decoded_v2_free. */
void crw_decoded_v2_series(const crw_decoded_v2 *decoded, size_t series, crw_series_v2 *out);
/* `start_timestamp_ms` is Sample.start_timestamp (rc.4): 0 when not sent. */
void crw_decoded_v2_sample(const crw_decoded_v2 *decoded, size_t series, size_t index, double *value, int64_t *timestamp_ms,
                           int64_t *start_timestamp_ms);

/* ---- HTTP: one reusable libcurl easy handle per endpoint, so connections are kept alive ---- */

typedef struct crw_http crw_http;

typedef enum crw_http_version {
    CRW_HTTP_DEFAULT = 0, /* HTTP/2 when TLS negotiates it, else HTTP/1.1 */
    CRW_HTTP_1_1 = 1,
    CRW_HTTP_2_PRIOR_KNOWLEDGE = 2, /* cleartext HTTP/2 (h2c) */
} crw_http_version;

typedef struct crw_response {
    int32_t status;
    /* Seconds from a Retry-After header (delay or HTTP date), or -1 when absent. */
    int64_t retry_after_seconds;
    /* Bytes of the response body copied into the caller's buffer. */
    size_t body_length;
    /* The HTTP version used: 11 or 20. */
    int32_t http_version;
    /* Remote-write 2.0's X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written
     * headers: what the receiver says it wrote, -1 when absent, -2 when present but not a count. */
    int64_t samples_written;
    int64_t histograms_written;
    int64_t exemplars_written;
    /* libcurl's message when the exchange failed. */
    char error[256];
} crw_response;

/* Returned by crw_http_perform when no HTTP response came back. */
#define CRW_HTTP_ERR_CONNECT (-1)  /* refused, unreachable, DNS */
#define CRW_HTTP_ERR_TIMEOUT (-2)  /* connect or total timeout */
#define CRW_HTTP_ERR_TLS (-3)      /* handshake or certificate verification */
#define CRW_HTTP_ERR_TRANSFER (-4) /* anything else on the wire */
#define CRW_HTTP_ERR_SETUP (-5)    /* a bad option (URL, file) */

crw_http *crw_http_new(void);
void crw_http_free(crw_http *http);
int32_t crw_http_set_url(crw_http *http, const char *url);
void crw_http_set_timeouts(crw_http *http, int64_t connect_ms, int64_t total_ms);
void crw_http_set_version(crw_http *http, crw_http_version version);
/* A whole header line, "Name: value". */
int32_t crw_http_add_header(crw_http *http, const char *line);
void crw_http_clear_headers(crw_http *http);
/* The proxy, as Prometheus's proxy_url, no_proxy and proxy_from_environment: `url` (http:// or
 * https://, CONNECT for an https receiver) and the hosts that bypass it; or, with a NULL url, the
 * environment's http_proxy, https_proxy and no_proxy if `from_environment`, else no proxy at all
 * (the default of every handle). */
int32_t crw_http_set_proxy(crw_http *http, const char *url, const char *no_proxy, int32_t from_environment);
/* A whole header line for the proxy only (proxy_connect_header). */
int32_t crw_http_add_proxy_header(crw_http *http, const char *line);
void crw_http_clear_proxy_headers(crw_http *http);
/* NULL user clears it. */
void crw_http_set_basic_auth(crw_http *http, const char *user, const char *password);
/* verify = 0 turns certificate and host name verification off. NULL files keep the defaults. */
void crw_http_set_tls(crw_http *http, int32_t verify, const char *ca_file, const char *cert_file, const char *key_file);
/* Sends `method` with the body (may be empty) and waits for the whole response. */
int32_t crw_http_perform(crw_http *http, const char *method, const uint8_t *body, size_t length,
                         uint8_t *response_body, size_t response_capacity, crw_response *response);

#endif
