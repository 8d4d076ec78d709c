/* What every attached iterator's link does: run the iterator once into a buffer, and say which
 * program it runs. */
#include "CLibBPF.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

int32_t clibbpf_link_read(int32_t link_fd, uint8_t *buffer, size_t capacity, size_t *length)
{
    int fd = bpf_iter_create(link_fd);
    size_t used = 0;
    int err = 0;

    if (fd < 0)
        return fd;
    for (;;) {
        ssize_t got;

        if (used == capacity) {
            err = -ENOSPC;
            break;
        }
        got = read(fd, buffer + used, capacity - used);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            break;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    close(fd);
    *length = used;
    return err;
}

int32_t clibbpf_link_prog_id(int32_t link_fd, uint32_t *id)
{
    struct bpf_link_info info;
    __u32 length = sizeof(info);
    int err;

    memset(&info, 0, sizeof(info));
    err = bpf_obj_get_info_by_fd(link_fd, &info, &length);
    if (err)
        return err;
    *id = info.prog_id;
    return 0;
}
