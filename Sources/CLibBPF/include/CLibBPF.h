/* The plain C API Swift sees over libbpf. Every function returns 0 (or a documented
 * non-negative value) on success and -errno on failure; no libbpf type crosses this line. */
#ifndef CLIBBPF_H
#define CLIBBPF_H

#include <stddef.h>
#include <stdint.h>

#include "clibbpf_holder_record.h"
#include "clibbpf_loss_record.h"
#include "clibbpf_map_record.h"

/* libbpf's own messages. Levels: 0 warning, 1 info, 2 debug (libbpf_print_level). */
typedef void (*clibbpf_log_sink)(int32_t level, const char *message);
void clibbpf_set_log_sink(clibbpf_log_sink sink);

/* The loaded and attached bpf_map iterator. Owned by one thread at a time. */
typedef struct clibbpf_iterator clibbpf_iterator;

/* The iterator programs, best first. Each kernel gets the first one it accepts. */
enum clibbpf_program {
    /* Counts the hash family with the kfunc bpf_map_sum_elem_count (Linux >= 6.6). */
    CLIBBPF_PROGRAM_KFUNC = 0,
    /* Counts the hash family by reading its tables with bpf_loop (Linux >= 5.17). */
    CLIBBPF_PROGRAM_HTAB = 1,
    /* Lists every map and counts none (Linux >= 5.8). */
    CLIBBPF_PROGRAM_LIST = 2,
};

/* Loads the iterator and attaches it, in a short-lived child process when one can be made
 * (libbpf's memory for the load then stays out of this one): the first clibbpf_program from
 * `first` on that the kernel accepts (tests start further down to check the older kernels' paths
 * here). Fails on kernels without iter/bpf_map or BTF, with the error of `first`. */
int32_t clibbpf_iterator_open(clibbpf_iterator **out, int32_t first);
/* The clibbpf_program that was loaded. */
int32_t clibbpf_iterator_program(const clibbpf_iterator *iterator);
/* Whether the hash table read leaves the map with this id alone (skip 1) or walks it (skip 0): the
 * maps the user filtered out cost nothing to walk. A no-op (0) for the other programs.
 * -E2BIG: the skip map is full, and the map stays walked. */
int32_t clibbpf_iterator_skip(clibbpf_iterator *iterator, uint32_t map_id, int32_t skip);
/* The skip map's id, for tests; -ENOENT where the program has none. */
int32_t clibbpf_iterator_skip_map_id(const clibbpf_iterator *iterator, uint32_t *id);
/* 1 if the child process loaded it, 0 if this one had to. */
int32_t clibbpf_iterator_loaded_by_child(const clibbpf_iterator *iterator);
void clibbpf_iterator_close(clibbpf_iterator *iterator);
/* The iterator's link, owned by it: clibbpf_link_read runs it and copies every
 * clibbpf_map_record. */
int32_t clibbpf_iterator_link_fd(const clibbpf_iterator *iterator);

/* Any attached iterator, by its link (iter_link.c): runs it once and copies what it writes into
 * `buffer` (-ENOSPC: it did not fit; call again with a larger buffer); and the id of its program,
 * which with the maps it uses is the shipper's own, left out of what it reports unless asked. */
int32_t clibbpf_link_read(int32_t link_fd, uint8_t *buffer, size_t capacity, size_t *length);
int32_t clibbpf_link_prog_id(int32_t link_fd, uint32_t *id);

/* Loads and attaches the holders iterator (iter/task_file, Linux >= 5.8 with BTF and
 * /proc/kallsyms), in a short-lived child process when one can be made: `*link_fd` is its link,
 * read with clibbpf_link_read into clibbpf_holder_records; close it with clibbpf_close. */
int32_t clibbpf_holders_open(int32_t *link_fd);

/* Map enumeration and description through bpf(2). -ENOENT means "no more" or "gone". */
int32_t clibbpf_map_next_id(uint32_t after, uint32_t *next);
/* Returns a file descriptor for the map with this id, or -errno. */
int32_t clibbpf_map_open(uint32_t id);
/* Fills `record` from the map's info; `entries` is left at CLIBBPF_ENTRIES_UNCOUNTED. */
int32_t clibbpf_map_describe(int32_t fd, struct clibbpf_map_record *record);
/* Counts elements with BPF_MAP_LOOKUP_BATCH. -EINVAL or -ENOTSUP: the type has no batch operations. */
int32_t clibbpf_map_count_batch(int32_t fd, const struct clibbpf_map_record *map, uint64_t *count);
/* Counts elements by walking keys with BPF_MAP_GET_NEXT_KEY, reading at most `max_keys` keys.
 * -E2BIG: the bound was reached. -EAGAIN: the walk restarted (concurrent deletes) and was abandoned. */
int32_t clibbpf_map_count_walk(int32_t fd, const struct clibbpf_map_record *map, uint64_t max_keys, uint64_t *count);
/* The kernel's memory accounting for a map or a program: the `memlock` line of /proc/self/fdinfo. */
int32_t clibbpf_fd_memory(int32_t fd, uint64_t *bytes);

/* For a file on bpffs: 1 and the map's id if it pins a map, 0 if it pins another kind of object. */
int32_t clibbpf_pinned_map_id(const char *path, uint32_t *id);

