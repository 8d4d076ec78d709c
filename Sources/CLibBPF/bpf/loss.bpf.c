// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts, per map id, the writes a map refused because it was full and the entries an LRU map
 * evicted, from fexit programs on the kernel functions where that happens. Writes from bpf(2) and
 * from BPF programs both pass through them.
 *
 * Built by scripts/generate into loss.skel.h. The collector loads only the programs whose target
 * function the running kernel has (its BTF names it), and reads `shipper_losses` each cycle.
 * Kernels that refuse tracing programs refuse all of them; the counters are then absent. */
#include "core_types.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "../include/clibbpf_loss_record.h"

#define E2BIG 7
#define ENOSPC 28
#define EAGAIN 11
#define LOSS_MAX_MAPS 16384
#define BPF_NOEXIST 1

/* Preallocated: a tracing program may not allocate on every kernel this runs on. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LOSS_MAX_MAPS);
    __type(key, __u32);
    __type(value, struct clibbpf_loss_counts);
} shipper_losses SEC(".maps");

/* Adds to one of the map's counters. Writes to shipper_losses itself pass through the hooks too:
 * they are not counted, and the kernel does not re-enter a program already running on this CPU. */
static void count(struct bpf_map *map, int eviction)
{
    struct clibbpf_loss_counts *counts, zero = {};
    __u32 id;

    if (!map || map == (const void *)&shipper_losses)
        return;
    id = BPF_CORE_READ(map, id);
    counts = bpf_map_lookup_elem(&shipper_losses, &id);
    if (!counts) {
        bpf_map_update_elem(&shipper_losses, &id, &zero, BPF_NOEXIST);
        counts = bpf_map_lookup_elem(&shipper_losses, &id);
        if (!counts)
            return;
    }
    if (eviction)
        __sync_fetch_and_add(&counts->evictions, 1);
    else
        __sync_fetch_and_add(&counts->insert_failures, 1);
}

/* The update functions return int before 6.6 and long from 6.6 on: only the low 32 bits hold the
 * error either way. */
static int refused(long ret, int full)
{
    return (int)ret == -full;
}

/* hash, from bpf(2) and from programs. hash_of_maps passes through here too where the kernel
 * does not inline it into the fd update below, which counts it instead. */
SEC("fexit/htab_map_update_elem")
int BPF_PROG(hash_update, struct bpf_map *map, void *key, void *value, __u64 flags, long ret)
{
    if (refused(ret, E2BIG) && BPF_CORE_READ(map, map_type) != BPF_MAP_TYPE_HASH_OF_MAPS)
        count(map, 0);
    return 0;
}

/* hash_of_maps, from bpf(2) (programs cannot write it). */
SEC("fexit/bpf_fd_htab_map_update_elem")
int BPF_PROG(fd_hash_update, struct bpf_map *map, void *file, void *key, void *value, __u64 flags, long ret)
{
    if (refused(ret, E2BIG))
        count(map, 0);
    return 0;
}

/* percpu_hash from programs. */
SEC("fexit/htab_percpu_map_update_elem")
int BPF_PROG(percpu_hash_update, struct bpf_map *map, void *key, void *value, __u64 flags, long ret)
{
    if (refused(ret, E2BIG))
        count(map, 0);
    return 0;
}

/* percpu_hash from bpf(2), which writes every CPU's value. */
SEC("fexit/bpf_percpu_hash_update")
int BPF_PROG(percpu_hash_syscall_update, struct bpf_map *map, void *key, void *value, __u64 flags, long ret)
{
    if (refused(ret, E2BIG))
        count(map, 0);
    return 0;
}

/* lpm_trie: -ENOSPC once max_entries prefixes are stored. */
SEC("fexit/trie_update_elem")
int BPF_PROG(trie_update, struct bpf_map *map, void *key, void *value, __u64 flags, long ret)
{
    if (refused(ret, ENOSPC))
        count(map, 0);
    return 0;
}

/* queue and stack: a push without BPF_EXIST into a full one. */
SEC("fexit/queue_stack_map_push_elem")
int BPF_PROG(queue_push, struct bpf_map *map, void *value, __u64 flags, long ret)
{
    if (refused(ret, E2BIG))
        count(map, 0);
    return 0;
}

/* The helpers below are BPF_CALL_x functions, which the kernel always defines with five u64
 * arguments, the unused ones padding: the return value comes after all five. */

/* ringbuf: a reservation that found no room returns NULL. */
SEC("fexit/bpf_ringbuf_reserve")
int BPF_PROG(ringbuf_reserve, __u64 map, __u64 size, __u64 flags, __u64 unused1, __u64 unused2, __u64 ret)
{
    if (!ret)
        count((struct bpf_map *)map, 0);
    return 0;
}

/* ringbuf: a dynptr reservation that found no room returns -EAGAIN (Linux >= 6.1). */
SEC("fexit/bpf_ringbuf_reserve_dynptr")
int BPF_PROG(ringbuf_reserve_dynptr, __u64 map, __u64 size, __u64 flags, __u64 dynptr, __u64 unused, long ret)
{
    if (refused(ret, EAGAIN))
        count((struct bpf_map *)map, 0);
    return 0;
}

/* ringbuf: an output that found no room returns -EAGAIN. */
SEC("fexit/bpf_ringbuf_output")
int BPF_PROG(ringbuf_output, __u64 map, __u64 data, __u64 size, __u64 flags, __u64 unused, long ret)
{
    if (refused(ret, EAGAIN))
        count((struct bpf_map *)map, 0);
    return 0;
}

/* lru_hash and lru_percpu_hash: the LRU calls this to take an entry out of the table when it
 * reclaims it for a new one; true when it did. `arg` is the map's bpf_htab, which begins with
 * the map. */
SEC("fexit/htab_lru_map_delete_node")
int BPF_PROG(lru_eviction, void *arg, void *node, _Bool ret)
{
    if (ret)
        count((struct bpf_map *)((char *)arg - bpf_core_field_offset(struct bpf_htab, map)), 1);
    return 0;
}

/* Counts nothing: attached, detached and attached again once at load, to learn whether this kernel
 * can attach a tracing program again after detaching it (Linux >= 5.13). Where it cannot, a
 * counting hook once detached would be lost, so every hook stays attached. */
SEC("fexit/htab_map_update_elem")
int BPF_PROG(reattach_probe, struct bpf_map *map, void *key, void *value, __u64 flags, long ret)
{
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
