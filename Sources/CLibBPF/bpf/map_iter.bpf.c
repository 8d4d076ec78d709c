// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs once per eBPF map in the kernel and writes one binary record for it.
 *
 * Built twice by scripts/generate, and both skeletons are committed:
 *   map_iter.skel.h        with SHIPPER_KFUNC: dump_map_records counts the hash family with the
 *                          kfunc (Linux >= 6.6);
 *   map_iter_plain.skel.h  without: dump_map_records counts the hash family by reading its tables
 *                          (bpf_loop, Linux >= 5.17), and list_map_records only lists the maps
 *                          (iter/bpf_map, Linux >= 5.8), leaving their counts to user space.
 * Two objects rather than a weak kfunc: libbpf fails a whole object whose strong kfunc is missing,
 * and Debian 12's libbpf 1.1 predates bpf_ksym_exists(), which a weak kfunc needs. */
#include "core_types.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "../include/clibbpf_map_record.h"

/* Set by the loader before load (libbpf_num_possible_cpus): a preallocated hash map has one spare
 * element per possible CPU beyond max_entries. Both variants declare it, so that both skeletons
 * have the same shape. */
const volatile __u32 possible_cpus = 0;

/* Fills everything but the count. */
static void describe(struct clibbpf_map_record *record, struct bpf_map *map)
{
    record->id = map->id;
    record->type = map->map_type;
    record->flags = map->map_flags;
    record->max_entries = map->max_entries;
    record->key_size = map->key_size;
    record->value_size = map->value_size;
    bpf_probe_read_kernel(record->name, sizeof(record->name), map->name);
    record->entries = CLIBBPF_ENTRIES_UNCOUNTED;
}

/* A ring buffer's bytes produced and not yet consumed: its `entries`, against max_entries, its
 * size in bytes. Read the same way by every program. */
static __s64 ring_pending(struct bpf_map *map)
{
    struct bpf_ringbuf_map *ring = (void *)((char *)map - bpf_core_field_offset(struct bpf_ringbuf_map, map));
    struct bpf_ringbuf *rb = BPF_CORE_READ(ring, rb);
    unsigned long producer, consumer;

    if (!rb)
        return CLIBBPF_ENTRIES_UNCOUNTED;
    producer = BPF_CORE_READ(rb, producer_pos);
    consumer = BPF_CORE_READ(rb, consumer_pos);
    return producer >= consumer ? (__s64)(producer - consumer) : CLIBBPF_ENTRIES_UNCOUNTED;
}

static int is_hash_family(__u32 type)
{
    switch (type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
        return 1;
    }
    return 0;
}

#ifdef SHIPPER_KFUNC
/* Linux >= 6.6. Sums the per-CPU element counters the kernel keeps for hash maps. A kernel
 * without it refuses to load this object, and the collector loads the plain one. */
extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

static __s64 count_hash(struct bpf_map *map)
{
    return bpf_map_sum_elem_count(map);
}

/* Counting costs next to nothing here: every map is counted. */
static int skipped(__u32 id)
{
    return 0;
}
#else
/* Before 6.6 the kernel keeps no element count of a preallocated hash map, so the program reads
 * the table itself: under RCU, without the buckets' locks, with bpf_probe_read_kernel (a fault is
 * an error, never a crash), and the layout of `struct bpf_htab` relocated by CO-RE. A preallocated
 * non-LRU map is counted from its element array (scan_elements, below), a small map without
 * preallocation from the kernel's counter (read_counter); any other by walking its buckets: the
 * elements linked from each, as a lookup would find them.
 *
 * The walk's cost grows with the buckets (the capacity rounded up to a power of two) and the elements,
 * but stays in the kernel: no key or value is copied out. A preallocated element may be freed and
 * reused in another bucket while the walk follows it; the list then ends on another bucket's
 * "nulls" marker, and the bucket is walked again, as the kernel's own lookup does. Anything the
 * walk cannot vouch for (too many buckets for one bpf_loop, a chain longer than any a hash table
 * keeps, a bucket that keeps changing) leaves the map uncounted, and user space counts it. */
