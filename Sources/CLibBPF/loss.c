/* Loss tracking: loads bpf/loss.bpf.c's fexit programs and reads their per-map counters. */
#include "CLibBPF.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "child_loader.h"
#include "loss.skel.h"

/* Each program, the kernel function it hooks, and the map types whose losses it counts. */
static const struct {
    const char *program;
    const char *function;
    uint32_t types;
} hooks[] = {
    {"hash_update", "htab_map_update_elem", 1u << BPF_MAP_TYPE_HASH},
    {"fd_hash_update", "bpf_fd_htab_map_update_elem", 1u << BPF_MAP_TYPE_HASH_OF_MAPS},
    {"percpu_hash_update", "htab_percpu_map_update_elem", 1u << BPF_MAP_TYPE_PERCPU_HASH},
    {"percpu_hash_syscall_update", "bpf_percpu_hash_update", 1u << BPF_MAP_TYPE_PERCPU_HASH},
    {"trie_update", "trie_update_elem", 1u << BPF_MAP_TYPE_LPM_TRIE},
    {"queue_push", "queue_stack_map_push_elem", 1u << BPF_MAP_TYPE_QUEUE | 1u << BPF_MAP_TYPE_STACK},
    {"ringbuf_reserve", "bpf_ringbuf_reserve", 1u << BPF_MAP_TYPE_RINGBUF},
    {"ringbuf_reserve_dynptr", "bpf_ringbuf_reserve_dynptr", 1u << BPF_MAP_TYPE_RINGBUF},
    {"ringbuf_output", "bpf_ringbuf_output", 1u << BPF_MAP_TYPE_RINGBUF},
    {"lru_eviction", "htab_lru_map_delete_node", 1u << BPF_MAP_TYPE_LRU_HASH | 1u << BPF_MAP_TYPE_LRU_PERCPU_HASH},
};

#define HOOKS (sizeof(hooks) / sizeof(hooks[0]))
_Static_assert(HOOKS + 1 <= CLIBBPF_LOADED_MAX_FDS, "the counters' map and every link travel back from the child");

struct clibbpf_loss {
    int map_fd;
    int link_fds[HOOKS];
    int links;
    uint32_t types;
    /* Each hook's outcome: HOOK_ATTACHED, HOOK_ABSENT, or the -errno its attach failed with. */
    int hooks[HOOKS];
    int loaded_by_child;
};

#define HOOK_ATTACHED 0
#define HOOK_ABSENT 1

/* Loads the programs whose function the kernel's BTF names, attaches each, and returns the
 * counters' map (fds[0]) and the links; `details` holds each hook's outcome, and `value` the mask
 * of map types covered: those whose every hook present in this kernel attached. A program that
 * does not attach is left out, and so are its types (a ring buffer counted by one of its three
 * functions only would be counted wrong); if none attaches, the first error. */
static struct clibbpf_loaded load_loss(int unused)
{
    struct clibbpf_loaded result = {.err = -ENOENT};
    struct btf *vmlinux = btf__load_vmlinux_btf();
    struct loss *skeleton;
    int first_error = 0;
    uint32_t attached = 0, failed = 0;

