/* See child_loader.h. */
#define _GNU_SOURCE /* close_range */
#include "child_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

int clibbpf_keep_fd(int fd)
{
    int kept = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return kept < 0 ? -errno : kept;
}

void clibbpf_loaded_close(struct clibbpf_loaded *loaded)
{
    for (int i = 0; i < loaded->count; i++)
        close(loaded->fds[i]);
    loaded->count = 0;
}

/* Room for every fd a loader may make, aligned as a cmsghdr must be. */
union fd_control {
    char bytes[CMSG_SPACE(CLIBBPF_LOADED_MAX_FDS * sizeof(int))];
    struct cmsghdr align;
};

/* Sends `loaded`: the fds as SCM_RIGHTS, the rest as the payload. */
static void send_loaded(int socket, struct clibbpf_loaded loaded)
{
    union fd_control control;
    struct iovec payload = {.iov_base = &loaded, .iov_len = sizeof(loaded)};
    struct msghdr message = {.msg_iov = &payload, .msg_iovlen = 1};
    struct cmsghdr *header;

    memset(&control, 0, sizeof(control));
    if (loaded.err == 0 && loaded.count > 0) {
        message.msg_control = control.bytes;
        message.msg_controllen = CMSG_SPACE(loaded.count * sizeof(int));
        header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(loaded.count * sizeof(int));
        memcpy(CMSG_DATA(header), loaded.fds, loaded.count * sizeof(int));
    }
    while (sendmsg(socket, &message, 0) < 0 && errno == EINTR)
        ;
}

/* What send_loaded sent, with the fds numbered as this process received them; -EIO if the child
 * died before sending. */
static struct clibbpf_loaded receive_loaded(int socket)
{
    union fd_control control;
    struct clibbpf_loaded loaded, failed = {.err = -EIO};
    struct iovec payload = {.iov_base = &loaded, .iov_len = sizeof(loaded)};
    struct msghdr message = {
        .msg_iov = &payload, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof(control.bytes)};
    struct cmsghdr *header;
    ssize_t got;

    while ((got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (got != sizeof(loaded) || loaded.count < 0 || loaded.count > CLIBBPF_LOADED_MAX_FDS)
        return failed;
    if (loaded.err != 0 || loaded.count == 0) {
        loaded.count = 0;
        return loaded;
    }
    header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS || header->cmsg_len != CMSG_LEN(loaded.count * sizeof(int)))
        return failed;
    memcpy(loaded.fds, CMSG_DATA(header), loaded.count * sizeof(int));
    return loaded;
}

/* The child gets a copy of every descriptor the parent had open at the fork, close-on-exec or
 * not, since it never execs. A loader needs none of them, and a copy keeps what it refers to in
 * use: a buffer directory's flock stayed taken after the parent closed its queue, and the parent
 * could not open that directory again until the child had loaded its programs (seen as "in use by
 * another ebpf-map-shipper" with the shipper's own pid). So the child closes all but stdio and the
 * socket it answers on, first thing. close_range is Linux 5.9 and later; before, they stay open. */
static void close_inherited(int keep)
{
    if (keep > 3)
        close_range(3, keep - 1, 0);
    close_range(keep + 1, ~0U, 0);
}

static struct clibbpf_loaded load_in_child(clibbpf_loader load, int argument)
{
    struct clibbpf_loaded loaded = {.err = -EIO};
    int sockets[2], status;
    pid_t child;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets)) {
        loaded.err = -errno;
        return loaded;
    }
    child = fork();
    if (child < 0) {
        loaded.err = -errno;
        close(sockets[0]);
        close(sockets[1]);
        return loaded;
    }
    if (child == 0) {
        close_inherited(sockets[1]);
        /* C only from here: another thread of the parent may have held a lock of the Swift
         * runtime at the fork, so libbpf's messages must not reach the Swift log sink. */
        libbpf_set_print(NULL);
        send_loaded(sockets[1], load(argument));
        _exit(0);
    }
    close(sockets[1]);
    loaded = receive_loaded(sockets[0]);
    close(sockets[0]);
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    return loaded;
}

struct clibbpf_loaded clibbpf_load(clibbpf_loader load, int argument, int *in_child)
{
    struct clibbpf_loaded loaded = load_in_child(load, argument);

    *in_child = loaded.err == 0;
    if (loaded.err != 0)
        loaded = load(argument);
    return loaded;
}
