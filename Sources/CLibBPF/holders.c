/* The holders iterator (the only file that includes its generated skeleton): which processes hold
 * a descriptor of each map and program. */
#include "CLibBPF.h"

#include <errno.h>

#include <bpf/libbpf.h>

#include "child_loader.h"
#include "holders.skel.h"

/* Loads and attaches bpf/holders.bpf.c: fds[0] is its link. */
static struct clibbpf_loaded load_holders(int unused)
{
    struct clibbpf_loaded result = {.err = 0};
    struct holders *skeleton = holders__open_and_load();
    struct bpf_link *link;
    int fd;

    (void)unused;
    if (!skeleton) {
        result.err = errno ? -errno : -EINVAL;
        return result;
    }
    link = bpf_program__attach_iter(skeleton->progs.dump_holders, NULL);
    if (!link) {
        result.err = errno ? -errno : -EINVAL;
    } else if ((fd = clibbpf_keep_fd(bpf_link__fd(link))) < 0) {
        result.err = fd;
    } else {
        result.count = 1;
        result.fds[0] = fd;
    }
    bpf_link__destroy(link);
    holders__destroy(skeleton);
    return result;
}

int32_t clibbpf_holders_open(int32_t *link_fd)
{
    int in_child;
    struct clibbpf_loaded loaded = clibbpf_load(load_holders, 0, &in_child);

    if (loaded.err)
        return loaded.err;
    *link_fd = loaded.fds[0];
    return 0;
}
