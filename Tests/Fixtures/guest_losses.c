/* Makes maps lose data inside the guest, for the loss-tracking tests: writes into full maps from
 * bpf(2) and from BPF programs (run with BPF_PROG_TEST_RUN), and fills an LRU map past capacity.
 * It counts what the writers themselves saw fail, prints one line per map, then "ready", and holds
 * the maps until killed:
 *   loss <name> <id> <type> <insert failures the writers saw, or -> <evictions, or ->
 * Each SIGUSR1 writes 10 more new keys into the full l_hash and prints "again <failures so far>".
 *
 * With `--gradual` it fills its d_ maps the way maps fill in service, for `auto` loss tracking,
 * one step per SIGUSR2: it makes them empty and prints "created"; fills d_hash and d_prog to 95 of
 * 100 and d_ring past half and prints "filled"; then writes past capacity, prints the loss lines
 * and "overflowed", and holds the maps until killed.
 *
 * With `--bench N` it times map updates instead, for bench/loss, and prints tab-separated lines
 * "<path>\t<ns per update>": N updates of an existing key and N refused inserts into a full map,
 * each through bpf(2) and from a BPF program (BPF_PROG_TEST_RUN with repeat N, timed by the kernel),
 * N inserts of random keys from a program into a full LRU map, each of which evicts one entry on
 * average, and N 64-byte records a program writes into a ring buffer with room for all of them.
 * Build: cc -static -O2 -o guest_losses guest_losses.c (guest_bpf.h beside it)
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "guest_bpf.h"

/* A write through bpf(2): 0, or -errno. */
static int write_key(int fd, const void *key, const void *value, uint64_t flags)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = (uintptr_t)key;
    attr.value = (uintptr_t)value;
    attr.flags = flags;
    return bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0 ? -errno : 0;
}

/* Elements in a map, by BPF_MAP_GET_NEXT_KEY. */
static unsigned count_keys(int fd)
{
    uint32_t key, next;
    unsigned count = 0;
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.next_key = (uintptr_t)&next;
    while (bpf(BPF_MAP_GET_NEXT_KEY, &attr) == 0) {
        key = next;
        attr.key = (uintptr_t)&key;
        count++;
    }
    return count;
}

/* One run; returns its r0. */
static int32_t run_program(int fd)
{
    return test_run(fd, 1, NULL);
}

static void report(const char *name, int fd, const char *type, long failures, long evictions)
{
    char f[32] = "-", e[32] = "-";
    if (failures >= 0)
        snprintf(f, sizeof(f), "%ld", failures);
    if (evictions >= 0)
        snprintf(e, sizeof(e), "%ld", evictions);
    printf("loss %s %u %s %s %s\n", name, id_of(fd), type, f, e);
}

/* A program that writes key `key` (value zero) into `map` and returns the helper's result. */
static int update_program(int map, int32_t key)
{
    struct bpf_insn insns[] = {
        INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, key), STORE_DW_ZERO(-16), LD_MAP_FD(BPF_REG_1, map),
        STACK_POINTER(BPF_REG_2, -4), STACK_POINTER(BPF_REG_3, -16), MOV_IMM(BPF_REG_4, BPF_ANY),
        CALL(BPF_FUNC_map_update_elem), EXIT,
    };
    return load_program(insns, sizeof(insns) / sizeof(insns[0]));
}

/* A program that writes `size` zero bytes into ring buffer `ring` and returns the helper's result. */
static int ring_writer(int ring, int32_t size)
{
    struct bpf_insn output[] = {
        STORE_DW_ZERO(-8), STORE_DW_ZERO(-16), STORE_DW_ZERO(-24), STORE_DW_ZERO(-32), STORE_DW_ZERO(-40),
        STORE_DW_ZERO(-48), STORE_DW_ZERO(-56), STORE_DW_ZERO(-64), LD_MAP_FD(BPF_REG_1, ring),
        STACK_POINTER(BPF_REG_2, -64), MOV_IMM(BPF_REG_3, size), MOV_IMM(BPF_REG_4, 0), CALL(BPF_FUNC_ringbuf_output),
        EXIT,
    };
    return load_program(output, sizeof(output) / sizeof(output[0]));
}

/* Nanoseconds per run of the program, `runs` runs timed by the kernel. */
static double time_program(int program, uint32_t runs)
{
    double duration;
    test_run(program, runs, &duration);
    return duration;
}

/* Nanoseconds per bpf(2) write of `key`, `runs` writes. */
static double time_syscall(int map, uint32_t key, uint32_t runs)
{
    uint8_t value[8] = {0};
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint32_t i = 0; i < runs; i++)
        write_key(map, &key, value, BPF_ANY);
    clock_gettime(CLOCK_MONOTONIC, &end);
    return ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / runs;
}

