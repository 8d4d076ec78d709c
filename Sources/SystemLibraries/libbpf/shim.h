/* Debian's libbpf-dev; only Sources/CLibBPF/map_iter.c includes these headers. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
