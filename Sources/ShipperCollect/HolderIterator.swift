internal import CLibBPF
import Foundation

/// The loaded holders iterator (`iter/task_file`, bpf/holders.bpf.c): one read runs it over every
/// open file of every process and finds those that hold a map, a program or a link.
final class HolderIterator {
    private let link: Int32
    private var buffer = IteratorBuffer(capacity: 16 * 1024)
    /// The iterator program's id (none if the kernel would not say), registered in `OwnObjects`.
    let programIDs: [UInt32]

    init() throws(BPFError) {
        var link: Int32 = -1
        try check(clibbpf_holders_open(&link), "load the holders iterator")
        self.link = link
        var id: UInt32 = 0
        programIDs = clibbpf_link_prog_id(link, &id) == 0 ? [id] : []
        OwnObjects.add(programs: programIDs)
    }

    deinit {
        OwnObjects.remove(programs: programIDs)
        clibbpf_close(link)
    }

    /// Every holder of every map and program. A process's files come one after another, so its
    /// name is decoded once, not once per descriptor; the pairs are then sorted rather than
    /// hashed into sets, which on a host of 10,000 maps cost more than the kernel's walk.
    func read() throws(BPFError) -> Holders {
        var processes: [Holder] = []
        var pairs: [(kind: UInt32, id: UInt32, process: Int)] = []
        try buffer.read(link: link, "read the holders iterator") { (record: clibbpf_holder_record) throws(BPFError) in
            if processes.last?.pid != record.pid {
                processes.append(Holder(pid: record.pid, comm: String(fixedCString: record.comm)))
            }
            pairs.append((record.kind, record.id, processes.count - 1))
        }
        pairs.sort { ($0.kind, $0.id, processes[$0.process].pid) < ($1.kind, $1.id, processes[$1.process].pid) }
        var holders = Holders()
        var start = 0
        while start < pairs.count {
            let (kind, id) = (pairs[start].kind, pairs[start].id)
            var list: [Holder] = []
            var end = start
            while end < pairs.count, pairs[end].kind == kind, pairs[end].id == id {
                let holder = processes[pairs[end].process]
                if list.last?.pid != holder.pid { list.append(holder) }
                end += 1
            }
            if kind == UInt32(CLIBBPF_HOLDS_MAP) { holders.maps[id] = list } else { holders.programs[id] = list }
            start = end
        }
        return holders
    }
}