static _Noreturn void bench(uint32_t runs)
{
    uint8_t value[8] = {0};
    int map = create(BPF_MAP_TYPE_HASH, "lb_hash", 4, 8, 1024, 0, 0);
    int full = create(BPF_MAP_TYPE_HASH, "lb_full", 4, 8, 4, 0, 0);
    for (uint32_t k = 0; k < 4; k++) {
        write_key(map, &k, value, BPF_ANY);
        write_key(full, &k, value, BPF_ANY);
    }
    printf("syscall, existing key\t%.1f\n", time_syscall(map, 1, runs));
    printf("syscall, refused insert\t%.1f\n", time_syscall(full, 100, runs));
    printf("program, existing key\t%.1f\n", time_program(update_program(map, 1), runs));
    printf("program, refused insert\t%.1f\n", time_program(update_program(full, 100), runs));
    int lru = create(BPF_MAP_TYPE_LRU_HASH, "lb_lru", 4, 8, 1024, 0, 0);
    for (uint32_t k = 0; k < 4096; k++)
        write_key(lru, &k, value, BPF_ANY);
    struct bpf_insn evicting[] = {
        CALL(BPF_FUNC_get_prandom_u32), INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_0, -4, 0),
        STORE_DW_ZERO(-16), LD_MAP_FD(BPF_REG_1, lru), STACK_POINTER(BPF_REG_2, -4), STACK_POINTER(BPF_REG_3, -16),
        MOV_IMM(BPF_REG_4, BPF_ANY), CALL(BPF_FUNC_map_update_elem), EXIT,
    };
    printf("program, LRU insert that evicts\t%.1f\n", time_program(load_program(evicting, sizeof(evicting) / sizeof(evicting[0])), runs));
    uint32_t ring_size = 4096;
    while (ring_size < (uint64_t)runs * 72 + 4096)
        ring_size <<= 1;
    int ring = create(BPF_MAP_TYPE_RINGBUF, "lb_ring", 0, 0, ring_size, 0, 0);
    printf("program, ring buffer output\t%.1f\n", time_program(ring_writer(ring, 64), runs));
    exit(0);
}

static volatile sig_atomic_t again, step;

static void on_usr2(int signal)
{
    (void)signal;
    step = 1;
}

/* Prints `line`, then waits for the next SIGUSR2. */
static void step_done(const char *line)
{
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old);
    printf("%s\n", line);
    fflush(stdout);
    while (!step)
        sigsuspend(&old);
    step = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static _Noreturn void gradual(void)
{
    uint8_t value[8] = {0};
    long hash_failures = 0, prog_failures = 0, ring_failures = 0;
    signal(SIGUSR2, on_usr2);
    int hash = create(BPF_MAP_TYPE_HASH, "d_hash", 4, 8, 100, 0, 0);
    int prog = create(BPF_MAP_TYPE_HASH, "d_prog", 4, 8, 100, 0, 0);
    int lru = create(BPF_MAP_TYPE_LRU_HASH, "d_lru", 4, 8, 8, 0, 0);
    int ring = create(BPF_MAP_TYPE_RINGBUF, "d_ring", 0, 0, 4096, 0, 0);
    int inserter = update_program(prog, 1000), writer = ring_writer(ring, 64);
    step_done("created");

    for (uint32_t k = 0; k < 95; k++) {
        write_key(hash, &k, value, BPF_ANY);
        write_key(prog, &k, value, BPF_ANY);
    }
    /* 29 records of 64 bytes and an 8-byte header: 2088 of 4096 bytes. */
    for (int run = 0; run < 29; run++)
        run_program(writer);
    step_done("filled");

    for (uint32_t k = 95; k < 110; k++)
        hash_failures += write_key(hash, &k, value, BPF_ANY) == -E2BIG;
    for (uint32_t k = 95; k < 100; k++)
        write_key(prog, &k, value, BPF_ANY);
    for (int run = 0; run < 5; run++)
        prog_failures += run_program(inserter) == -E2BIG;
    for (uint32_t k = 0; k < 20; k++)
        write_key(lru, &k, value, BPF_ANY);
    for (int run = 0; run < 200 && ring_failures < 3; run++)
        ring_failures += run_program(writer) == -EAGAIN;
    report("d_hash", hash, "hash", hash_failures, -1);
    report("d_prog", prog, "hash", prog_failures, -1);
    report("d_lru", lru, "lru_hash", -1, 20 - (long)count_keys(lru));
    report("d_ring", ring, "ringbuf", ring_failures, -1);
    printf("overflowed\n");
    fflush(stdout);
    for (;;)
        pause();
}

static void on_usr1(int signal)
{
    (void)signal;
    again = 1;
}

