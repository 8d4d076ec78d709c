#!/usr/bin/env python3
"""Creates real eBPF maps through libbpf and holds them for as long as its standard input is open.

The tests and the benchmarks start it as a separate process: its maps are "maps of another
program", unpinned unless asked, exactly what the shipper must find. One JSON command per line
on stdin, one JSON answer per line on stdout:

  {"op": "create", "type": "hash", "key_size": 4, "value_size": 8, "max_entries": 64,
   "flags": 0, "name": "t_hash", "fill": 10}                    -> {"id": 17}
  {"op": "create_many", "count": 10000, ...same keys as create}   -> {"ids": [..]}
  {"op": "delete", "id": 17, "count": 3}   deletes keys 0..2    -> {"ok": true}
  {"op": "update", "id": 17, "count": 3}   rewrites keys 0..2, one at a time -> {"ok": true}
  {"op": "churn", "id": 17, "first": 8, "count": 4, "rounds": 500, "stops": [[3, 2]]}
      in a background thread, inserts keys 8..11 one at a time and deletes them again, `rounds`
      times; answers at once. At each [round, inserted] of "stops" (optional) the thread stops,
      with that many of the round's keys in, until told to go on  -> {"ok": true}
  {"op": "churn_stopped", "id": 17}        waits (at most 120 s) until the churn stops
                                                                -> {"round": 3, "inserted": 2}
  {"op": "churn_go_on", "id": 17}          lets a stopped churn go on -> {"ok": true}
  {"op": "churned", "id": 17}              waits for that thread -> {"rounds": 500}
  {"op": "ring_output", "id": 17, "size": 64}
      a program writes `size`-byte records into the ring buffer until one is refused; nothing
      consumes them                                             -> {"written": 56, "refused": 1}
  {"op": "pin", "id": 17, "path": "/sys/fs/bpf/x"}              -> {"ok": true}
  {"op": "close", "id": 17}                closes the only fd   -> {"ok": true}
  {"op": "open", "id": 17}                 opens another process's map by id and holds it
                                                                -> {"ok": true}
  {"op": "memlock", "id": 17}              fdinfo memlock now   -> {"memlock": 1234}
  {"op": "load_prog", "name": "p", "map_ids": [17]}
      loads a socket filter that references those maps         -> {"id": 41}
      with "btf_name": "a_long_function_name", the program also carries BTF whose function
      record has that name (the kernel keeps only 15 characters of "name")
  {"op": "attach_cgroup", "name": "c", "cgroup": "shipper-test-1"}
      makes that cgroup under the cgroup2 mount, loads a cgroup_skb program that lets every packet
      through, and attaches it to the cgroup's ingress with a BPF link
                                                    -> {"id": 42, "link_id": 7, "path": "/shipper-test-1"}
  {"op": "detach_cgroup", "name": "c"}     closes the link and the program, removes the cgroup
                                                                -> {"ok": true}
  {"op": "test_run", "name": "p", "repeat": 5}
      runs the program loaded as "p" on a 64-byte packet, `repeat` times in one BPF_PROG_TEST_RUN
                                                                -> {"ok": true}
Errors answer {"error": "..."}. Keys are the integers 0..fill-1.
"""
import ctypes
import json
import os
import resource
import socket
import sys
import threading

TYPES = {
    "hash": 1, "array": 2, "percpu_hash": 5, "percpu_array": 6, "stack_trace": 7,
    "lru_hash": 9, "lru_percpu_hash": 10, "lpm_trie": 11, "array_of_maps": 12,
    "hash_of_maps": 13, "sockhash": 18, "queue": 22, "devmap_hash": 25, "ringbuf": 27,
    "bloom_filter": 30,
}
PER_CPU = {"percpu_hash", "lru_percpu_hash", "percpu_array"}
BATCH_FILL = {"hash", "percpu_hash", "lru_hash", "lru_percpu_hash"}


class CreateOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t), ("btf_fd", ctypes.c_uint32), ("btf_key_type_id", ctypes.c_uint32),
        ("btf_value_type_id", ctypes.c_uint32), ("btf_vmlinux_value_type_id", ctypes.c_uint32),
        ("inner_map_fd", ctypes.c_uint32), ("map_flags", ctypes.c_uint32), ("map_extra", ctypes.c_uint64),
        ("numa_node", ctypes.c_uint32), ("map_ifindex", ctypes.c_uint32),
    ]


class ProgLoadOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t), ("attempts", ctypes.c_int), ("expected_attach_type", ctypes.c_int),
        ("prog_btf_fd", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32), ("prog_ifindex", ctypes.c_uint32),
        ("kern_version", ctypes.c_uint32), ("attach_btf_id", ctypes.c_uint32), ("attach_prog_fd", ctypes.c_uint32),
        ("attach_btf_obj_fd", ctypes.c_uint32), ("fd_array", ctypes.c_void_p), ("func_info", ctypes.c_void_p),
        ("func_info_cnt", ctypes.c_uint32), ("func_info_rec_size", ctypes.c_uint32), ("line_info", ctypes.c_void_p),
        ("line_info_cnt", ctypes.c_uint32), ("line_info_rec_size", ctypes.c_uint32), ("log_level", ctypes.c_uint32),
        ("log_size", ctypes.c_uint32), ("log_buf", ctypes.c_char_p),
    ]


class TestRunOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t), ("data_in", ctypes.c_void_p), ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32), ("data_size_out", ctypes.c_uint32), ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p), ("ctx_size_in", ctypes.c_uint32), ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32), ("repeat", ctypes.c_int), ("duration", ctypes.c_uint32), ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32), ("batch_size", ctypes.c_uint32),
    ]


class MapInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("rest", ctypes.c_uint8 * 256)]


lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
lib.bpf_map_create.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32,
                               ctypes.c_uint32, ctypes.POINTER(CreateOpts)]
lib.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
lib.bpf_map_update_batch.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p]
lib.bpf_map_delete_elem.argtypes = [ctypes.c_int, ctypes.c_void_p]
lib.bpf_obj_pin.argtypes = [ctypes.c_int, ctypes.c_char_p]
lib.bpf_map_get_fd_by_id.argtypes = [ctypes.c_uint32]
lib.bpf_link_create.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
lib.bpf_prog_load.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                              ctypes.c_void_p]
lib.bpf_prog_test_run_opts.argtypes = [ctypes.c_int, ctypes.POINTER(TestRunOpts)]
lib.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
lib.btf__new_empty.restype = ctypes.c_void_p
lib.btf__add_int.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
lib.btf__add_func_proto.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.btf__add_func.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
lib.btf__load_into_kernel.argtypes = [ctypes.c_void_p]
lib.btf__fd.argtypes = [ctypes.c_void_p]
CPUS = lib.libbpf_num_possible_cpus()

maps = {}       # id -> (fd, spec)
churns = {}     # id -> Churn
keepalive = []  # inner maps and sockets the maps refer to
programs = {}   # name -> fd
cgroups = {}    # name -> (program fd, link fd, cgroup path)


def check(result, what):
    if result < 0:
        raise OSError(-result, f"{what}: {os.strerror(-result)}")
    return result


def key_bytes(spec, i):
    if spec["type"] == "lpm_trie":  # struct { u32 prefixlen; u8 addr[4]; }
        return (32).to_bytes(4, "little") + i.to_bytes(4, "big") + bytes(spec["key_size"] - 8)
    return i.to_bytes(spec["key_size"], "little")


