/// What one collection knows about one loaded BPF program.
public struct ProgramStats: Sendable, Equatable {
    public var id: UInt32
    /// As bpftool shows it: the kernel keeps 15 characters, the rest comes from the program's BTF.
    public var name: String
    /// As bpftool spells it (`socket_filter`, `xdp`, `tracing`...), or `type_<n>` for one newer
    /// than this build's libbpf.
    public var type: String
    /// The kernel's hash of the program's instructions, 16 hex digits, as bpftool prints it.
    public var tag: String
    /// Time spent in the program and its runs, since it was loaded, counted only while run-time
    /// statistics are on; nil when they are off here, so that a counter that does not count is
    /// absent rather than 0.
    public var runTimeNs: UInt64?
    public var runCount: UInt64?
    /// Runs skipped because the program was already running on the CPU (Linux 5.12 and later).
    public var recursionMisses: UInt64?
    /// The kernel's memory accounting for the program (fdinfo memlock).
    public var memoryBytes: UInt64?
    /// Instructions the verifier processed to load it (Linux 5.16 and later).
    public var verifiedInstructions: UInt32?
    /// Run time and runs per second over the last sample window, with `programs.stats: sampled`;
    /// nil otherwise.
    public var sampled: ProgramRates? = nil
    /// The maps the program uses.
    public var mapIDs: [UInt32]
    /// The links that attach it, in id order: empty for a program attached some other way
    /// (netlink, BPF_PROG_ATTACH, a socket option) or not at all, which the kernel does not say.
    public var links: [ProgramLink] = []
    /// The processes holding a descriptor of it (for a program, or of a link to it), by pid; nil
    /// where the kernel would not say (the holders iterator did not load).
    public var holders: [Holder]? = nil
}

/// One BPF link of a program: where the kernel says it is attached.
public struct ProgramLink: Sendable, Equatable {
    public var id: UInt32
    /// As bpftool spells it: `xdp`, `cgroup`, `iter`, `tracing`, `perf_event`...
    public var type: String
    /// As bpftool spells it (`xdp`, `cgroup_inet_ingress`, `trace_fentry`, `trace_iter`...); nil
    /// where the link does not say.
    public var attachType: String?
    /// The interface (xdp, tcx, netkit), the cgroup's path under /sys/fs/cgroup, the iterator's
    /// or raw tracepoint's name, `netns <inode>`; nil where the kernel does not say (a fentry or
    /// fexit target is named only in the kernel's BTF, which the shipper does not load).
    public var target: String?

    /// The attach type where the link says, else the link's type: what `attach_type` labels show.
    public var attachment: String { attachType ?? type }
}