#define WALK_MAX_BUCKETS (1U << 23) /* bpf_loop's limit, in buckets or in runs of buckets */
#define WALK_MAX_CHAIN 64
#define WALK_ATTEMPTS 4
/* Buckets read at once where a bucket is the usual 16 bytes with its list head first (no lock
 * debugging): one bpf_probe_read_kernel of 256 bytes instead of 16 of 8. */
#define RUN_BUCKETS 16
#define RUN_STRIDE 16
#define SKIP_MAX_MAPS 65536

struct bucket_walk {
    const char *buckets;
    __u64 stride;
    __u64 first;  /* offset of a bucket's first node */
    __u64 next;   /* offset of a node's next pointer */
    __s64 count;
    int failed;
};

/* Adds the elements listed from `node`, the first node of bucket `index`, and returns 0; or
 * returns 1 when the list cannot be vouched for. A list ends on an odd "nulls" value that holds
 * the bucket's index (INIT_HLIST_NULLS_HEAD(head, index) in htab_init_buckets).
 * Global, so that the verifier checks it once rather than at each of its callers' iterations:
 * inlined into count_run's loop, it took Linux 6.18 half a million instructions and 10 s. */
__noinline int count_list(struct bucket_walk *walk, __u64 node, __u32 index)
{
    if (!walk)
        return 1;
    for (int attempt = 0; attempt < WALK_ATTEMPTS; attempt++) {
        __s64 found = 0;

        if (attempt > 0 &&
            bpf_probe_read_kernel(&node, sizeof(node), walk->buckets + index * walk->stride + walk->first))
            return 1;
        for (int hop = 0; hop < WALK_MAX_CHAIN && !(node & 1); hop++) {
            found++;
            if (bpf_probe_read_kernel(&node, sizeof(node), (const char *)node + walk->next))
                return 1;
        }
        if (!(node & 1))
            return 1;
        if (node >> 1 == index) {
            walk->count += found;
            return 0;
        }
    }
    return 1;
}

/* bpf_loop's callback for any bucket layout: one bucket. */
static long count_bucket(__u32 index, void *context)
{
    struct bucket_walk *walk = context;
    __u64 node;

    if (bpf_probe_read_kernel(&node, sizeof(node), walk->buckets + index * walk->stride + walk->first) ||
        count_list(walk, node, index)) {
        walk->failed = 1;
        return 1;
    }
    return 0;
}

/* bpf_loop's callback for the usual layout: a run of RUN_BUCKETS buckets. Empty buckets, most of
 * a sparse table, cost no further read. */
static long count_run(__u32 run, void *context)
{
    struct bucket_walk *walk = context;
    __u64 heads[RUN_BUCKETS * RUN_STRIDE / sizeof(__u64)];
    __u32 index = run * RUN_BUCKETS;

    if (bpf_probe_read_kernel(heads, sizeof(heads), walk->buckets + (__u64)index * RUN_STRIDE))
        goto failed;
    for (int i = 0; i < RUN_BUCKETS; i++) {
        __u64 node = heads[i * RUN_STRIDE / sizeof(__u64)];

        if (!(node & 1) || node >> 1 != index + i) {
            if (count_list(walk, node, index + i))
                goto failed;
        }
    }
    return 0;
failed:
    walk->failed = 1;
    return 1;
}

/* A preallocated hash map (the default) keeps every element in one array, `elems`, and the walk
 * above touches each element in use at a random address: in a qemu guest that is most of its
 * cost. Reading the array in order is far cheaper, and the element's second word tells whether it
 * is in use: the union of hash_node.pprev and the free list's fnode.next (struct htab_elem).
 *   in use: pprev points at the bucket's list head, or at the previous element's start (its
 *           hash_node.next), so it lies in `buckets` at a bucket's start or in `elems` at an
 *           element's start;
 *   free:   fnode.next points 8 bytes into another element, or is NULL; a deleted element holds
 *           LIST_POISON2 until the free list takes it; the per-CPU spare elements hold either.
 * LRU maps are left to the walk: their batch delete reuses the same word for a list of elements to
 * free (batch_flink), which points at an element's start and would read as "in use". */
