/* Loaded programs: enumeration, what the kernel says of each (bpf_prog_info and fdinfo), full
 * names from BTF, and the run-time statistics switch. */
#include "CLibBPF.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

int32_t clibbpf_prog_next_id(uint32_t after, uint32_t *next)
{
    return bpf_prog_get_next_id(after, next);
}

/* Fills `info` for the program with this id; the caller has set the arrays it wants filled. */
static int prog_info(uint32_t id, struct bpf_prog_info *info)
{
    __u32 length = sizeof(*info);
    int fd = bpf_prog_get_fd_by_id(id), err;

    if (fd < 0)
        return fd;
    err = bpf_obj_get_info_by_fd(fd, info, &length);
    close(fd);
    return err;
}

int32_t clibbpf_prog_describe(uint32_t id, struct clibbpf_prog_record *record, uint32_t *map_ids, uint32_t capacity,
                              uint32_t *count)
{
    struct bpf_prog_info info;
    __u32 length = sizeof(info);
    int fd = bpf_prog_get_fd_by_id(id), err;

    if (fd < 0)
        return fd;
    memset(&info, 0, sizeof(info));
    info.nr_map_ids = capacity;
    info.map_ids = (__u64)(uintptr_t)map_ids;
    err = bpf_obj_get_info_by_fd(fd, &info, &length);
    memset(record, 0, sizeof(*record));
    if (!err) {
        record->id = info.id;
        record->type = info.type;
        memcpy(record->name, info.name, 16);
        record->name[15] = '\0';
        memcpy(record->tag, info.tag, sizeof(record->tag));
        record->run_time_ns = info.run_time_ns;
        record->run_count = info.run_cnt;
        /* The kernel fills as much of the struct as it knows and says how much in `length`. */
        if (length >= offsetof(struct bpf_prog_info, recursion_misses) + sizeof(info.recursion_misses)) {
            record->recursion_misses = info.recursion_misses;
            record->known |= CLIBBPF_PROG_HAS_RECURSION_MISSES;
        }
        if (length >= offsetof(struct bpf_prog_info, verified_insns) + sizeof(info.verified_insns)) {
            record->verified_insns = info.verified_insns;
            record->known |= CLIBBPF_PROG_HAS_VERIFIED_INSNS;
        }
        if (clibbpf_fd_memory(fd, &record->memlock) == 0)
            record->known |= CLIBBPF_PROG_HAS_MEMLOCK;
        *count = info.nr_map_ids;
    }
    close(fd);
    if (err)
        return err;
    return *count > capacity ? -ENOSPC : 0;
}

const char *clibbpf_prog_type_name(uint32_t type)
{
    return libbpf_bpf_prog_type_str((enum bpf_prog_type)type);
}

int32_t clibbpf_enable_stats(void)
{
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

    return fd < 0 ? -errno : fd;
}

int32_t clibbpf_prog_full_name(uint32_t id, char *name, size_t capacity)
{
    struct bpf_prog_info info;
    struct bpf_func_info record;
    const struct btf_type *type;
    const char *full;
    struct btf *btf;
    int err;

    memset(&info, 0, sizeof(info));
    memset(&record, 0, sizeof(record));
    /* The first func_info record is the program's own function, as bpftool reads it. */
    info.nr_func_info = 1;
    info.func_info_rec_size = sizeof(record);
    info.func_info = (__u64)(uintptr_t)&record;
    err = prog_info(id, &info);
    if (err)
        return err;
    if (!info.btf_id || !info.nr_func_info)
        return -ENOENT;
    btf = btf__load_from_kernel_by_id(info.btf_id);
    if (!btf)
        return -errno;
    type = btf__type_by_id(btf, record.type_id);
    full = type ? btf__name_by_offset(btf, type->name_off) : NULL;
    err = full && *full ? 0 : -ENOENT;
    if (!err)
        snprintf(name, capacity, "%s", full);
    btf__free(btf);
    return err;
}
