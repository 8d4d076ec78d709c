/* HTTP over libcurl: the only file that includes curl. Options are set through typed
 * functions, never through the variadic curl_easy_setopt from Swift. */
#include "CRemoteWrite.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

struct crw_http {
    CURL *curl;
    struct curl_slist *headers;
    /* Sent to the proxy only (CONNECT, or a plain request through it). */
    struct curl_slist *proxy_headers;
    /* Where the current response goes. */
    uint8_t *response_body;
    size_t response_capacity;
    crw_response *response;
};

static pthread_once_t global_init = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
    struct crw_http *http = context;
    size_t bytes = size * count, room = http->response_capacity - http->response->body_length;

    /* Keep what fits (receivers' error messages); accept the rest so the connection survives. */
    if (room > 0) {
        size_t kept = bytes < room ? bytes : room;
        memcpy(http->response_body + http->response->body_length, data, kept);
        http->response->body_length += kept;
    }
    return bytes;
}

/* The value of header line `data` if it is header `name` ("name:", lower case), trimmed, into
 * `value`; NULL if it is another header. */
static char *header_value(const char *data, size_t bytes, const char *name, char *value, size_t capacity)
{
    size_t name_length = strlen(name), length;
    char *start, *end;

    if (bytes <= name_length || strncasecmp(data, name, name_length) != 0)
        return NULL;
    length = bytes - name_length;
    if (length >= capacity)
        length = capacity - 1;
    memcpy(value, data + name_length, length);
    value[length] = '\0';
    start = value;
    while (isspace((unsigned char)*start))
        start++;
    end = start + strlen(start);
    while (end > start && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return start;
}

/* A count header's value; -2 (present but unreadable) unless it is all digits and fits. */
static int64_t count_value(const char *text)
{
    return *text && strlen(text) < 19 && strspn(text, "0123456789") == strlen(text) ? strtoll(text, NULL, 10) : -2;
}

static size_t on_header(char *data, size_t size, size_t count, void *context)
{
    struct crw_http *http = context;
    struct crw_response *response = http->response;
    size_t bytes = size * count;
    char value[128];
    char *text;

    if (bytes >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): only its own headers count. */
        response->retry_after_seconds = -1;
        response->samples_written = response->histograms_written = response->exemplars_written = -1;
    } else if ((text = header_value(data, bytes, "retry-after:", value, sizeof(value)))) {
        if (*text && strspn(text, "0123456789") == strlen(text)) {
            response->retry_after_seconds = strtoll(text, NULL, 10);
        } else {
            time_t when = curl_getdate(text, NULL);
            if (when != -1) {
                time_t now = time(NULL);
                response->retry_after_seconds = when > now ? (int64_t)(when - now) : 0;
            }
        }
    } else if ((text = header_value(data, bytes, "x-prometheus-remote-write-samples-written:", value, sizeof(value)))) {
        response->samples_written = count_value(text);
    } else if ((text = header_value(data, bytes, "x-prometheus-remote-write-histograms-written:", value, sizeof(value)))) {
        response->histograms_written = count_value(text);
    } else if ((text = header_value(data, bytes, "x-prometheus-remote-write-exemplars-written:", value, sizeof(value)))) {
        response->exemplars_written = count_value(text);
    }
    return bytes;
}