#define SCAN_BYTES 4096
#define SCAN_MAX_PER_RUN (SCAN_BYTES / 16) /* a htab_elem is larger than 16 bytes */
#define SCAN_MAX_RUNS (1U << 23)           /* bpf_loop's limit */

struct scan_scratch {
    __u64 owner;
    __u8 bytes[SCAN_BYTES];
};

/* Room for one run of elements. Per CPU, but a program can be preempted on its CPU by another
 * reader of this iterator: each run marks the scratch as its own and checks the mark afterwards. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct scan_scratch);
} shipper_scratch SEC(".maps");

struct element_scan {
    const char *elems;
    __u64 elem_size;
    __u64 elements;
    __u64 per_run;
    __u64 buckets;
    __u64 buckets_size;
    __u64 stride;
    __u64 pprev;  /* offset of an element's hash_node.pprev */
    /* elem_size = odd << shift; inverse * odd == 1 (mod 2^64); limit = U64_MAX / odd. */
    __u64 shift;
    __u64 inverse;
    __u64 limit;
    __u64 owner;
    __s64 count;
    int failed;
};

/* Whether `offset` is a multiple of elem_size, without a division, which costs a qemu guest ten
 * times a multiplication: n is a multiple of an odd d exactly when n * d^-1 (mod 2^64) is at most
 * U64_MAX / d (Granlund and Montgomery, "Division by invariant integers using multiplication"). */
static int element_start(struct element_scan *scan, __u64 offset)
{
    return (offset & ((1ULL << scan->shift) - 1)) == 0 && (offset >> scan->shift) * scan->inverse <= scan->limit;
}

/* Fills shift, inverse and limit for element_start; 0 on success. */
static int prepare_division(struct element_scan *scan)
{
    __u64 odd = scan->elem_size, inverse;

    for (int i = 0; i < 16 && odd && !(odd & 1); i++) {
        odd >>= 1;
        scan->shift++;
    }
    if (!(odd & 1))
        return 1;
    /* Newton's iteration doubles the correct low bits: 3 (odd * odd == 1 mod 8), then 6 ... 96. */
    inverse = odd;
    for (int i = 0; i < 5; i++)
        inverse *= 2 - odd * inverse;
    scan->inverse = inverse;
    scan->limit = ~0ULL / odd;
    return 0;
}

/* Whether the element whose second word is `pprev` is in use. Global, as count_list is: the verifier
 * then sees a count that grows by an unknown amount, which settles, instead of one that grows by 0
 * or 1 per element. */
__noinline int in_use(struct element_scan *scan, __u64 pprev)
{
    __u64 in_buckets, in_elems;

    if (!scan)
        return 0;
    in_buckets = pprev - scan->buckets;
    in_elems = pprev - (__u64)scan->elems;
    if (in_buckets < scan->buckets_size)
        return (in_buckets & (scan->stride - 1)) == 0;
    if (in_elems < scan->elements * scan->elem_size)
        return element_start(scan, in_elems);
    return 0;
}

