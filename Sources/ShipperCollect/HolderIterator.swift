internal import CLibBPF
import Foundation

/// The loaded holders iterator (`iter/task_file`, bpf/holders.bpf.c): one read runs it over every
/// open file of every process and finds those that hold a map, a program or a link.
final class HolderIterator {
    private let link: Int32
    private var buffer = IteratorBuffer(capacity: 16 * 1024)
    /// The iterator program's id (none if the kernel would not say), registered in `OwnObjects`.
    let programIDs: [UInt32]
    /// Whether a short-lived child process did the load (see `MapIterator.loadedByChild`).
    let loadedByChild: Bool

    init() throws(BPFError) {
        var link: Int32 = -1
        var inChild: Int32 = 0
        try check(clibbpf_holders_open(&link, &inChild), "load the holders iterator")
        self.link = link
        loadedByChild = inChild != 0
        var id: UInt32 = 0
        programIDs = clibbpf_link_prog_id(link, &id) == 0 ? [id] : []
        OwnObjects.add(programs: programIDs)
    }

    deinit {
        OwnObjects.remove(programs: programIDs)
        clibbpf_close(link)
    }

    /// Every holder of every map and program.
    func read() throws(BPFError) -> Holders {
        var maps: [UInt32: Set<Holder>] = [:]
        var programs: [UInt32: Set<Holder>] = [:]
        try buffer.read(link: link, "read the holders iterator") { (record: clibbpf_holder_record) throws(BPFError) in
            let holder = Holder(pid: record.pid, comm: String(fixedCString: record.comm))
            if record.kind == UInt32(CLIBBPF_HOLDS_MAP) {
                maps[record.id, default: []].insert(holder)
            } else {
                programs[record.id, default: []].insert(holder)
            }
        }
        return Holders(maps: maps.mapValues { $0.sorted() }, programs: programs.mapValues { $0.sorted() })
    }
}
