/* The plain C API Swift sees over libbpf. Every function returns 0 (or a documented
 * non-negative value) on success and -errno on failure; no libbpf type crosses this line. */
#ifndef CLIBBPF_H
#define CLIBBPF_H

#include <stddef.h>
#include <stdint.h>

#include "clibbpf_map_record.h"

/* libbpf's own messages. Levels: 0 warning, 1 info, 2 debug (libbpf_print_level). */
typedef void (*clibbpf_log_sink)(int32_t level, const char *message);
void clibbpf_set_log_sink(clibbpf_log_sink sink);

/* The loaded and attached bpf_map iterator. Owned by one thread at a time. */
typedef struct clibbpf_iterator clibbpf_iterator;

/* Loads the iterator program and attaches it, in a short-lived child process when one can be made
 * (libbpf's memory for the load then stays out of this one): the one that counts the hash family
 * with the kfunc (Linux >= 6.6), else (or with `plain_only`) the plain one that only lists maps
 * (Linux >= 5.8). Fails on kernels without iter/bpf_map or BTF. */
int32_t clibbpf_iterator_open(clibbpf_iterator **out, int32_t plain_only);
/* 1 if the loaded program counts the hash family (the kfunc), 0 if it only lists maps. */
int32_t clibbpf_iterator_counts(const clibbpf_iterator *iterator);
/* 1 if the child process loaded it, 0 if this one had to. */
int32_t clibbpf_iterator_loaded_by_child(const clibbpf_iterator *iterator);
void clibbpf_iterator_close(clibbpf_iterator *iterator);
/* Runs the iterator once and copies every clibbpf_map_record into `buffer`.
 * -ENOSPC: the records did not fit; call again with a larger buffer. */
int32_t clibbpf_iterator_read(clibbpf_iterator *iterator, uint8_t *buffer, size_t capacity, size_t *length);

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
/* The kernel's memory accounting for the map: the `memlock` line of /proc/self/fdinfo. */
int32_t clibbpf_map_memory(int32_t fd, uint64_t *bytes);

/* For a file on bpffs: 1 and the map's id if it pins a map, 0 if it pins another kind of object. */
int32_t clibbpf_pinned_map_id(const char *path, uint32_t *id);

/* Program enumeration. `name` receives the NUL-terminated program name (16 bytes).
 * -ENOSPC: the program uses more maps than `capacity`; *count says how many. */
int32_t clibbpf_prog_next_id(uint32_t after, uint32_t *next);
int32_t clibbpf_prog_describe(uint32_t id, char name[16], uint32_t *map_ids, uint32_t capacity, uint32_t *count);
/* The program's full name from the BTF record of its function (func_info), as bpftool shows it:
 * the kernel's own name field stops at 15 characters. -ENOENT: the program carries no BTF name. */
int32_t clibbpf_prog_full_name(uint32_t id, char *name, size_t capacity);

void clibbpf_close(int32_t fd);

#endif