def value_bytes(spec):
    size = spec["value_size"]
    if spec["type"] in PER_CPU:
        size = (size + 7) // 8 * 8 * CPUS
    if spec["type"] == "hash_of_maps":
        return spec["inner_fd"].to_bytes(4, "little")
    if spec["type"] == "devmap_hash":
        return socket.if_nametoindex("lo").to_bytes(4, "little") + bytes(size - 4)
    if spec["type"] == "sockhash":
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        keepalive.extend([left, right])
        return left.fileno().to_bytes(size, "little")
    return bytes(size)


def create(spec):
    opts = CreateOpts(sz=ctypes.sizeof(CreateOpts), map_flags=spec.get("flags", 0))
    if spec["type"] in ("hash_of_maps", "array_of_maps"):
        inner = check(lib.bpf_map_create(TYPES["array"], b"inner", 4, 4, 1, None), "create inner map")
        keepalive.append(inner)
        opts.inner_map_fd = spec["inner_fd"] = inner
    fd = check(lib.bpf_map_create(TYPES[spec["type"]], spec.get("name", "").encode(), spec["key_size"],
                                  spec["value_size"], spec["max_entries"], ctypes.byref(opts)), "create map")
    fill(fd, spec, spec.get("fill", 0))
    info, length = MapInfo(), ctypes.c_uint32(ctypes.sizeof(MapInfo))
    check(lib.bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(length)), "map info")
    maps[info.id] = (fd, spec)
    return info.id


def fill(fd, spec, count):
    if count == 0:
        return
    if spec["type"] in BATCH_FILL:
        value = value_bytes(spec)
        keys = b"".join(key_bytes(spec, i) for i in range(count))
        values = value * count
        done = ctypes.c_uint32(count)
        check(lib.bpf_map_update_batch(fd, keys, values, ctypes.byref(done), None), "batch update")
        return
    for i in range(count):
        check(lib.bpf_map_update_elem(fd, key_bytes(spec, i), value_bytes(spec), 0), "update")


def function_btf(name):
    """BTF holding `static int name(void)`, loaded into the kernel: what a compiler would describe
    the program's function with. Returns the BTF's fd and the function's type id."""
    btf = lib.btf__new_empty()
    returns = check(lib.btf__add_int(btf, b"int", 4, 1), "btf int")
    proto = check(lib.btf__add_func_proto(btf, returns), "btf func proto")
    function = check(lib.btf__add_func(btf, name.encode(), 0, proto), "btf func")
    check(lib.btf__load_into_kernel(btf), "load btf")
    keepalive.append(btf)
    return lib.btf__fd(btf), function


