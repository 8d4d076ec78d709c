import SystemPackage

/// A failed bpf(2) or libbpf operation: what was attempted, the kernel's errno, and what to do.
public struct BPFError: Error, Sendable, CustomStringConvertible {
    /// The operation that failed, e.g. "load the map iterator".
    public var operation: String
    public var errno: Errno
    /// The whole line an operator reads, ending in what to do.
    public var message: String

    init(_ operation: String, errno: Errno) {
        self.operation = operation
        self.errno = errno
        self.message =
            if errno == .notPermitted || errno == .permissionDenied {
                "cannot \(operation): reading eBPF maps needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN: "
                    + "run it with sudo, or grant them with `setcap cap_bpf,cap_perfmon,cap_sys_admin+ep <binary>`"
            } else {
                "\(operation) failed: \(errno)"
            }
    }

    /// A failure whose operator-facing sentence is not the generic one.
    init(_ operation: String, errno: Errno, message: String) {
        self.operation = operation
        self.errno = errno
        self.message = message
    }

    /// True when the failure is missing privileges rather than a kernel limitation.
    public var isPermission: Bool { errno == .notPermitted || errno == .permissionDenied }

    public var description: String { message }
}
