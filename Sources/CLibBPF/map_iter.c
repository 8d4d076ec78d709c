/* The map iterator (the only file that includes its generated skeletons), map handles and pins. */
#include "CLibBPF.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "child_loader.h"
#include "map_iter.skel.h"
#include "map_iter_plain.skel.h"

struct clibbpf_iterator {
    /* The attached iterator link: all a read needs. It keeps the program loaded. */
    int link_fd;
    int loaded_by_child;
    /* The hash table read's map of maps it leaves alone (CLIBBPF_PROGRAM_HTAB), else -1. */
    int skip_fd;
    /* The clibbpf_program that was loaded. */
    int program;
};

static clibbpf_log_sink log_sink;

static int forward_libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
    char message[1024];
    int length;

    if (!log_sink)
        return 0;
    length = vsnprintf(message, sizeof(message), format, args);
    if (length < 0)
        return 0;
    if ((size_t)length >= sizeof(message))
        length = sizeof(message) - 1;
    while (length > 0 && message[length - 1] == '\n')
        message[--length] = '\0';
    log_sink((int32_t)level, message);
    return 0;
}

void clibbpf_set_log_sink(clibbpf_log_sink sink)
{
    log_sink = sink;
    libbpf_set_print(sink ? forward_libbpf_print : NULL);
}

/* Loads the one program named `name` of an opened object (the others are left out), attaches it,
 * and returns a kept fd of its link, and in `skip_fd` one of the object's skip map if it has one
 * (else -1). The caller closes the object. */
static int load_program_link(struct bpf_object *object, const char *name, int *skip_fd)
{
    struct bpf_program *program, *chosen = NULL;
    struct bpf_map *skip;
    struct bpf_link *link = NULL;
    int fd = -ENOENT;

    *skip_fd = -1;
    bpf_object__for_each_program(program, object)
    {
        int is_chosen = strcmp(bpf_program__name(program), name) == 0;
        bpf_program__set_autoload(program, is_chosen);
        if (is_chosen)
            chosen = program;
    }
    if (chosen && (fd = bpf_object__load(object)) == 0) {
        link = bpf_program__attach_iter(chosen, NULL);
        skip = bpf_object__find_map_by_name(object, "shipper_skip");
        if (!link)
            fd = errno ? -errno : -EINVAL;
        else if ((fd = clibbpf_keep_fd(bpf_link__fd(link))) >= 0 && skip && (*skip_fd = clibbpf_keep_fd(bpf_map__fd(skip))) < 0) {
            close(fd);
            fd = *skip_fd;
            *skip_fd = -1;
        }
    } else if (fd == 0) {
        fd = -ENOENT;
    }
    bpf_link__destroy(link);
    return fd;
}

/* Defines load_<skeleton>_program: opens the skeleton, tells it the possible CPUs, and hands its
 * object to load_program_link. The two skeletons have the same shape but distinct types. */
#define DEFINE_LOAD_PROGRAM(skeleton)                                                                                  \
    static int load_##skeleton##_program(const char *name, int *skip_fd)                                             \
    {                                                                                                                  \
        struct skeleton *opened = skeleton##__open();                                                                  \
        int cpus = libbpf_num_possible_cpus(), fd;                                                                     \
                                                                                                                       \
        *skip_fd = -1;                                                                                                 \
        if (!opened)                                                                                                   \
            return errno ? -errno : -EINVAL;                                                                           \
        /* 0 where unknown: the program then leaves the element scan alone. */                                       \
        opened->rodata->possible_cpus = cpus > 0 ? (__u32)cpus : 0;                                                    \
        fd = load_program_link(opened->obj, name, skip_fd);                                                            \
        skeleton##__destroy(opened);                                                                                   \
        return fd;                                                                                                     \
    }

DEFINE_LOAD_PROGRAM(map_iter)
DEFINE_LOAD_PROGRAM(map_iter_plain)

/* The program each clibbpf_program names, in its object (the kfunc one, else the plain one). */
static const char *program_name(int program)
{
    return program == CLIBBPF_PROGRAM_LIST ? "list_map_records" : "dump_map_records";
}

/* Loads and attaches the first of the programs, from `first` on, that the kernel accepts (the
 * kfunc, then the hash table read, then the plain listing): fds[0] is its link, fds[1] the skip map
 * of the hash table read, `value` the program. On failure, the error of `first`, the program the
 * kernel was expected to take. */
static struct clibbpf_loaded load_link(int first)
{
    struct clibbpf_loaded result = {.err = -ENOENT, .value = first};

