/* Loading BPF objects in a short-lived child process, for map_iter.c, loss.c and holders.c.
 *
 * To relocate and load a program, libbpf reads the kernel's BTF into memory twice over (about
 * 11 MB on Linux 6.18) and frees it; done in a child, that never becomes the daemon's peak memory.
 * The child sends back what it made as file descriptors (links keep their programs attached, maps
 * stay readable), and the kernel objects outlive it. */
#ifndef CLIBBPF_CHILD_LOADER_H
#define CLIBBPF_CHILD_LOADER_H

#define CLIBBPF_LOADED_MAX_FDS 24

/* What a loader made: `err` 0 and `count` fds, or `err` -errno and no fds. `value` is the
 * loader's own result (which program, which programs). */
struct clibbpf_loaded {
    int err;
    int value;
    int count;
    int fds[CLIBBPF_LOADED_MAX_FDS];
    /* A loader's outcome for each of its parts (loss tracking: each hook), sent back with it. */
    int details[CLIBBPF_LOADED_MAX_FDS];
};

typedef struct clibbpf_loaded (*clibbpf_loader)(int argument);

/* Runs `load(argument)` in a child and returns what it made here. If there is no child, or it
 * failed, runs it here instead, where libbpf's messages reach the log; `*in_child` says which. */
struct clibbpf_loaded clibbpf_load(clibbpf_loader load, int argument, int *in_child);

/* Closes every fd of `loaded`. */
void clibbpf_loaded_close(struct clibbpf_loaded *loaded);

/* A close-on-exec duplicate of `fd`, which outlives the object that owns `fd`; or -errno. */
int clibbpf_keep_fd(int fd);

#endif