    (void)unused;
    if (!vmlinux) {
        result.err = errno ? -errno : -ENOENT;
        return result;
    }
    skeleton = loss__open();
    if (!skeleton) {
        result.err = errno ? -errno : -EINVAL;
        btf__free(vmlinux);
        return result;
    }
    for (size_t i = 0; i < HOOKS; i++) {
        struct bpf_program *program = bpf_object__find_program_by_name(skeleton->obj, hooks[i].program);
        if (program)
            bpf_program__set_autoload(program, btf__find_by_name_kind(vmlinux, hooks[i].function, BTF_KIND_FUNC) > 0);
    }
    btf__free(vmlinux);
    result.err = loss__load(skeleton);
    if (result.err == 0 && (result.fds[0] = clibbpf_keep_fd(bpf_map__fd(skeleton->maps.shipper_losses))) < 0)
        result.err = result.fds[0];
    if (result.err) {
        loss__destroy(skeleton);
        return result;
    }
    result.count = 1;
    for (size_t i = 0; i < HOOKS; i++) {
        struct bpf_program *program = bpf_object__find_program_by_name(skeleton->obj, hooks[i].program);
        struct bpf_link *link;
        int fd;

        if (!program || !bpf_program__autoload(program)) {
            result.details[i] = HOOK_ABSENT;
            continue;
        }
        link = bpf_program__attach(program);
        fd = link ? clibbpf_keep_fd(bpf_link__fd(link)) : (errno ? -errno : -EINVAL);
        bpf_link__destroy(link);
        if (fd < 0) {
            result.details[i] = fd;
            failed |= hooks[i].types;
            if (!first_error)
                first_error = fd;
            continue;
        }
        result.details[i] = HOOK_ATTACHED;
        result.fds[result.count++] = fd;
        attached |= hooks[i].types;
    }
    result.value = (int)(attached & ~failed);
    loss__destroy(skeleton);
    if (result.count == 1) {
        clibbpf_loaded_close(&result);
        result.err = first_error ? first_error : -ENOENT;
    }
    return result;
}

int32_t clibbpf_loss_open(clibbpf_loss **out)
{
    struct clibbpf_loss *loss = calloc(1, sizeof(*loss));
    struct clibbpf_loaded loaded;
    int in_child;

    if (!loss)
        return -ENOMEM;
    loaded = clibbpf_load(load_loss, 0, &in_child);
    if (loaded.err) {
        free(loss);
        return loaded.err;
    }
    loss->loaded_by_child = in_child;
    loss->map_fd = loaded.fds[0];
    for (int i = 1; i < loaded.count; i++)
        loss->link_fds[loss->links++] = loaded.fds[i];
    loss->types = (uint32_t)loaded.value;
    for (size_t i = 0; i < HOOKS; i++)
        loss->hooks[i] = loaded.details[i];
    *out = loss;
    return 0;
}

uint32_t clibbpf_loss_types(const clibbpf_loss *loss)
{
    return loss->types;
}

int32_t clibbpf_loss_type_status(const clibbpf_loss *loss, uint32_t map_type, const char **function)
{
    int32_t status = 1;

    for (size_t i = 0; i < HOOKS; i++) {
        if (map_type >= 32 || !(hooks[i].types & (1u << map_type)))
            continue;
        if (loss->hooks[i] < 0) {
            *function = hooks[i].function;
            return loss->hooks[i];
        }
        if (loss->hooks[i] == HOOK_ATTACHED)
            status = 0;
        else if (status == 1)
            *function = hooks[i].function;
    }
    return status;
}

int32_t clibbpf_loss_read(clibbpf_loss *loss, struct clibbpf_loss_record *records, size_t capacity, size_t *count)
{
    __u32 key, next;
    __u32 *previous = NULL;
    int err;

    *count = 0;
    while ((err = bpf_map_get_next_key(loss->map_fd, previous, &next)) == 0) {
        struct clibbpf_loss_record *record;

        key = next;
        previous = &key;
        if (*count == capacity)
            return -ENOSPC;
        record = &records[*count];
        memset(record, 0, sizeof(*record));
        record->id = key;
        err = bpf_map_lookup_elem(loss->map_fd, &key, &record->counts);
        if (err == -ENOENT)
            continue; /* removed meanwhile */
        if (err)
            return err;
        (*count)++;
    }
    return err == -ENOENT ? 0 : err;
}

int32_t clibbpf_loss_forget(clibbpf_loss *loss, uint32_t map_id)
{
    int err = bpf_map_delete_elem(loss->map_fd, &map_id);
    return err == -ENOENT ? 0 : err;
}

void clibbpf_loss_close(clibbpf_loss *loss)
{
    if (!loss)
        return;
    for (int i = 0; i < loss->links; i++)
        close(loss->link_fds[i]);
    close(loss->map_fd);
    free(loss);
}