    for (int program = first; program <= CLIBBPF_PROGRAM_LIST; program++) {
        int skip_fd = -1;
        int fd = program == CLIBBPF_PROGRAM_KFUNC ? load_map_iter_program(program_name(program), &skip_fd)
                                                  : load_map_iter_plain_program(program_name(program), &skip_fd);

        /* Only the hash table read reads the skip map; the listing program's object merely has one. */
        if (skip_fd >= 0 && program != CLIBBPF_PROGRAM_HTAB) {
            close(skip_fd);
            skip_fd = -1;
        }
        if (fd >= 0) {
            struct clibbpf_loaded loaded = {.value = program, .count = skip_fd >= 0 ? 2 : 1, .fds = {fd, skip_fd}};
            return loaded;
        }
        if (program == first)
            result.err = fd;
    }
    return result;
}

int32_t clibbpf_iterator_open(clibbpf_iterator **out, int32_t first)
{
    struct clibbpf_iterator *iterator;
    struct clibbpf_loaded loaded;
    int in_child;

    if (first < CLIBBPF_PROGRAM_KFUNC || first > CLIBBPF_PROGRAM_LIST)
        return -EINVAL;
    iterator = calloc(1, sizeof(*iterator));
    if (!iterator)
        return -ENOMEM;
    loaded = clibbpf_load(load_link, first, &in_child);
    if (loaded.err) {
        free(iterator);
        return loaded.err;
    }
    iterator->loaded_by_child = in_child;
    iterator->link_fd = loaded.fds[0];
    iterator->skip_fd = loaded.count > 1 ? loaded.fds[1] : -1;
    iterator->program = loaded.value;
    *out = iterator;
    return 0;
}

int32_t clibbpf_iterator_program(const clibbpf_iterator *iterator)
{
    return iterator->program;
}

int32_t clibbpf_iterator_loaded_by_child(const clibbpf_iterator *iterator)
{
    return iterator->loaded_by_child;
}

void clibbpf_iterator_close(clibbpf_iterator *iterator)
{
    if (!iterator)
        return;
    close(iterator->link_fd);
    if (iterator->skip_fd >= 0)
        close(iterator->skip_fd);
    free(iterator);
}

int32_t clibbpf_iterator_skip_map_id(const clibbpf_iterator *iterator, uint32_t *id)
{
    struct bpf_map_info info;
    __u32 length = sizeof(info);
    int err;

    if (iterator->skip_fd < 0)
        return -ENOENT;
    memset(&info, 0, sizeof(info));
    err = bpf_obj_get_info_by_fd(iterator->skip_fd, &info, &length);
    if (err)
        return err;
    *id = info.id;
    return 0;
}


int32_t clibbpf_iterator_skip(clibbpf_iterator *iterator, uint32_t map_id, int32_t skip)
{
    __u8 yes = 1;
    int err;

    if (iterator->skip_fd < 0)
        return 0;
    if (skip)
        return bpf_map_update_elem(iterator->skip_fd, &map_id, &yes, BPF_ANY);
    err = bpf_map_delete_elem(iterator->skip_fd, &map_id);
    return err == -ENOENT ? 0 : err; /* never skipped: not a hash map, or the skip map was full */
}

int32_t clibbpf_iterator_link_fd(const clibbpf_iterator *iterator)
{
    return iterator->link_fd;
}

int32_t clibbpf_map_next_id(uint32_t after, uint32_t *next)
{
    return bpf_map_get_next_id(after, next);
}

int32_t clibbpf_map_open(uint32_t id)
{
    return bpf_map_get_fd_by_id(id);
}

int32_t clibbpf_map_describe(int32_t fd, struct clibbpf_map_record *record)
{
    struct bpf_map_info info;
    __u32 length = sizeof(info);
    int err;

    memset(&info, 0, sizeof(info));
    err = bpf_obj_get_info_by_fd(fd, &info, &length);
    if (err)
        return err;
    memset(record, 0, sizeof(*record));
    record->id = info.id;
    record->type = info.type;
    record->flags = info.map_flags;
    record->max_entries = info.max_entries;
    record->key_size = info.key_size;
    record->value_size = info.value_size;
    record->entries = CLIBBPF_ENTRIES_UNCOUNTED;
    memcpy(record->name, info.name, sizeof(record->name));
    return 0;
}

