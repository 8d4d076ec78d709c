/* The one record the holders iterator (bpf/holders.bpf.c) writes per file descriptor that holds a
 * map or a program, shared by the BPF program and the C shim. Fixed-size and binary. */
#ifndef CLIBBPF_HOLDER_RECORD_H
#define CLIBBPF_HOLDER_RECORD_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* What the descriptor holds. A link holds its program: a process that kept only the link of what
 * it attached still keeps the program running. */
#define CLIBBPF_HOLDS_MAP 0
#define CLIBBPF_HOLDS_PROGRAM 1

struct clibbpf_holder_record {
    __u32 kind;
    /* The map's or the program's id. */
    __u32 id;
    /* The holding process (its thread group id, as the initial pid namespace numbers it). */
    __u32 pid;
    /* The process's name: its main thread's comm, NUL-terminated. */
    char comm[16];
};

_Static_assert(sizeof(struct clibbpf_holder_record) == 28, "the record layout is shared with the BPF program");

#endif
