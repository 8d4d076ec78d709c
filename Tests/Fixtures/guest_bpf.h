/* Raw bpf(2) helpers shared by the guest fixtures (guest_maps.c, guest_losses.c,
 * guest_programs.c): no libbpf, so that they link statically and need nothing inside the guest. */
#ifndef GUEST_BPF_H
#define GUEST_BPF_H

#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long bpf(int cmd, union bpf_attr *attr)
{
    return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static inline int fail(const char *what)
{
    perror(what);
    exit(1);
}

/* Before 5.11 map and program memory is charged to RLIMIT_MEMLOCK (64 KiB by default), not to the
 * cgroup: lift it, as libbpf does for the shipper. */
static inline void lift_memlock(void)
{
    struct rlimit unlimited = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
        fail("setrlimit memlock");
}

static inline int create(uint32_t type, const char *name, uint32_t key, uint32_t value, uint32_t max, uint32_t flags, int inner)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = type;
    attr.key_size = key;
    attr.value_size = value;
    attr.max_entries = max;
    attr.map_flags = flags;
    attr.inner_map_fd = inner > 0 ? inner : 0;
    snprintf(attr.map_name, sizeof(attr.map_name), "%s", name);
    int fd = bpf(BPF_MAP_CREATE, &attr);
    if (fd < 0)
        fail(name);
    return fd;
}

static inline void update(int fd, const void *key, const void *value)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = fd;
    attr.key = (uintptr_t)key;
    attr.value = (uintptr_t)value;
    if (bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0)
        fail("update");
}

static inline uint32_t id_of(int fd)
{
    struct bpf_map_info info;
    union bpf_attr attr;
    memset(&info, 0, sizeof(info));
    memset(&attr, 0, sizeof(attr));
    attr.info.bpf_fd = fd;
    attr.info.info_len = sizeof(info);
    attr.info.info = (uintptr_t)&info;
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
        fail("info");
    return info.id;
}

/* Socket filters, assembled by hand and run with BPF_PROG_TEST_RUN. */
#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LD_MAP_FD(reg, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)
#define STORE_DW_ZERO(off) INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, off, 0)
#define STACK_POINTER(reg, off) INSN(BPF_ALU64 | BPF_MOV | BPF_X, reg, BPF_REG_10, 0, 0), INSN(BPF_ALU64 | BPF_ADD | BPF_K, reg, 0, 0, off)
#define MOV_IMM(reg, value) INSN(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, value)
#define CALL(helper) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static inline int load_program(const struct bpf_insn *insns, size_t count)
{
    static char log[65536];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uintptr_t)insns;
    attr.insn_cnt = (uint32_t)count;
    attr.license = (uintptr_t) "GPL";
    attr.log_buf = (uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    int fd = bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0) {
        fputs(log, stderr);
        fail("load program");
    }
    return fd;
}

/* BPF_PROG_TEST_RUN of a socket filter, `repeat` times: returns the last run's r0, and in
 * `duration` (if given) the kernel's mean nanoseconds per run. */
static inline int32_t test_run(int fd, uint32_t repeat, double *duration)
{
    static uint8_t packet[64];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.test.prog_fd = fd;
    attr.test.data_in = (uintptr_t)packet;
    attr.test.data_size_in = sizeof(packet);
    attr.test.repeat = repeat;
    if (bpf(BPF_PROG_TEST_RUN, &attr) < 0)
        fail("test run");
    if (duration)
        *duration = attr.test.duration;
    return (int32_t)attr.test.retval;
}

#endif
