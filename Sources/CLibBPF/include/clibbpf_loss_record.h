/* What the loss-tracking programs count per map, shared by the BPF program and the C shim. */
#ifndef CLIBBPF_LOSS_RECORD_H
#define CLIBBPF_LOSS_RECORD_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* The value of `shipper_losses`, keyed by map id. */
struct clibbpf_loss_counts {
    /* Writes refused because the map was full. */
    __u64 insert_failures;
    /* Entries an LRU map reclaimed for new ones. */
    __u64 evictions;
};

_Static_assert(sizeof(struct clibbpf_loss_counts) == 16, "the layout is shared with the BPF program");

/* One map's counters, as clibbpf_loss_read returns them. */
struct clibbpf_loss_record {
    __u32 id;
    __u32 reserved;
    struct clibbpf_loss_counts counts;
};

#endif
