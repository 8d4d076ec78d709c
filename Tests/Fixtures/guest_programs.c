/* What the kernel's per-program run-time statistics cost a program run, for bench/prog-stats.
 * Usage: guest_programs --bench N [--span SECONDS]
 * Loads two socket filters, an empty one (r0 = 0) and one that updates an existing key of a hash
 * map, runs each N times with BPF_PROG_TEST_RUN and prints the kernel's mean nanoseconds per run,
 * one tab-separated line each: "<program>\t<ns per run>". With --span, each program is run N times
 * over and over for SECONDS, and the mean is weighted by the time each chunk took: what a program
 * running at a steady rate pays per run on average when statistics are on only part of the time
 * (programs.stats: sampled), each chunk's mean counting for the share of the time it was measured
 * in (a plain mean over runs would count the slow chunks less, as fewer runs fit in a window).
 * Whether statistics are on is up to the
 * caller (bench/prog-stats starts `ebpf-map-shipper serve --program-stats on` beside it, or not).
 * Build: cc -static -O2 -o guest_programs guest_programs.c (guest_bpf.h beside it)
 */
#include "guest_bpf.h"

#include <time.h>

int main(int argc, char **argv)
{
    if ((argc != 3 && !(argc == 5 && strcmp(argv[3], "--span") == 0)) || strcmp(argv[1], "--bench") != 0) {
        fputs("usage: guest_programs --bench N [--span SECONDS]\n", stderr);
        return 2;
    }
    uint32_t runs = (uint32_t)strtoul(argv[2], NULL, 10);
    double span = argc == 5 ? strtod(argv[4], NULL) : 0;
    /* Needed before 5.11 (in the 5.10 guest); a host that refuses it charges the cgroup instead. */
    struct rlimit unlimited = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
    setrlimit(RLIMIT_MEMLOCK, &unlimited);

    struct bpf_insn empty[] = {MOV_IMM(BPF_REG_0, 0), EXIT};
    int hash = create(BPF_MAP_TYPE_HASH, "p_hash", 8, 8, 16, 0, 0);
    uint64_t zero = 0;
    update(hash, &zero, &zero);
    struct bpf_insn updating[] = {
        STORE_DW_ZERO(-8), STORE_DW_ZERO(-16),
        LD_MAP_FD(BPF_REG_1, hash), STACK_POINTER(BPF_REG_2, -8), STACK_POINTER(BPF_REG_3, -16),
        MOV_IMM(BPF_REG_4, BPF_EXIST), CALL(BPF_FUNC_map_update_elem),
        MOV_IMM(BPF_REG_0, 0), EXIT,
    };
    const struct {
        const char *name;
        const struct bpf_insn *insns;
        size_t count;
    } programs[] = {
        {"empty", empty, sizeof(empty) / sizeof(empty[0])},
        {"map_update", updating, sizeof(updating) / sizeof(updating[0])},
    };
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
        int fd = load_program(programs[i].insns, programs[i].count);
        double duration = 0, weighted = 0, total = 0;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        do {
            test_run(fd, runs, &duration);
            weighted += duration * duration;
            total += duration;
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 < span);
        printf("%s\t%.1f\n", programs[i].name, total > 0 ? weighted / total : 0);
        close(fd);
    }
    return 0;
}