static int is_per_cpu(__u32 type)
{
    return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
           type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

int32_t clibbpf_map_count_batch(int32_t fd, const struct clibbpf_map_record *map, uint64_t *count)
{
    size_t value_size = map->value_size;
    /* Small maps get a small buffer: a batch never needs more room than the map's capacity. */
    __u32 batch = map->max_entries < 4096 ? (map->max_entries ? map->max_entries : 1) : 4096;
    uint64_t total = 0;
    void *keys = NULL, *values = NULL;
    __u64 token_in = 0, token_out = 0;
    void *in = NULL;
    int err = 0;

    if (is_per_cpu(map->type)) {
        int cpus = libbpf_num_possible_cpus();
        if (cpus < 0)
            return cpus;
        value_size = ((value_size + 7) & ~(size_t)7) * (size_t)cpus;
    }
    /* The hash tables' batch token is a bucket index, so 8 bytes hold it. */
    for (;;) {
        __u32 got = batch;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);

        if (!keys) {
            keys = malloc((size_t)batch * map->key_size);
            values = malloc((size_t)batch * value_size);
            if (!keys || !values) {
                err = -ENOMEM;
                break;
            }
        }
        err = bpf_map_lookup_batch(fd, in, &token_out, keys, values, &got, &opts);
        if (err == -ENOSPC && got == 0) {
            /* One bucket holds more elements than the batch: grow it and retry the same bucket. */
            free(keys);
            free(values);
            keys = values = NULL;
            batch *= 4;
            err = 0;
            continue;
        }
        if (err && err != -ENOENT)
            break;
        total += got;
        if (err == -ENOENT) {
            err = 0;
            break;
        }
        token_in = token_out;
        in = &token_in;
    }
    free(keys);
    free(values);
    if (!err)
        *count = total;
    return err;
}

int32_t clibbpf_map_count_walk(int32_t fd, const struct clibbpf_map_record *map, uint64_t max_keys, uint64_t *count)
{
    size_t key_size = map->key_size ? map->key_size : 1;
    unsigned char *first = malloc(key_size), *key = malloc(key_size), *next = malloc(key_size);
    uint64_t total = 0;
    int err;

    if (!first || !key || !next) {
        err = -ENOMEM;
        goto out;
    }
    err = bpf_map_get_next_key(fd, NULL, first);
    if (err == -ENOENT) {
        err = 0;
        goto done;
    }
    if (err)
        goto out;
    memcpy(key, first, key_size);
    total = 1;
    for (;;) {
        err = bpf_map_get_next_key(fd, key, next);
        if (err == -ENOENT) {
            err = 0;
            break;
        }
        if (err)
            goto out;
        /* A deleted current key sends the hash tables and the trie back to their first key. */
        if (memcmp(next, first, key_size) == 0 || total >= map->max_entries) {
            err = -EAGAIN;
            goto out;
        }
        if (total >= max_keys) {
            err = -E2BIG;
            goto out;
        }
        total++;
        memcpy(key, next, key_size);
    }
done:
    *count = total;
out:
    free(first);
    free(key);
    free(next);
    return err;
}

/* /proc/self/fdinfo, opened once: resolving "/proc/self" for every map costs more than the read. */
static int fdinfo_directory(void)
{
    static int directory = -1;
    int opened, expected = -1;

    if (__atomic_load_n(&directory, __ATOMIC_ACQUIRE) >= 0)
        return directory;
    opened = open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (opened < 0)
        return -errno;
    if (!__atomic_compare_exchange_n(&directory, &expected, opened, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        close(opened);
    return directory;
}

int32_t clibbpf_fd_memory(int32_t fd, uint64_t *bytes)
{
    char name[16], text[1024];
    const char *line;
    ssize_t got;
    int directory = fdinfo_directory(), info;

    if (directory < 0)
        return directory;
    snprintf(name, sizeof(name), "%d", fd);
    info = openat(directory, name, O_RDONLY | O_CLOEXEC);
    if (info < 0)
        return -errno;
    got = read(info, text, sizeof(text) - 1);
    close(info);
    if (got < 0)
        return -errno;
    text[got] = '\0';
    line = strstr(text, "\nmemlock:");
    if (!line)
        return -ENODATA;
    *bytes = strtoull(line + strlen("\nmemlock:"), NULL, 10);
    return 0;
}

int32_t clibbpf_pinned_map_id(const char *path, uint32_t *id)
{
    struct bpf_map_info info;
    __u32 length = sizeof(info);
    char link[64], target[64];
    ssize_t got;
    int fd, err;

    /* Read-only: the id is all that is needed, and reading a pin owned by root (mode 0600) needs
     * only CAP_DAC_READ_SEARCH, where writing would need CAP_DAC_OVERRIDE. The kernel refuses a
     * read-only open of a pinned program or link with -EINVAL: not a map. */
    LIBBPF_OPTS(bpf_obj_get_opts, read_only, .file_flags = BPF_F_RDONLY);

    fd = bpf_obj_get_opts(path, &read_only);
    if (fd == -EINVAL)
        return 0;
    if (fd < 0)
        return fd;
    /* Other kinds of pinned objects are told apart by their anon inode name. */
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    got = readlink(link, target, sizeof(target) - 1);
    if (got < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    target[got] = '\0';
    if (strcmp(target, "anon_inode:bpf-map") != 0) {
        close(fd);
        return 0;
    }
    memset(&info, 0, sizeof(info));
    err = bpf_obj_get_info_by_fd(fd, &info, &length);
    close(fd);
    if (err)
        return err;
    *id = info.id;
    return 1;
}

void clibbpf_close(int32_t fd)
{
    if (fd >= 0)
        close(fd);
}
