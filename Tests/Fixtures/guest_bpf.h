/* Raw bpf(2) helpers shared by the guest fixtures (guest_maps.c, guest_losses.c): no libbpf, so
 * that they link statically and need nothing inside the guest. */
#ifndef GUEST_BPF_H
#define GUEST_BPF_H

#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long bpf(int cmd, union bpf_attr *attr)
{
    return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static inline int fail(const char *what)
{
    perror(what);
    exit(1);
}

/* Before 5.11 map and program memory is charged to RLIMIT_MEMLOCK (64 KiB by default), not to the
 * cgroup: lift it, as libbpf does for the shipper. */
static inline void lift_memlock(void)
{
    struct rlimit unlimited = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
        fail("setrlimit memlock");
}

static inline int create(uint32_t type, const char *name, uint32_t key, uint32_t value, uint32_t max, uint32_t flags, int inner)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = type;
    attr.key_size = key;
    attr.value_size = value;
    attr.max_entries = max;
    attr.map_flags = flags;
    attr.inner_map_fd = inner > 0 ? inner : 0;
    snprintf(attr.map_name, sizeof(attr.map_name), "%s", name);
    int fd = bpf(BPF_MAP_CREATE, &attr);
    if (fd < 0)
        fail(name);
    return fd;
}

static inline void update(int fd, const void *key, const void *value)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = (uintptr_t)key;
    attr.value = (uintptr_t)value;
    if (bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0)
        fail("update");
}

static inline uint32_t id_of(int fd)
{
    struct bpf_map_info info;
    union bpf_attr attr;
    memset(&info, 0, sizeof(info));
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uintptr_t)&info;
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
        fail("info");
    return info.id;
}

#endif
