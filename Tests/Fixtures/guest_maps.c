/* The map holder of the guest-kernel tests: creates one map of every type the collector counts
 * (and two it does not), fills each with `fill` keys, pins one, prints one line per map, and
 * holds them until killed: "maps of another program" inside a guest that has no python3.
 *
 * Raw bpf(2) calls, no libbpf, so it links statically and needs nothing in the guest.
 * Output, one line per map, then "ready":
 *   map <name> <id> <type> <expected count, or - for types without one> <max_entries>
 *
 * With `--bench SMALL BIG` it makes bench/collect's maps instead: SMALL hash maps "bench_small" of
 * 4 elements (capacity 64), "bench_big" holding BIG elements and "bench_empty" of capacity BIG;
 * it prints "big <id>" and "ready".
 * Build: cc -static -O2 -o guest_maps guest_maps.c (guest_bpf.h beside it)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest_bpf.h"

/* Keys 0..count-1, values zero, a batch at a time: one system call per 4,096 elements. */
static void fill_batch(int fd, uint32_t count)
{
    static uint32_t keys[4096];
    static uint64_t values[4096];
    for (uint32_t start = 0; start < count; start += 4096) {
        union bpf_attr attr;
        uint32_t n = count - start < 4096 ? count - start : 4096;
        for (uint32_t i = 0; i < n; i++)
            keys[i] = start + i;
        memset(&attr, 0, sizeof(attr));
        attr.batch.map_fd = fd;
        attr.batch.keys = (uintptr_t)keys;
        attr.batch.values = (uintptr_t)values;
        attr.batch.count = n;
        if (bpf(BPF_MAP_UPDATE_BATCH, &attr) < 0)
            fail("update batch");
    }
}

/* bench/collect's maps, for a run inside the guest. */
static _Noreturn void bench(uint32_t small, uint32_t big)
{
    struct rlimit files = {.rlim_cur = small + 64, .rlim_max = small + 64};
    if (setrlimit(RLIMIT_NOFILE, &files) < 0)
        fail("setrlimit");
    for (uint32_t i = 0; i < small; i++)
        fill_batch(create(BPF_MAP_TYPE_HASH, "bench_small", 4, 8, 64, 0, 0), 4);
    int fd = create(BPF_MAP_TYPE_HASH, "bench_big", 4, 8, big, 0, 0);
    fill_batch(fd, big);
    create(BPF_MAP_TYPE_HASH, "bench_empty", 4, 8, big, 0, 0);
    printf("big %u\nready\n", id_of(fd));
    fflush(stdout);
    for (;;)
        pause();
}

/* A connected TCP pair over loopback: what every kernel's sockhash takes (Unix stream sockets
 * only from 5.15). */
static void tcp_pair(int pair[2])
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(listener, 1) < 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) < 0)
        fail("listen");
    pair[1] = socket(AF_INET, SOCK_STREAM, 0);
    if (pair[1] < 0 || connect(pair[1], (struct sockaddr *)&address, sizeof(address)) < 0)
        fail("connect");
    pair[0] = accept(listener, NULL, NULL);
    if (pair[0] < 0)
        fail("accept");
    close(listener);
}

struct spec {
    const char *suffix;
    uint32_t type, flags, fill, max, key, value;
    int counted;
    const char *type_name;
};

int main(int argc, char **argv)
{
    lift_memlock();
    if (argc == 4 && strcmp(argv[1], "--bench") == 0)
        bench((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]));
    const char *prefix = argc > 1 ? argv[1] : "g_";
    const char *pin = argc > 2 ? argv[2] : NULL;
    static const struct spec specs[] = {
        {"hash", BPF_MAP_TYPE_HASH, 0, 10, 64, 4, 8, 1, "hash"},
        {"noprea", BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, 7, 64, 4, 8, 1, "hash"},
        {"lru", BPF_MAP_TYPE_LRU_HASH, 0, 5, 32, 4, 8, 1, "lru_hash"},
        {"pcpu", BPF_MAP_TYPE_PERCPU_HASH, 0, 3, 16, 4, 8, 1, "percpu_hash"},
        {"lrupcpu", BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, 4, 16, 4, 8, 1, "lru_percpu_hash"},
        {"hom", BPF_MAP_TYPE_HASH_OF_MAPS, 0, 3, 8, 4, 4, 1, "hash_of_maps"},
        {"lpm", BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, 6, 16, 8, 4, 1, "lpm_trie"},
        {"sock", BPF_MAP_TYPE_SOCKHASH, 0, 2, 8, 4, 4, 1, "sockhash"},
        {"dev", BPF_MAP_TYPE_DEVMAP_HASH, 0, 2, 8, 4, 4, 1, "devmap_hash"},
        {"stack", BPF_MAP_TYPE_STACK_TRACE, 0, 0, 8, 4, 64, 1, "stack_trace"},
        {"array", BPF_MAP_TYPE_ARRAY, 0, 0, 4, 4, 8, 0, "array"},
        {"queue", BPF_MAP_TYPE_QUEUE, 0, 0, 4, 0, 8, 0, "queue"},
        /* Nearly full: many buckets hold more than one element. */
        {"big", BPF_MAP_TYPE_HASH, 0, 30000, 32768, 4, 8, 1, "hash"},
    };
    int inner = create(BPF_MAP_TYPE_ARRAY, "inner", 4, 4, 1, 0, 0);
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        const struct spec *s = &specs[i];
        char name[16];
        snprintf(name, sizeof(name), "%s%s", prefix, s->suffix);
        int fd = create(s->type, name, s->key, s->value, s->max, s->flags, s->type == BPF_MAP_TYPE_HASH_OF_MAPS ? inner : 0);
        /* Preallocated hash maps get every key written twice: a rewrite swaps in one of the map's
         * spare elements and retires the old one, and neither may be counted. */
        int writes = s->type == BPF_MAP_TYPE_HASH || s->type == BPF_MAP_TYPE_PERCPU_HASH ? 2 : 1;
        for (int round = 0; s->fill > 64 && round < writes; round++)
            fill_batch(fd, s->fill);
        for (uint32_t k = 0; s->fill <= 64 && k < s->fill * writes; k++) {
            uint8_t key[8] = {0}, value[8 * 64] = {0};
            if (s->type == BPF_MAP_TYPE_LPM_TRIE) {
                uint32_t prefixlen = 32, address = htonl(k);
                memcpy(key, &prefixlen, 4);
                memcpy(key + 4, &address, 4);
            } else {
                uint32_t index = k % s->fill;
                memcpy(key, &index, 4);
            }
            if (s->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
                memcpy(value, &inner, 4);
            } else if (s->type == BPF_MAP_TYPE_DEVMAP_HASH) {
                uint32_t lo = if_nametoindex("lo");
                memcpy(value, &lo, 4);
            } else if (s->type == BPF_MAP_TYPE_SOCKHASH) {
                int pair[2];
                tcp_pair(pair);
                memcpy(value, &pair[0], 4);
            }
            update(fd, key, value);
        }
        if (pin && i == 0) {
            union bpf_attr attr;
            memset(&attr, 0, sizeof(attr));
            attr.bpf_fd = fd;
            attr.pathname = (uintptr_t)pin;
            if (bpf(BPF_OBJ_PIN, &attr) < 0)
                fail("pin");
        }
        if (s->counted)
            printf("map %s %u %s %u %u\n", name, id_of(fd), s->type_name, s->fill, s->max);
        else
            printf("map %s %u %s - %u\n", name, id_of(fd), s->type_name, s->max);
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
