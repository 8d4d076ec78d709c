// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs once per open file of every process and writes one binary record for each that holds a
 * BPF map or program (a link counts as holding its program): who holds what, in one read, as
 * bpftool's `pids` finds it.
 *
 * bpftool tells these files apart by their file operations, whose addresses it takes from
 * /proc/kallsyms; a kernel built without CONFIG_KALLSYMS_ALL lists no such data symbol there. So
 * this program goes by what the kernel names them instead: every map, program and link file is an
 * anonymous inode ("anon_inode:bpf-map" in /proc/<pid>/fd), and only the BPF syscall gives an
 * anonymous inode those names. The superblock is compared first, so that the name is read only
 * for the few anonymous files.
 *
 * Built by scripts/generate into holders.skel.h. The kernel skips a thread that shares its
 * process's file table, so each descriptor is seen once per process. */
#include "core_types.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "../include/clibbpf_holder_record.h"

#define ANON_INODE_FS_MAGIC 0x09041934
#define NOT_BPF 2

/* Whether the NUL-terminated `name` is `expected`, `size` bytes with its NUL. */
static int named(const char *name, const char *expected, int size)
{
    for (int i = 0; i < size; i++)
        if (name[i] != expected[i])
            return 0;
    return 1;
}

/* CLIBBPF_HOLDS_MAP, CLIBBPF_HOLDS_PROGRAM for a program or a link, else NOT_BPF; and in `link`
 * whether a link holds the program. */
static int kind_of(struct file *file, int *link)
{
    char name[10];

    *link = 0;
    if (file->f_inode->i_sb->s_magic != ANON_INODE_FS_MAGIC)
        return NOT_BPF;
    if (bpf_probe_read_kernel_str(name, sizeof(name), file->f_path.dentry->d_name.name) < 0)
        return NOT_BPF;
    if (named(name, "bpf-map", 8))
        return CLIBBPF_HOLDS_MAP;
    if (named(name, "bpf-prog", 9))
        return CLIBBPF_HOLDS_PROGRAM;
    /* "bpf_link" from bpf_link_prime, "bpf-link" from older kernels' bpf_link_new_fd. */
    if (named(name, "bpf_link", 9) || named(name, "bpf-link", 9)) {
        *link = 1;
        return CLIBBPF_HOLDS_PROGRAM;
    }
    return NOT_BPF;
}

SEC("iter/task_file")
int dump_holders(struct bpf_iter__task_file *ctx)
{
    struct task_struct *task = ctx->task;
    struct file *file = ctx->file;
    struct clibbpf_holder_record record;
    void *object;
    int kind, link;

    if (!task || !file)
        return 0;
    kind = kind_of(file, &link);
    if (kind == NOT_BPF)
        return 0;
    __builtin_memset(&record, 0, sizeof(record));
    record.kind = kind;
    object = BPF_CORE_READ(file, private_data);
    if (kind == CLIBBPF_HOLDS_MAP)
        record.id = BPF_CORE_READ((struct bpf_map *)object, id);
    else if (link)
        record.id = BPF_CORE_READ((struct bpf_link *)object, prog, aux, id);
    else
        record.id = BPF_CORE_READ((struct bpf_prog *)object, aux, id);
    if (!record.id)
        return 0;
    record.pid = task->tgid;
    bpf_probe_read_kernel_str(record.comm, sizeof(record.comm), task->group_leader->comm);
    bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