/* bpf_loop's callback: one run of up to per_run elements, read at once. */
static long scan_run(__u32 run, void *context)
{
    struct element_scan *scan = context;
    __u32 zero = 0;
    struct scan_scratch *scratch = bpf_map_lookup_elem(&shipper_scratch, &zero);
    __u64 first = (__u64)run * scan->per_run, count, size;

    if (!scratch || first >= scan->elements)
        goto failed;
    count = scan->elements - first < scan->per_run ? scan->elements - first : scan->per_run;
    size = count * scan->elem_size;
    if ((run > 0 && scratch->owner != scan->owner) || size > SCAN_BYTES)
        goto failed;
    scratch->owner = scan->owner;
    if (bpf_probe_read_kernel(scratch->bytes, size, scan->elems + first * scan->elem_size))
        goto failed;
    for (__u32 i = 0; i < SCAN_MAX_PER_RUN && i < count; i++) {
        __u64 offset = i * scan->elem_size + scan->pprev;

        /* Opaque to the compiler, so that the bound below is checked on the register that is then
         * added to the pointer: Linux 6.1's verifier loses a bound checked on a copy. */
        barrier_var(offset);
        if (offset > SCAN_BYTES - 8)
            goto failed;
        scan->count += in_use(scan, *(__u64 *)(scratch->bytes + offset));
    }
    return 0;
failed:
    scan->failed = 1;
    return 1;
}

/* Whether the scratch still holds this scan's last run: another reader may have used it. */
static int scratch_kept(struct element_scan *scan)
{
    __u32 zero = 0;
    struct scan_scratch *scratch = bpf_map_lookup_elem(&shipper_scratch, &zero);

    return scratch && scratch->owner == scan->owner;
}

/* Counts a preallocated, non-LRU hash map from its element array; CLIBBPF_ENTRIES_UNCOUNTED where
 * the map is not one, or the scan cannot vouch for its count. */
static __noinline __s64 scan_elements(struct bpf_htab *htab, __u32 type, __u32 flags)
{
    struct element_scan scan = {
        .elems = BPF_CORE_READ(htab, elems),
        .elem_size = BPF_CORE_READ(htab, elem_size),
        .buckets = (__u64)BPF_CORE_READ(htab, buckets),
        .buckets_size = (__u64)BPF_CORE_READ(htab, n_buckets) * bpf_core_type_size(struct bucket),
        .stride = bpf_core_type_size(struct bucket),
        .pprev = bpf_core_field_offset(struct hlist_nulls_node, pprev),
        .owner = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32(),
    };
    __u64 runs;

    if ((flags & BPF_F_NO_PREALLOC) || type == BPF_MAP_TYPE_LRU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
        !scan.elems || !scan.buckets || possible_cpus == 0 || scan.elem_size <= 16 || scan.elem_size > SCAN_BYTES ||
        (scan.stride & (scan.stride - 1)) != 0 || prepare_division(&scan) ||
        bpf_core_field_offset(struct bucket, head) + bpf_core_field_offset(struct hlist_nulls_head, first) != 0)
        return CLIBBPF_ENTRIES_UNCOUNTED;
    /* One spare element per possible CPU where the map is neither per-CPU nor LRU
     * (htab_has_extra_elems). */
    scan.elements = BPF_CORE_READ(&htab->map, max_entries) + (type == BPF_MAP_TYPE_PERCPU_HASH ? 0 : possible_cpus);
    scan.per_run = SCAN_BYTES / scan.elem_size;
    runs = (scan.elements + scan.per_run - 1) / scan.per_run;
    if (runs > SCAN_MAX_RUNS || bpf_loop(runs, scan_run, &scan, 0) != runs || scan.failed || !scratch_kept(&scan))
        return CLIBBPF_ENTRIES_UNCOUNTED;
    return scan.count;
}

/* Counts any hash table by walking its buckets; CLIBBPF_ENTRIES_UNCOUNTED where it cannot vouch
 * for the count. Not inlined, as scan_elements is not: each keeps its state in its own stack frame. */
