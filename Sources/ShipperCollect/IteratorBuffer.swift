internal import CLibBPF
import SystemPackage

/// Where an attached BPF iterator's fixed-size records land: one read runs the iterator over
/// everything it visits. Reused across reads; grows when the host gains objects and never shrinks.
struct IteratorBuffer {
    private var bytes: [UInt8]

    init(capacity: Int = 64 * 1024) {
        bytes = [UInt8](repeating: 0, count: capacity)
    }

    /// Runs the iterator behind `link` once and hands each of its records to `visit`, straight
    /// from the buffer. `operation` names the read in an error.
    mutating func read<Record>(
        link: Int32, _ operation: @autoclosure () -> String, _ visit: (Record) throws(BPFError) -> Void
    ) throws(BPFError) {
        while true {
            var length = 0
            let result = bytes.withUnsafeMutableBufferPointer { clibbpf_link_read(link, $0.baseAddress, $0.count, &length) }
            if result == -Errno.noSpace.rawValue {
                bytes = [UInt8](repeating: 0, count: bytes.count * 2)
                continue
            }
            try check(result, operation())
            let size = MemoryLayout<Record>.size
            for offset in stride(from: 0, to: length - length % size, by: size) {
                try visit(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Record.self) })
            }
            return
        }
    }
}
