// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs once per eBPF map in the kernel and writes one binary record for it.
 *
 * Built twice by scripts/generate, and both skeletons are committed:
 *   map_iter.skel.h        with SHIPPER_KFUNC: counts the hash family with the kfunc (Linux >= 6.6);
 *   map_iter_plain.skel.h  without: loads wherever iter/bpf_map does (Linux >= 5.8), leaving the
 *                          counts to user space.
 * Two objects rather than a weak kfunc: libbpf fails a whole object whose strong kfunc is missing,
 * and Debian 12's libbpf 1.1 predates bpf_ksym_exists(), which a weak kfunc needs. */
#include "core_types.h"
#include <bpf/bpf_helpers.h>
#include "../include/clibbpf_map_record.h"

#ifdef SHIPPER_KFUNC
/* Linux >= 6.6. Sums the per-CPU element counters the kernel keeps for hash maps. A kernel
 * without it refuses to load this object, and the collector loads the plain one. */
extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;
#endif

SEC("iter/bpf_map")
int dump_map_records(struct bpf_iter__bpf_map *ctx)
{
    struct seq_file *seq = ctx->meta->seq;
    struct bpf_map *map = ctx->map;
    struct clibbpf_map_record record = {};

    if (!map)
        return 0;

    record.id = map->id;
    record.type = map->map_type;
    record.flags = map->map_flags;
    record.max_entries = map->max_entries;
    record.key_size = map->key_size;
    record.value_size = map->value_size;
    bpf_probe_read_kernel(record.name, sizeof(record.name), map->name);

    record.entries = CLIBBPF_ENTRIES_UNCOUNTED;
#ifdef SHIPPER_KFUNC
    switch (record.type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
        record.entries = bpf_map_sum_elem_count(map);
        break;
    }
#endif

    bpf_seq_write(seq, &record, sizeof(record));
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
