/// A process that holds a file descriptor of a map or a program (for a program, of the program
/// or of a link to it), as bpftool's `pids` reports it.
public struct Holder: Sendable, Hashable, Comparable {
    /// Its process id, as the host (the initial pid namespace) numbers it.
    public var pid: UInt32
    /// Its name: the main thread's comm, 15 characters at most.
    public var comm: String

    public init(pid: UInt32, comm: String) {
        self.pid = pid
        self.comm = comm
    }

    public static func < (a: Holder, b: Holder) -> Bool { (a.pid, a.comm) < (b.pid, b.comm) }
}

/// Every holder of every map and program, by id, each list sorted by pid with a process listed
/// once however many descriptors it holds.
struct Holders: Sendable, Equatable {
    var maps: [UInt32: [Holder]] = [:]
    var programs: [UInt32: [Holder]] = [:]
}
