/* The floor of the C libraries the shipper must use, measured by bench/floor: one process that
 * loads libcurl (Debian's, with OpenSSL), libbpf, libelf, snappy and protobuf-c, creates and
 * describes one BPF map, compresses a body and POSTs it to the URL in argv[1], then waits for
 * its resident memory to be read. */
#include <bpf/bpf.h>
#include <curl/curl.h>
#include <protobuf-c/protobuf-c.h>
#include <snappy-c.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char raw[4096] = {0}, body[8192];
    size_t length = sizeof(body);
    struct bpf_map_info info = {0};
    __u32 info_length = sizeof(info);
    long status = 0;
    CURL *curl;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 2;
    }
    fd = bpf_map_create(BPF_MAP_TYPE_HASH, "floor", 4, 8, 64, NULL);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &info_length)) {
        fprintf(stderr, "creating a BPF map failed\n");
        return 1;
    }
    snappy_compress(raw, sizeof(raw), body, &length);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)length);
    if (curl_easy_perform(curl) != CURLE_OK) {
        fprintf(stderr, "POST failed\n");
        return 1;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    printf("map %u, HTTP %ld, protobuf-c %s\n", info.id, status, protobuf_c_version());
    fflush(stdout);
    sleep(3);
    return 0;
}