int main(int argc, char **argv)
{
    uint8_t value[8 * 64] = {0};
    lift_memlock();
    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        bench((uint32_t)atoi(argv[2]));
    if (argc == 2 && strcmp(argv[1], "--gradual") == 0)
        gradual();
    long seen;

    /* A hash map of 16: 16 keys fit, 10 more are refused, rewriting the 16 is not a loss. */
    int hash = create(BPF_MAP_TYPE_HASH, "l_hash", 4, 8, 16, 0, 0);
    seen = 0;
    for (uint32_t k = 0; k < 26; k++)
        seen += write_key(hash, &k, value, BPF_ANY) == -E2BIG;
    for (uint32_t k = 0; k < 16; k++)
        seen += write_key(hash, &k, value, BPF_ANY) == -E2BIG;
    report("l_hash", hash, "hash", seen, -1);
    long hash_failures = seen;

    /* The same from a BPF program: a new key into a full map, five runs. */
    int full = create(BPF_MAP_TYPE_HASH, "l_prog", 4, 8, 4, 0, 0);
    for (uint32_t k = 0; k < 4; k++)
        write_key(full, &k, value, BPF_ANY);
    int inserter = update_program(full, 100);
    seen = 0;
    for (int run = 0; run < 5; run++)
        seen += run_program(inserter) == -E2BIG;
    report("l_prog", full, "hash", seen, -1);

    /* percpu_hash of 4: 7 new keys, 3 refused. */
    int pcpu = create(BPF_MAP_TYPE_PERCPU_HASH, "l_pcpu", 4, 8, 4, 0, 0);
    seen = 0;
    for (uint32_t k = 0; k < 7; k++)
        seen += write_key(pcpu, &k, value, BPF_ANY) == -E2BIG;
    report("l_pcpu", pcpu, "percpu_hash", seen, -1);

    /* hash_of_maps of 2: 3 new keys, each holding the same inner map, 1 refused. */
    int inner = create(BPF_MAP_TYPE_ARRAY, "l_inner", 4, 4, 1, 0, 0);
    int hom = create(BPF_MAP_TYPE_HASH_OF_MAPS, "l_hom", 4, 4, 2, 0, inner);
    seen = 0;
    for (uint32_t k = 0; k < 3; k++)
        seen += write_key(hom, &k, &inner, BPF_ANY) == -E2BIG;
    report("l_hom", hom, "hash_of_maps", seen, -1);

    /* lpm_trie of 4: 6 distinct /32 prefixes, 2 refused with ENOSPC. */
    int lpm = create(BPF_MAP_TYPE_LPM_TRIE, "l_lpm", 8, 4, 4, BPF_F_NO_PREALLOC, 0);
    seen = 0;
    for (uint32_t k = 0; k < 6; k++) {
        uint32_t key[2] = {32, k};
        seen += write_key(lpm, key, value, BPF_ANY) == -ENOSPC;
    }
    report("l_lpm", lpm, "lpm_trie", seen, -1);

    /* queue of 4: 6 pushes, 2 refused. */
    int queue = create(BPF_MAP_TYPE_QUEUE, "l_queue", 0, 8, 4, 0, 0);
    seen = 0;
    for (int k = 0; k < 6; k++)
        seen += write_key(queue, NULL, value, BPF_ANY) == -E2BIG;
    report("l_queue", queue, "queue", seen, -1);

    /* stack of 3: 5 pushes, 2 refused. */
    int stack = create(BPF_MAP_TYPE_STACK, "l_stack", 0, 8, 3, 0, 0);
    seen = 0;
    for (int k = 0; k < 5; k++)
        seen += write_key(stack, NULL, value, BPF_ANY) == -E2BIG;
    report("l_stack", stack, "stack", seen, -1);

    /* An LRU map of 8 given 20 distinct keys and no deletes: what is not left was evicted. */
    int lru = create(BPF_MAP_TYPE_LRU_HASH, "l_lru", 4, 8, 8, 0, 0);
    for (uint32_t k = 0; k < 20; k++)
        write_key(lru, &k, value, BPF_ANY);
    report("l_lru", lru, "lru_hash", -1, 20 - (long)count_keys(lru));

    /* A ring buffer of one page that nobody reads: a program writes 64-byte records into it until
     * one is refused, then twice more. */
    int ring = create(BPF_MAP_TYPE_RINGBUF, "l_ring", 0, 0, 4096, 0, 0);
    int writer = ring_writer(ring, 64);
    seen = 0;
    for (int run = 0; run < 200 && seen < 3; run++)
        seen += run_program(writer) == -EAGAIN;
    report("l_ring", ring, "ringbuf", seen, -1);

    printf("ready\n");
    fflush(stdout);
    signal(SIGUSR1, on_usr1);
    for (;;) {
        pause();
        if (!again)
            continue;
        again = 0;
        for (uint32_t k = 100; k < 110; k++)
            hash_failures += write_key(hash, &k, value, BPF_ANY) == -E2BIG;
        printf("again %ld\n", hash_failures);
        fflush(stdout);
    }
}
