import Foundation
import Logging
import SystemPackage

/// Which processes hold each map and program (`HolderIterator`), and the shipper's own processes
/// among them: another shipper on the host (a `list` beside the daemon) is left out as this one is.
extension Collector {
    /// Loads the holders iterator. A kernel that refuses it (no iter/task_file before Linux 5.8,
    /// no BTF) leaves the holders unreported, said once.
    static func loadHolders(logger: Logger) -> HolderIterator? {
        do throws(BPFError) {
            return try LibbpfLog.quietly { () throws(BPFError) in try HolderIterator() }
        } catch {
            logger.info(
                "holders iterator unavailable; the processes holding each map and program are not reported",
                metadata: ["error": "\(error)",
                           "hint": "it needs Linux >= 5.8 with BTF (/sys/kernel/btf/vmlinux)"])
            return nil
        }
    }

    /// One read of the holders iterator with nothing else: what holders add to a collection
    /// (bench/holders). Returns the number of processes found holding anything.
    public func rawHoldersRead() throws(BPFError) -> Int {
        guard let holderIterator else { throw BPFError("read the holders iterator", errno: .notSupported) }
        let holders = try holderIterator.read()
        return Set(holders.maps.values.joined().map(\.pid) + holders.programs.values.joined().map(\.pid)).count
    }

    /// The holders, with the shipper's processes taken out unless `includeSelf`, and the maps and
    /// programs that only the shipper's processes held, which are the shipper's own too.
    ///
    /// Walking every open file on the host costs about 250 ns a file (bench/holders: 28 ms on a
    /// host of 110,000), while holders rarely change but with new maps and programs. So the walk
    /// is done when a reported map or a program newer than the last walk exists (ids only grow),
    /// and otherwise once `holdersMaxAge` has passed: a process that opens an existing map, or lets
    /// go of one, is seen within that age. A walk that fails keeps the last one's holders, so that
    /// no series changes for one cycle. `newestMap` is the newest id among the maps reported.
    func readHolders(newestMap: UInt32) -> HolderRead? {
        guard let holderIterator else { return nil }
        let newestProgram = programs.last?.id ?? 0
        let now = ContinuousClock.now
        if let last = lastHolders,
            last.covers(newestMap: newestMap, newestProgram: newestProgram, at: now, maxAge: options.holdersMaxAge)
        {
            return last
        }
        var holders: Holders
        do throws(BPFError) {
            try injectFailure(.holders)
            holders = try holderIterator.read()
        } catch {
            failed(.holders, error)
            return lastHolders
        }
        var read = HolderRead(holders: holders, at: now, newestMap: newestMap, newestProgram: newestProgram)
        if !options.includeSelf {
            let shippers = ShipperProcesses.among(holders)
            read.shipperOnly = (read.holders.maps.remove(shippers), read.holders.programs.remove(shippers))
        }
        lastHolders = read
        return read
    }
}

/// One walk of the holders iterator, as the collector keeps it until the next.
struct HolderRead {
    /// Every holder, the shipper's processes taken out unless `includeSelf`.
    var holders: Holders
    /// The maps and programs only the shipper's processes held.
    var shipperOnly: (maps: Set<UInt32>, programs: Set<UInt32>) = ([], [])
    var at: ContinuousClock.Instant
    /// The newest reported map's and program's ids at the walk.
    var newestMap: UInt32
    var newestProgram: UInt32

    /// Whether this walk still answers for a collection whose newest ids are these, at `now`:
    /// nothing newer exists, and it is younger than `maxAge`.
    func covers(newestMap map: UInt32, newestProgram program: UInt32, at now: ContinuousClock.Instant, maxAge: Duration) -> Bool {
        map <= newestMap && program <= newestProgram && now - at < maxAge
    }
}

extension [UInt32: [Holder]] {
    /// Takes the processes in `pids` out of every object's holders, and returns the objects only
    /// they held (which then have none).
    fileprivate mutating func remove(_ pids: Set<UInt32>) -> Set<UInt32> {
        guard !pids.isEmpty else { return [] }
        var only: Set<UInt32> = []
        for (id, holders) in self where holders.contains(where: { pids.contains($0.pid) }) {
            let rest = holders.filter { !pids.contains($0.pid) }
            if rest.isEmpty { only.insert(id) }
            self[id] = rest.isEmpty ? nil : rest
        }
        return only
    }
}

/// The shipper's processes among the holders: this one, and any other running this same
/// executable (compared by device and inode, not by name, which any process can take).
enum ShipperProcesses {
    private static let ownPID = UInt32(getpid())
    private static let ownComm = (try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8))?
        .trimmingCharacters(in: .newlines)
    private static let ownExecutable = identity(of: "/proc/self/exe")

    static func among(_ holders: Holders) -> Set<UInt32> {
        var pids: Set<UInt32> = [ownPID]
        for list in [holders.maps, holders.programs] {
            for holder in list.values.joined() where holder.comm == ownComm && !pids.contains(holder.pid) {
                if let executable = identity(of: "/proc/\(holder.pid)/exe"), executable == ownExecutable {
                    pids.insert(holder.pid)
                }
            }
        }
        return pids
    }

    private struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private static func identity(of path: String) -> Identity? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }
}