static __noinline __s64 walk_buckets(struct bpf_htab *htab)
{
    struct bucket_walk walk = {
        .buckets = (const char *)BPF_CORE_READ(htab, buckets),
        .stride = bpf_core_type_size(struct bucket),
        .first = bpf_core_field_offset(struct bucket, head) + bpf_core_field_offset(struct hlist_nulls_head, first),
        .next = bpf_core_field_offset(struct hlist_nulls_node, next),
    };
    __u32 buckets = BPF_CORE_READ(htab, n_buckets);
    long walked;

    if (!walk.buckets || buckets == 0)
        return CLIBBPF_ENTRIES_UNCOUNTED;
    /* n_buckets is a power of two, so runs cover the table exactly. */
    if (walk.stride == RUN_STRIDE && walk.first == 0 && buckets % RUN_BUCKETS == 0 &&
        buckets / RUN_BUCKETS <= WALK_MAX_BUCKETS) {
        walked = bpf_loop(buckets / RUN_BUCKETS, count_run, &walk, 0);
        buckets /= RUN_BUCKETS;
    } else if (buckets <= WALK_MAX_BUCKETS) {
        walked = bpf_loop(buckets, count_bucket, &walk, 0);
    } else {
        return CLIBBPF_ENTRIES_UNCOUNTED;
    }
    if (walked != buckets || walk.failed)
        return CLIBBPF_ENTRIES_UNCOUNTED;
    return walk.count;
}

/* A map without preallocation: the kernel's own element counter, where it is one exact atomic
 * (before 6.1, and from 6.1 for maps of up to 64 elements per CPU). A larger map's per-CPU counter
 * is summed in batches of 32 per CPU, inexact, and its per-CPU part cannot be read without the
 * __percpu type tags that Debian's (gcc-built) kernels lack: the buckets are walked instead. */
static __noinline __s64 read_counter(struct bpf_htab *htab)
{
    int count;

    if (!bpf_core_field_exists(htab->count) ||
        (bpf_core_field_exists(htab->use_percpu_counter) && BPF_CORE_READ(htab, use_percpu_counter)))
        return CLIBBPF_ENTRIES_UNCOUNTED;
    count = BPF_CORE_READ(htab, count.counter);
    return count >= 0 ? count : CLIBBPF_ENTRIES_UNCOUNTED;
}

static __s64 count_hash(struct bpf_map *map)
{
    struct bpf_htab *htab = (void *)((char *)map - bpf_core_field_offset(struct bpf_htab, map));
    __s64 counted = (map->map_flags & BPF_F_NO_PREALLOC) ? read_counter(htab)
                                                         : scan_elements(htab, map->map_type, map->map_flags);

    return counted != CLIBBPF_ENTRIES_UNCOUNTED ? counted : walk_buckets(htab);
}

/* The ids of the maps the collector's filter leaves out: the walk skips them, so that a filtered
 * map costs nothing. Written by user space (clibbpf_iterator_skip). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, SKIP_MAX_MAPS);
    __type(key, __u32);
    __type(value, __u8);
} shipper_skip SEC(".maps");

static int skipped(__u32 id)
{
    return bpf_map_lookup_elem(&shipper_skip, &id) != NULL;
}

/* For 5.8 to 5.16, which have the iterator but not bpf_loop: lists every map, counts none. */
SEC("iter/bpf_map")
int list_map_records(struct bpf_iter__bpf_map *ctx)
{
    struct bpf_map *map = ctx->map;
    struct clibbpf_map_record record = {};

    if (!map)
        return 0;
    describe(&record, map);
    if (record.type == BPF_MAP_TYPE_RINGBUF)
        record.entries = ring_pending(map);
    bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
    return 0;
}
#endif

SEC("iter/bpf_map")
int dump_map_records(struct bpf_iter__bpf_map *ctx)
{
    struct bpf_map *map = ctx->map;
    struct clibbpf_map_record record = {};

    if (!map)
        return 0;
    describe(&record, map);
    if (is_hash_family(record.type) && !skipped(record.id))
        record.entries = count_hash(map);
    else if (record.type == BPF_MAP_TYPE_RINGBUF)
        record.entries = ring_pending(map);
    bpf_seq_write(ctx->meta->seq, &record, sizeof(record));
    return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
