/* The few kernel types the iterator reads, declared by hand instead of a full vmlinux.h.
 * preserve_access_index makes every field access a CO-RE relocation, so libbpf fixes the
 * offsets against the running kernel's BTF at load time. */
#ifndef SHIPPER_CORE_TYPES_H
#define SHIPPER_CORE_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;

/* UAPI values: stable across kernels, so plain constants are safe here. */
enum bpf_map_type {
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_PERCPU_HASH = 5,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
    BPF_MAP_TYPE_HASH_OF_MAPS = 13,
    BPF_MAP_TYPE_RINGBUF = 27,
};

#define BPF_F_NO_PREALLOC 1

struct seq_file;

struct bpf_map {
    enum bpf_map_type map_type;
    __u32 key_size;
    __u32 value_size;
    __u32 max_entries;
    __u32 map_flags;
    __u32 id;
    char name[16];
} __attribute__((preserve_access_index));

/* The hash family's table (kernel/bpf/hashtab.c), read by the plain program's counting. The
 * kernel's `struct bpf_htab` begins with the map; `bucket` pairs a list head with its lock. */
struct hlist_nulls_node {
    struct hlist_nulls_node *next;
    struct hlist_nulls_node **pprev;
} __attribute__((preserve_access_index));

struct hlist_nulls_head {
    struct hlist_nulls_node *first;
} __attribute__((preserve_access_index));

struct bucket {
    struct hlist_nulls_head head;
} __attribute__((preserve_access_index));

typedef struct {
    int counter;
} atomic_t;

/* `count` holds the elements of a map without preallocation; from 6.1, only while
 * `use_percpu_counter` is false (small maps). */
struct bpf_htab {
    struct bpf_map map;
    struct bucket *buckets;
    void *elems;
    atomic_t count;
    _Bool use_percpu_counter;
    __u32 n_buckets;
    __u32 elem_size;
} __attribute__((preserve_access_index));

/* A ring buffer map (kernel/bpf/ringbuf.c): what is produced and not yet consumed lies between
 * the two positions, in bytes. */
struct bpf_ringbuf {
    unsigned long consumer_pos;
    unsigned long producer_pos;
} __attribute__((preserve_access_index));

struct bpf_ringbuf_map {
    struct bpf_map map;
    struct bpf_ringbuf *rb;
} __attribute__((preserve_access_index));

struct bpf_iter_meta {
    struct seq_file *seq;
    __u64 session_id;
    __u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__bpf_map {
    struct bpf_iter_meta *meta;
    struct bpf_map *map;
} __attribute__((preserve_access_index));

/* What the holders iterator reads (bpf/holders.bpf.c): a task, its open files, and the objects
 * behind a BPF map's, program's or link's file. */
struct bpf_prog_aux {
    __u32 id;
} __attribute__((preserve_access_index));

struct bpf_prog {
    struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

struct bpf_link {
    struct bpf_prog *prog;
} __attribute__((preserve_access_index));

struct super_block {
    unsigned long s_magic;
} __attribute__((preserve_access_index));

struct inode {
    struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct qstr {
    const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
    struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
    struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
    struct path f_path;
    struct inode *f_inode;
    void *private_data;
} __attribute__((preserve_access_index));

struct task_struct {
    int pid;
    int tgid;
    struct task_struct *group_leader;
    char comm[16];
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
    struct bpf_iter_meta *meta;
    struct task_struct *task;
    __u32 fd;
    struct file *file;
} __attribute__((preserve_access_index));

#endif
