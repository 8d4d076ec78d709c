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
_Static_assert(2 * HOOKS + 1 <= CLIBBPF_LOADED_MAX_FDS, "the counters' map and every program and link travel back from the child");
_Static_assert(HOOKS + 1 <= CLIBBPF_LOADED_MAX_FDS, "every hook's outcome and the re-attach probe's travel back too");

struct clibbpf_loss {
    int map_fd;
    /* Each hook's program (-1 where it has none), and its link while attached (-1 otherwise). */
    int program_fds[HOOKS];
    int link_fds[HOOKS];
    uint32_t types;
    /* Each hook's outcome at load: HOOK_ABSENT, HOOK_LOADED, or the -errno its attach failed with. */
    int hooks[HOOKS];
    /* Whether a detached hook can be attached again (Linux >= 5.13); if not, none is detached. */
    int can_reattach;
    int loaded_by_child;
};

#define HOOK_ABSENT 0
#define HOOK_LOADED 1

/* Whether this kernel attaches a tracing program again after its link is gone: attaches the
 * probe, detaches it and attaches it once more. */
static int probe_reattach(struct loss *skeleton)
{
    for (int round = 0; round < 2; round++) {
        struct bpf_link *link = bpf_program__attach(skeleton->progs.reattach_probe);
        if (!link)
            return 0;
        bpf_link__destroy(link);
    }
    return 1;
}

/* Loads the programs whose function the kernel's BTF names and attaches each, which also learns
 * whether the kernel lets it be traced (Linux 6.14 and later refuse the lpm_trie, queue/stack and
 * ringbuf functions with EBUSY: they are built without ftrace). Returns the counters' map (fds[0])
 * and, for each hook that attached, its program and its link, one after the other. `details[i]`
 * holds hook i's outcome: the index in fds of its program, HOOK_ABSENT, or -errno;
 * `details[HOOKS]` whether a detached hook can be attached again; `value` the mask of map types
 * covered: those whose every hook present in this kernel attached. A program that does not attach
 * is left out, and so are its types (a ring buffer counted by one of its three functions only
 * would be counted wrong); if none attaches, the first error. */
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
    bpf_program__set_autoload(skeleton->progs.reattach_probe, bpf_program__autoload(skeleton->progs.hash_update));
    btf__free(vmlinux);
    result.err = loss__load(skeleton);
    if (result.err == 0 && (result.fds[0] = clibbpf_keep_fd(bpf_map__fd(skeleton->maps.shipper_losses))) < 0)
        result.err = result.fds[0];
    if (result.err) {
        loss__destroy(skeleton);
        return result;
    }
    result.count = 1;
    result.details[HOOKS] = bpf_program__autoload(skeleton->progs.reattach_probe) && probe_reattach(skeleton);
    for (size_t i = 0; i < HOOKS; i++) {
        struct bpf_program *program = bpf_object__find_program_by_name(skeleton->obj, hooks[i].program);
        struct bpf_link *link;
        int fd, link_fd;

        result.details[i] = HOOK_ABSENT;
        if (!program || !bpf_program__autoload(program))
            continue;
        link = bpf_program__attach(program);
        fd = link ? clibbpf_keep_fd(bpf_program__fd(program)) : (errno ? -errno : -EINVAL);
        link_fd = fd >= 0 ? clibbpf_keep_fd(bpf_link__fd(link)) : fd;
        bpf_link__destroy(link);
        if (link_fd < 0) {
            if (fd >= 0)
                close(fd);
            result.details[i] = link_fd;
            failed |= hooks[i].types;
            if (!first_error)
                first_error = link_fd;
            continue;
        }
        result.details[i] = result.count;
        result.fds[result.count++] = fd;
        result.fds[result.count++] = link_fd;
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
    loss->types = (uint32_t)loaded.value;
    loss->can_reattach = loaded.details[HOOKS];
    for (size_t i = 0; i < HOOKS; i++) {
        int detail = loaded.details[i];

        loss->program_fds[i] = detail >= 1 ? loaded.fds[detail] : -1;
        loss->link_fds[i] = detail >= 1 ? loaded.fds[detail + 1] : -1;
        loss->hooks[i] = detail >= 1 ? HOOK_LOADED : detail;
    }
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
        if (loss->hooks[i] == HOOK_LOADED)
            status = 0;
        else if (status == 1)
            *function = hooks[i].function;
    }
    return status;
}

int32_t clibbpf_loss_arm(clibbpf_loss *loss, uint32_t types)
{
    int32_t first_error = 0;

    types &= loss->types;
    for (size_t i = 0; i < HOOKS; i++) {
        int wanted = (hooks[i].types & types) != 0 || !loss->can_reattach;

        if (loss->program_fds[i] < 0 || wanted == (loss->link_fds[i] >= 0))
            continue;
        if (!wanted) {
            close(loss->link_fds[i]);
            loss->link_fds[i] = -1;
            continue;
        }
        /* A tracing program's target is fixed at load: this attaches it there (Linux >= 5.5). */
        loss->link_fds[i] = bpf_raw_tracepoint_open(NULL, loss->program_fds[i]);
        if (loss->link_fds[i] < 0) {
            if (!first_error)
                first_error = loss->link_fds[i];
            loss->link_fds[i] = -1;
        }
    }
    return first_error;
}

int32_t clibbpf_loss_can_detach(const clibbpf_loss *loss)
{
    return loss->can_reattach;
}

int32_t clibbpf_loss_prog_ids(const clibbpf_loss *loss, uint32_t *ids, uint32_t capacity, uint32_t *count)
{
    struct bpf_prog_info info;
    __u32 length;
    int err;

    *count = 0;
    for (size_t i = 0; i < HOOKS; i++) {
        if (loss->program_fds[i] < 0)
            continue;
        if (*count == capacity)
            return -ENOSPC;
        memset(&info, 0, sizeof(info));
        length = sizeof(info);
        err = bpf_obj_get_info_by_fd(loss->program_fds[i], &info, &length);
        if (err)
            return err;
        ids[(*count)++] = info.id;
    }
    return 0;
}

uint32_t clibbpf_loss_armed(const clibbpf_loss *loss)
{
    uint32_t armed = loss->types;

    for (size_t i = 0; i < HOOKS; i++)
        if (loss->program_fds[i] >= 0 && loss->link_fds[i] < 0)
            armed &= ~hooks[i].types;
    return armed;
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
    for (size_t i = 0; i < HOOKS; i++) {
        if (loss->link_fds[i] >= 0)
            close(loss->link_fds[i]);
        if (loss->program_fds[i] >= 0)
            close(loss->program_fds[i]);
    }
    close(loss->map_fd);
    free(loss);
}