/* What the kernel says of one loaded program (bpf_prog_info, and fdinfo's memlock). */
struct clibbpf_prog_record {
    uint32_t id;
    uint32_t type;
    /* NUL-terminated; the kernel keeps 15 characters (clibbpf_prog_full_name has the rest). */
    char name[16];
    uint8_t tag[8];
    /* Both count only while run-time statistics are enabled (kernel.bpf_stats_enabled, or a
     * clibbpf_enable_stats descriptor held by anyone). */
    uint64_t run_time_ns;
    uint64_t run_count;
    uint64_t recursion_misses;
    uint64_t memlock;
    uint32_t verified_insns;
    /* CLIBBPF_PROG_HAS_* bits: which of the fields above this kernel reports. */
    uint32_t known;
};
#define CLIBBPF_PROG_HAS_RECURSION_MISSES 1u /* Linux 5.12 */
#define CLIBBPF_PROG_HAS_VERIFIED_INSNS 2u /* Linux 5.16 */
#define CLIBBPF_PROG_HAS_MEMLOCK 4u

/* Program enumeration. -ENOENT: the program is gone. -ENOSPC: the program uses more maps than
 * `capacity`; *count says how many. */
int32_t clibbpf_prog_next_id(uint32_t after, uint32_t *next);
int32_t clibbpf_prog_describe(uint32_t id, struct clibbpf_prog_record *record, uint32_t *map_ids, uint32_t capacity,
                              uint32_t *count);
/* The type's name as bpftool spells it (socket_filter, xdp, ...); NULL for a type newer than libbpf. */
const char *clibbpf_prog_type_name(uint32_t type);
/* Turns the kernel's per-program run-time statistics on while the returned descriptor is open
 * (BPF_ENABLE_STATS; close it with clibbpf_close), or -errno. Each program run then costs two
 * clock reads. */
int32_t clibbpf_enable_stats(void);
/* The program's full name from the BTF record of its function (func_info), as bpftool shows it:
 * the kernel's own name field stops at 15 characters. -ENOENT: the program carries no BTF name. */
int32_t clibbpf_prog_full_name(uint32_t id, char *name, size_t capacity);

/* One BPF link: which program it attaches, and where, as far as the kernel says. */
struct clibbpf_link_record {
    uint32_t id;
    uint32_t prog_id;
    /* BPF_LINK_TYPE_* */
    uint32_t type;
    /* BPF_* attach type, or CLIBBPF_ATTACH_UNKNOWN where the link does not say. */
    uint32_t attach_type;
    /* NUL-terminated, empty where the kernel does not say: the iterator's or the raw
     * tracepoint's name, the interface's name (xdp, tcx, netkit), the cgroup's path under
     * /sys/fs/cgroup, "netns <inode>". A fentry/fexit target would need the kernel's BTF. */
    char target[128];
};
#define CLIBBPF_ATTACH_UNKNOWN 0xffffffffu

/* Link enumeration (Linux 5.8). -ENOENT: the link is gone. */
int32_t clibbpf_link_next_id(uint32_t after, uint32_t *next);
int32_t clibbpf_link_describe(uint32_t id, struct clibbpf_link_record *record);
/* As bpftool spells them; NULL for a value newer than libbpf. */
const char *clibbpf_link_type_name(uint32_t type);
const char *clibbpf_attach_type_name(uint32_t type);

void clibbpf_close(int32_t fd);

/* Loss tracking: fexit programs counting, per map id, the writes a map refused because it was
 * full and the entries an LRU map evicted. Owned by one thread at a time. */
typedef struct clibbpf_loss clibbpf_loss;

/* Loads and attaches the programs whose kernel function exists and can be traced (in a short-lived
 * child where one can be made); clibbpf_loss_arm detaches and attaches them again. Fails where the
 * kernel refuses tracing programs (-EPERM), lacks BTF, or has none of the functions. */
int32_t clibbpf_loss_open(clibbpf_loss **out);
/* Attaches the hooks of the map types in `types` (a mask of 1 << BPF_MAP_TYPE_*) and detaches the
 * others, unless the kernel cannot attach a detached hook again (then all stay attached); types not
 * counted here are ignored. 0, or the first -errno (that hook stays detached). */
int32_t clibbpf_loss_arm(clibbpf_loss *loss, uint32_t types);
/* 1 if hooks can be detached and attached again (Linux >= 5.13), 0 if they stay attached. */
int32_t clibbpf_loss_can_detach(const clibbpf_loss *loss);
/* The counted map types whose every hook is attached now, as a mask. */
uint32_t clibbpf_loss_armed(const clibbpf_loss *loss);
/* The ids of the loaded loss programs (HOOKS at most), attached or not: the shipper's own, as
 * are the maps they use. -ENOSPC if `capacity` is too small. */
int32_t clibbpf_loss_prog_ids(const clibbpf_loss *loss, uint32_t *ids, uint32_t capacity, uint32_t *count);
/* The map types whose losses are counted, as a mask of 1 << BPF_MAP_TYPE_*. */
uint32_t clibbpf_loss_types(const clibbpf_loss *loss);
/* Whether a map type's losses can be counted: 0 if every hook it needs attached at load; -errno if one failed
 * to attach (`*function` names it); 1 if the kernel has none of its functions, or it has no hook
 * (`*function` names one, where there is one). */
int32_t clibbpf_loss_type_status(const clibbpf_loss *loss, uint32_t map_type, const char **function);
/* Copies every map's counters into `records`. -ENOSPC: call again with more room. */
int32_t clibbpf_loss_read(clibbpf_loss *loss, struct clibbpf_loss_record *records, size_t capacity, size_t *count);
/* Drops the counters of a map that is gone. */
int32_t clibbpf_loss_forget(clibbpf_loss *loss, uint32_t map_id);
void clibbpf_loss_close(clibbpf_loss *loss);

#endif
