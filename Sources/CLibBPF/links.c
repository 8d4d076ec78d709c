/* BPF links: where each program is attached, as far as the kernel says (bpf_link_info). */
#define _GNU_SOURCE
#include "CLibBPF.h"

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

/* Newer than the build's headers (Linux 6.1's): the same union as xdp's, ifindex first, then
 * the attach type. */
#define LINK_TYPE_TCX 11
#define LINK_TYPE_NETKIT 13
/* The kernfs file handle of a cgroup, whose 8 bytes are its id (what name_to_handle_at gives). */
#define FILEID_KERNFS 0xfe

int32_t clibbpf_link_next_id(uint32_t after, uint32_t *next)
{
    return bpf_link_get_next_id(after, next);
}

/* The first cgroup2 mount point this process sees (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * a hybrid host), or 0 bytes. */
static void cgroup2_mount(char *out, size_t capacity)
{
    FILE *mounts = setmntent("/proc/self/mounts", "re");
    struct mntent *entry;

    out[0] = '\0';
    if (!mounts)
        return;
    while ((entry = getmntent(mounts)))
        if (strcmp(entry->mnt_type, "cgroup2") == 0) {
            snprintf(out, capacity, "%s", entry->mnt_dir);
            break;
        }
    endmntent(mounts);
}

/* The path of the cgroup with this id under the cgroup2 mount ("/" for its root), or 0 bytes if
 * it cannot be had: its kernfs file handle is its id, opened and read back through /proc. */
static void cgroup_path(uint64_t id, char *out, size_t capacity)
{
    struct {
        struct file_handle handle;
        uint64_t id;
    } handle = {.handle = {.handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS}, .id = id};
    char mount[4096], link[64], path[4096];
    size_t prefix;
    int root, fd;
    ssize_t length;

    out[0] = '\0';
    cgroup2_mount(mount, sizeof(mount));
    prefix = strlen(mount);
    if (!prefix || (root = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
    fd = open_by_handle_at(root, &handle.handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(root);
    if (fd < 0)
        return;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    length = readlink(link, path, sizeof(path) - 1);
    close(fd);
    if (length < (ssize_t)prefix || strncmp(path, mount, prefix) != 0)
        return;
    path[length] = '\0';
    snprintf(out, capacity, "%s", (size_t)length == prefix ? "/" : path + prefix);
}

/* An interface's name, or its index where it has none now. */
static void interface_name(uint32_t ifindex, char *out, size_t capacity)
{
    char name[IF_NAMESIZE];

    if (if_indextoname(ifindex, name))
        snprintf(out, capacity, "%s", name);
    else
        snprintf(out, capacity, "ifindex %u", ifindex);
}

int32_t clibbpf_link_describe(uint32_t id, struct clibbpf_link_record *record)
{
    struct bpf_link_info info;
    __u32 length = sizeof(info), words[2], type;
    char name[sizeof(record->target)] = "";
    int fd = bpf_link_get_fd_by_id(id), err;

    if (fd < 0)
        return fd;
    memset(record, 0, sizeof(*record));
    /* Asked twice: the type says which name, if any, the kernel copies into a buffer of ours. */
    memset(&info, 0, sizeof(info));
    err = bpf_obj_get_info_by_fd(fd, &info, &length);
    if (err) {
        close(fd);
        return err;
    }
    type = info.type;
    memset(&info, 0, sizeof(info));
    if (type == BPF_LINK_TYPE_RAW_TRACEPOINT) {
        info.raw_tracepoint.tp_name = (__u64)(unsigned long)name;
        info.raw_tracepoint.tp_name_len = sizeof(name);
    } else if (type == BPF_LINK_TYPE_ITER) {
        info.iter.target_name = (__u64)(unsigned long)name;
        info.iter.target_name_len = sizeof(name);
    }
    length = sizeof(info);
    err = bpf_obj_get_info_by_fd(fd, &info, &length);
    close(fd);
    if (err)
        return err;
    record->id = info.id;
    record->prog_id = info.prog_id;
    record->type = info.type;
    record->attach_type = CLIBBPF_ATTACH_UNKNOWN;
    name[sizeof(name) - 1] = '\0';
    memcpy(words, &info.raw_tracepoint, sizeof(words));
    switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
        record->attach_type = BPF_TRACE_RAW_TP;
        snprintf(record->target, sizeof(record->target), "%s", name);
        break;
    case BPF_LINK_TYPE_ITER:
        record->attach_type = BPF_TRACE_ITER;
        snprintf(record->target, sizeof(record->target), "%s", name);
        break;
    case BPF_LINK_TYPE_TRACING:
        record->attach_type = info.tracing.attach_type;
        break;
    case BPF_LINK_TYPE_CGROUP:
        record->attach_type = info.cgroup.attach_type;
        cgroup_path(info.cgroup.cgroup_id, record->target, sizeof(record->target));
        if (!record->target[0])
            snprintf(record->target, sizeof(record->target), "cgroup %llu", (unsigned long long)info.cgroup.cgroup_id);
        break;
    case BPF_LINK_TYPE_NETNS:
        record->attach_type = info.netns.attach_type;
        snprintf(record->target, sizeof(record->target), "netns %u", info.netns.netns_ino);
        break;
    case BPF_LINK_TYPE_XDP:
        record->attach_type = BPF_XDP;
        interface_name(words[0], record->target, sizeof(record->target));
        break;
    case LINK_TYPE_TCX:
    case LINK_TYPE_NETKIT:
        record->attach_type = words[1];
        interface_name(words[0], record->target, sizeof(record->target));
        break;
    }
    return 0;
}

const char *clibbpf_link_type_name(uint32_t type)
{
    return libbpf_bpf_link_type_str((enum bpf_link_type)type);
}

const char *clibbpf_attach_type_name(uint32_t type)
{
    return libbpf_bpf_attach_type_str((enum bpf_attach_type)type);
}
