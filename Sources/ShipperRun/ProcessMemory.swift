import Glibc

/// How the process's allocator hands memory back.
public enum ProcessMemory {
    /// Allocations above this are mapped on their own and unmapped when freed. Above the 172 KiB
    /// snappy allocates and frees for every 64 KiB block it compresses (about 40 a cycle at 10,000
    /// maps), which would otherwise each be mapped, faulted in and unmapped.
    static let largeAllocationBytes: Int32 = 256 << 10

    /// Keeps glibc's malloc from holding on to large blocks the daemon frees every cycle.
    ///
    /// By default glibc raises its mmap threshold each time a large mapped block is freed, so the
    /// next cycle's collection arrays and request bodies come from the heap instead, and the heap's
    /// top stays resident after the first (largest) cycle. Pinning the threshold and the trim
    /// threshold returns them: measured with 10,000 maps, 8 MiB less peak and steady-state RSS,
    /// for a few mmap calls per cycle.
    public static func returnLargeBlocks() {
        // The Glibc module does not import mallopt; its parameter numbers are from <malloc.h>.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3
        _ = mallopt(mmapThreshold, largeAllocationBytes)
        _ = mallopt(trimThreshold, largeAllocationBytes)
    }
}
