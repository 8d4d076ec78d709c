/* The one record the BPF iterator writes per map, shared by the BPF program and the C shim.
 * Fixed-size and binary (bpf_seq_write), so user space reads it without parsing text. */
#ifndef CLIBBPF_MAP_RECORD_H
#define CLIBBPF_MAP_RECORD_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* `entries` holds this when the kfunc did not count the map (the type keeps no count). */
#define CLIBBPF_ENTRIES_UNCOUNTED (-1LL)

struct clibbpf_map_record {
    __u32 id;
    __u32 type;
    __u32 flags;
    __u32 max_entries;
    __u32 key_size;
    __u32 value_size;
    __s64 entries;
    char name[16];
};

_Static_assert(sizeof(struct clibbpf_map_record) == 48, "the record layout is shared with the BPF program");

#endif