crw_http *crw_http_new(void)
{
    struct crw_http *http;

    pthread_once(&global_init, init_curl);
    http = calloc(1, sizeof(*http));
    if (!http)
        return NULL;
    http->curl = curl_easy_init();
    if (!http->curl) {
        free(http);
        return NULL;
    }
    /* Worker threads: no signals for timeouts. */
    curl_easy_setopt(http->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(http->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(http->curl, CURLOPT_WRITEDATA, http);
    curl_easy_setopt(http->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(http->curl, CURLOPT_HEADERDATA, http);
    curl_easy_setopt(http->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Never follow redirects: a redirected POST would silently drop or resend data. */
    curl_easy_setopt(http->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(http->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* The receiver's headers (credentials among them) never go to a proxy in a CONNECT. */
    curl_easy_setopt(http->curl, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
    /* No proxy unless configured: libcurl would otherwise read http_proxy and https_proxy from
     * the environment, which Prometheus ignores unless told (crw_http_set_proxy). */
    curl_easy_setopt(http->curl, CURLOPT_PROXY, "");
    return http;
}

int32_t crw_http_set_proxy(crw_http *http, const char *url, const char *no_proxy, int32_t from_environment)
{
    if (url) {
        if (curl_easy_setopt(http->curl, CURLOPT_PROXY, url) != CURLE_OK)
            return CRW_HTTP_ERR_SETUP;
        curl_easy_setopt(http->curl, CURLOPT_NOPROXY, no_proxy);
    } else {
        /* NULL: libcurl's default, the environment's http_proxy, https_proxy and no_proxy. */
        curl_easy_setopt(http->curl, CURLOPT_PROXY, from_environment ? NULL : "");
        curl_easy_setopt(http->curl, CURLOPT_NOPROXY, NULL);
    }
    return 0;
}

/* Appends one header line to `list`; the list is unchanged if that fails. */
static int32_t append_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*list, line);

    if (!grown)
        return CRW_HTTP_ERR_SETUP;
    *list = grown;
    return 0;
}

int32_t crw_http_add_proxy_header(crw_http *http, const char *line)
{
    return append_line(&http->proxy_headers, line);
}

void crw_http_clear_proxy_headers(crw_http *http)
{
    curl_slist_free_all(http->proxy_headers);
    http->proxy_headers = NULL;
}

void crw_http_free(crw_http *http)
{
    if (!http)
        return;
    curl_slist_free_all(http->headers);
    curl_slist_free_all(http->proxy_headers);
    curl_easy_cleanup(http->curl);
    free(http);
}

int32_t crw_http_set_url(crw_http *http, const char *url)
{
    return curl_easy_setopt(http->curl, CURLOPT_URL, url) == CURLE_OK ? 0 : CRW_HTTP_ERR_SETUP;
}

void crw_http_set_timeouts(crw_http *http, int64_t connect_ms, int64_t total_ms)
{
    curl_easy_setopt(http->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(http->curl, CURLOPT_TIMEOUT_MS, (long)total_ms);
}

void crw_http_set_version(crw_http *http, crw_http_version version)
{
    long value = CURL_HTTP_VERSION_2TLS;

    if (version == CRW_HTTP_1_1)
        value = CURL_HTTP_VERSION_1_1;
    else if (version == CRW_HTTP_2_PRIOR_KNOWLEDGE)
        value = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    curl_easy_setopt(http->curl, CURLOPT_HTTP_VERSION, value);
}

int32_t crw_http_add_header(crw_http *http, const char *line)
{
    return append_line(&http->headers, line);
}

void crw_http_clear_headers(crw_http *http)
{
    curl_slist_free_all(http->headers);
    http->headers = NULL;
}

void crw_http_set_basic_auth(crw_http *http, const char *user, const char *password)
{
    if (!user) {
        curl_easy_setopt(http->curl, CURLOPT_HTTPAUTH, CURLAUTH_NONE);
        curl_easy_setopt(http->curl, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(http->curl, CURLOPT_PASSWORD, NULL);
        return;
    }
    curl_easy_setopt(http->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(http->curl, CURLOPT_USERNAME, user);
    curl_easy_setopt(http->curl, CURLOPT_PASSWORD, password ? password : "");
}

void crw_http_set_tls(crw_http *http, int32_t verify, const char *ca_file, const char *cert_file, const char *key_file)
{
    curl_easy_setopt(http->curl, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(http->curl, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (ca_file)
        curl_easy_setopt(http->curl, CURLOPT_CAINFO, ca_file);
    if (cert_file)
        curl_easy_setopt(http->curl, CURLOPT_SSLCERT, cert_file);
    if (key_file)
        curl_easy_setopt(http->curl, CURLOPT_SSLKEY, key_file);
}

static int32_t classify(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY: /* the proxy refused the tunnel (a CONNECT answered 403 or 502) */
        return CRW_HTTP_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return CRW_HTTP_ERR_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return CRW_HTTP_ERR_TLS;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return CRW_HTTP_ERR_SETUP;
    default:
        return CRW_HTTP_ERR_TRANSFER;
    }
}

int32_t crw_http_perform(crw_http *http, const char *method, const uint8_t *body, size_t length,
                         uint8_t *response_body, size_t response_capacity, crw_response *response)
{
    char error[CURL_ERROR_SIZE] = "";
    CURLcode code;
    long status = 0, version = 0;

    memset(response, 0, sizeof(*response));
    response->retry_after_seconds = -1;
    response->samples_written = response->histograms_written = response->exemplars_written = -1;
    http->response = response;
    http->response_body = response_body;
    http->response_capacity = response_capacity;

    curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, http->headers);
    curl_easy_setopt(http->curl, CURLOPT_PROXYHEADER, http->proxy_headers);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(http->curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(http->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(http->curl, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(http->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    }
    curl_easy_setopt(http->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 || strcmp(method, "GET") == 0 ? NULL : method);

    code = curl_easy_perform(http->curl);
    curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, NULL);
    http->response = NULL;
    if (code != CURLE_OK) {
        long tunnel = 0;

        strncpy(response->error, error[0] ? error : curl_easy_strerror(code), sizeof(response->error) - 1);
        /* A proxy that refuses a CONNECT for want of credentials answered: that answer is the
         * response (the receiver never saw the request), so that it reads as the 407 it is. */
        curl_easy_getinfo(http->curl, CURLINFO_HTTP_CONNECTCODE, &tunnel);
        if (tunnel == 407) {
            response->status = 407;
            response->body_length = 0;
            response->http_version = 11;
            return 0;
        }
        return classify(code);
    }
    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(http->curl, CURLINFO_HTTP_VERSION, &version);
    response->status = (int32_t)status;
    response->http_version = version == CURL_HTTP_VERSION_2_0 ? 20 : 11;
    return 0;
}