def load_prog(name, map_ids, btf_name=None):
    """A socket filter that loads each map's address into r1 and returns 0: enough to use the maps."""
    insns = b""
    for map_id in map_ids:
        fd = maps[map_id][0]
        # BPF_LD | BPF_DW | BPF_IMM, dst r1, src BPF_PSEUDO_MAP_FD; the second half carries the upper 32 bits.
        insns += bytes([0x18, 0x11, 0, 0]) + fd.to_bytes(4, "little") + bytes(8)
    insns += bytes([0xB7, 0, 0, 0, 0, 0, 0, 0])  # r0 = 0
    insns += bytes([0x95, 0, 0, 0, 0, 0, 0, 0])  # exit
    opts = None
    if btf_name:
        btf_fd, function = function_btf(btf_name)
        record = (ctypes.c_uint32 * 2)(0, function)  # struct bpf_func_info {insn_off, type_id}
        keepalive.append(record)
        opts = ProgLoadOpts(sz=ctypes.sizeof(ProgLoadOpts), prog_btf_fd=btf_fd, func_info=ctypes.addressof(record),
                            func_info_cnt=1, func_info_rec_size=8)
        opts = ctypes.byref(opts)
    fd = check(lib.bpf_prog_load(1, name.encode(), b"GPL", insns, len(insns) // 8, opts), "load program")
    programs[name] = fd
    info = (ctypes.c_uint32 * 64)()  # struct bpf_prog_info: type, then id
    length = ctypes.c_uint32(ctypes.sizeof(info))
    check(lib.bpf_obj_get_info_by_fd(fd, ctypes.byref(info), ctypes.byref(length)), "program info")
    return info[1]


def cgroup2_mount():
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    raise OSError("no cgroup2 mount")


def attach_cgroup(name, cgroup):
    path = os.path.join(cgroup2_mount(), cgroup)
    os.mkdir(path)
    insns = bytes([0xB7, 0, 0, 0, 1, 0, 0, 0]) + bytes([0x95, 0, 0, 0, 0, 0, 0, 0])  # r0 = 1; exit
    fd = check(lib.bpf_prog_load(8, name.encode(), b"GPL", insns, 2, None), "load cgroup_skb program")  # BPF_PROG_TYPE_CGROUP_SKB
    directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    link = check(lib.bpf_link_create(fd, directory, 0, None), "link to cgroup")  # BPF_CGROUP_INET_INGRESS
    os.close(directory)
    cgroups[name] = (fd, link, path)
    ids = []
    for obj in (fd, link):
        info = (ctypes.c_uint32 * 64)()  # struct bpf_prog_info and bpf_link_info both start type, id
        length = ctypes.c_uint32(ctypes.sizeof(info))
        check(lib.bpf_obj_get_info_by_fd(obj, ctypes.byref(info), ctypes.byref(length)), "info")
        ids.append(info[1])
    return {"id": ids[0], "link_id": ids[1], "path": "/" + cgroup}


def detach_cgroup(name):
    fd, link, path = cgroups.pop(name)
    os.close(link)
    os.close(fd)
    os.rmdir(path)


def test_run(name, repeat):
    packet = ctypes.create_string_buffer(64)
    opts = TestRunOpts(sz=ctypes.sizeof(TestRunOpts), data_in=ctypes.addressof(packet), data_size_in=64, repeat=repeat)
    check(lib.bpf_prog_test_run_opts(programs[name], ctypes.byref(opts)), "test run")


class Churn:
    """Inserts keys first..first+count-1 one at a time and deletes them again, `rounds` times, in
    a thread of its own; at each (round, inserted) of `stops` it waits until `go_on`."""

    def __init__(self, fd, spec, first, count, rounds, stops):
        self.fd, self.spec, self.first, self.count, self.rounds = fd, spec, first, count, rounds
        self.stops = {tuple(stop) for stop in stops}
        self.done = 0
        self.at = None
        self.stopped = threading.Event()
        self.going = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        value = value_bytes(self.spec)
        keys = [key_bytes(self.spec, i) for i in range(self.first, self.first + self.count)]
        for round in range(self.rounds):
            for inserted, key in enumerate(keys, 1):
                check(lib.bpf_map_update_elem(self.fd, key, value, 0), "churn insert")
                if (round, inserted) in self.stops:
                    self.at = (round, inserted)
                    self.stopped.set()
                    self.going.wait()
                    self.going.clear()
            for key in keys:
                check(lib.bpf_map_delete_elem(self.fd, key), "churn delete")
            self.done += 1

    def wait_stopped(self):
        if not self.stopped.wait(timeout=120):
            raise TimeoutError("the churn did not reach its next stop")
        return {"round": self.at[0], "inserted": self.at[1]}

    def go_on(self):
        self.stopped.clear()
        self.going.set()


def ring_output(fd, size):
    """Loads a socket filter that calls bpf_ringbuf_output(ring, stack, size, 0) and runs it until
    the ring refuses a record. Returns the records written and the refusals (1)."""
    insns = b""
    for offset in range(8, size + 8, 8):  # *(u64 *)(r10 - offset) = 0
        insns += bytes([0x7A, 0x0A]) + (-offset).to_bytes(2, "little", signed=True) + bytes(4)
    insns += bytes([0x18, 0x11, 0, 0]) + fd.to_bytes(4, "little") + bytes(8)  # r1 = ring
    insns += bytes([0xBF, 0xA2, 0, 0, 0, 0, 0, 0])  # r2 = r10
    insns += bytes([0x07, 0x02, 0, 0]) + (-size).to_bytes(4, "little", signed=True)  # r2 += -size
    insns += bytes([0xB7, 0x03, 0, 0]) + size.to_bytes(4, "little")  # r3 = size
    insns += bytes([0xB7, 0x04, 0, 0, 0, 0, 0, 0])  # r4 = 0
    insns += bytes([0x85, 0, 0, 0]) + (130).to_bytes(4, "little")  # call bpf_ringbuf_output
    insns += bytes([0x95, 0, 0, 0, 0, 0, 0, 0])  # exit
    program = check(lib.bpf_prog_load(1, b"ring_writer", b"GPL", insns, len(insns) // 8, None), "load program")
    packet = ctypes.create_string_buffer(64)
    written = 0
    try:
        for _ in range(100000):
            opts = TestRunOpts(sz=ctypes.sizeof(TestRunOpts), data_in=ctypes.addressof(packet), data_size_in=64, repeat=1)
            check(lib.bpf_prog_test_run_opts(program, ctypes.byref(opts)), "test run")
            if ctypes.c_int32(opts.retval).value != 0:
                return written, 1
            written += 1
    finally:
        os.close(program)
    raise ValueError("the ring buffer never filled")


def memlock(fd):
    with open(f"/proc/self/fdinfo/{fd}") as info:
        for line in info:
            if line.startswith("memlock:"):
                return int(line.split()[1])
    raise ValueError("no memlock line")


def handle(command):
    op = command["op"]
    if op == "create":
        return {"id": create(command)}
    if op == "create_many":
        spec = {k: v for k, v in command.items() if k not in ("op", "count")}
        return {"ids": [create(dict(spec)) for _ in range(command["count"])]}
    if op == "load_prog":
        return {"id": load_prog(command["name"], command["map_ids"], command.get("btf_name"))}
    if op == "test_run":
        test_run(command["name"], command["repeat"])
        return {"ok": True}
    if op == "attach_cgroup":
        return attach_cgroup(command["name"], command["cgroup"])
    if op == "detach_cgroup":
        detach_cgroup(command["name"])
        return {"ok": True}
    if op == "open":
        maps[command["id"]] = (check(lib.bpf_map_get_fd_by_id(command["id"]), "open"), None)
        return {"ok": True}

    fd, spec = maps[command["id"]]
    if op == "delete":
        for i in range(command["count"]):
            check(lib.bpf_map_delete_elem(fd, key_bytes(spec, i)), "delete")
    elif op == "update":
        for i in range(command["count"]):
            check(lib.bpf_map_update_elem(fd, key_bytes(spec, i), value_bytes(spec), 0), "update")
    elif op == "churn":
        churns[command["id"]] = Churn(fd, spec, command["first"], command["count"], command["rounds"],
                                      command.get("stops", []))
    elif op == "churn_stopped":
        return churns[command["id"]].wait_stopped()
    elif op == "churn_go_on":
        churns[command["id"]].go_on()
    elif op == "churned":
        churn = churns.pop(command["id"])
        churn.thread.join()
        return {"rounds": churn.done}
    elif op == "ring_output":
        written, refused = ring_output(fd, command["size"])
        return {"written": written, "refused": refused}
    elif op == "memlock":
        return {"memlock": memlock(fd)}
    elif op == "pin":
        check(lib.bpf_obj_pin(fd, command["path"].encode()), "pin")
    elif op == "close":
        os.close(fd)
        del maps[command["id"]]
    else:
        raise ValueError(f"unknown op {op}")
    return {"ok": True}


def main():
    # One descriptor per map: the benchmarks hold ten thousand.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for line in sys.stdin:
        try:
            answer = handle(json.loads(line))
        except Exception as error:  # the caller reads the message and fails its test
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
