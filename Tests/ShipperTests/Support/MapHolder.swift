import Foundation

/// A separate process that creates real eBPF maps through libbpf and holds them until it is
/// stopped: the "maps of another program" the shipper exists to find. Drives
/// Tests/Fixtures/map_holder.py over one JSON line per command. Its answers are awaited: the
/// pipe is read on a thread of its own.
final class MapHolder: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var pending = Data()
    private let commands = NSLock()

    init() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/map_holder.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// The holder exits when its input closes, and its maps with it.
    deinit {
        try? input.fileHandleForWriting.close()
        process.endInBackground()
    }

    var pid: Int32 { process.processIdentifier }

    /// Creates a map and inserts keys 0..<fill; returns the kernel's map id.
    @discardableResult
    func create(
        _ type: String, name: String, keySize: Int = 4, valueSize: Int = 8, maxEntries: Int, flags: Int = 0,
        fill: Int = 0
    ) async throws -> UInt32 {
        let answer = try await send([
            "op": "create", "type": type, "name": name, "key_size": keySize, "value_size": valueSize,
            "max_entries": maxEntries, "flags": flags, "fill": fill,
        ])
        return (answer["id"] as! NSNumber).uint32Value
    }

    /// Creates `count` identical maps; returns their ids.
    func createMany(_ count: Int, type: String, name: String, maxEntries: Int, fill: Int = 0) async throws -> [UInt32] {
        let answer = try await send([
            "op": "create_many", "count": count, "type": type, "name": name, "key_size": 4, "value_size": 8,
            "max_entries": maxEntries, "fill": fill,
        ])
        return (answer["ids"] as! [NSNumber]).map(\.uint32Value)
    }

    /// Deletes keys 0..<count.
    func delete(id: UInt32, count: Int) async throws { try await send(["op": "delete", "id": id, "count": count]) }
    /// Rewrites keys 0..<count one at a time: a preallocated hash map swaps in a spare element each time.
    func update(id: UInt32, count: Int) async throws { try await send(["op": "update", "id": id, "count": count]) }
    /// A point of a churn: the round (from 0) and how many of its keys are in, at most `count`.
    struct ChurnPoint: Equatable, Sendable, CustomStringConvertible {
        var round: Int
        var inserted: Int
        var description: String { "round \(round), \(inserted) keys in" }
    }

    /// Starts inserting keys first..<first+count one at a time and deleting them again, `rounds`
    /// times, in the holder's background; `churned` waits for it and returns the rounds done.
    /// At each of `stops` the churn stops until `churnGoOn`: the map then holds exactly the
    /// filled keys and `inserted` more. `churnStopped` waits for the next stop and names it.
    func churn(id: UInt32, first: Int, count: Int, rounds: Int, stoppingAt stops: [ChurnPoint] = []) async throws {
        try await send([
            "op": "churn", "id": id, "first": first, "count": count, "rounds": rounds,
            "stops": stops.map { [$0.round, $0.inserted] },
        ])
    }
    func churnStopped(id: UInt32) async throws -> ChurnPoint {
        let answer = try await send(["op": "churn_stopped", "id": id])
        return ChurnPoint(round: (answer["round"] as! NSNumber).intValue, inserted: (answer["inserted"] as! NSNumber).intValue)
    }
    func churnGoOn(id: UInt32) async throws { try await send(["op": "churn_go_on", "id": id]) }
    func churned(id: UInt32) async throws -> Int {
        (try await send(["op": "churned", "id": id])["rounds"] as! NSNumber).intValue
    }
    /// A program writes `size`-byte records into the ring buffer until one is refused; returns the
    /// records written.
    func ringOutput(id: UInt32, size: Int) async throws -> Int {
        (try await send(["op": "ring_output", "id": id, "size": size])["written"] as! NSNumber).intValue
    }
    func pin(id: UInt32, at path: String) async throws { try await send(["op": "pin", "id": id, "path": path]) }
    /// Closes the holder's only descriptor: the map vanishes from the kernel.
    func close(id: UInt32) async throws { try await send(["op": "close", "id": id]) }
    /// Opens another process's map by id and holds it (`close` lets it go).
    func open(id: UInt32) async throws { try await send(["op": "open", "id": id]) }
    /// The holder's process name, as the kernel keeps it.
    var comm: String {
        get throws { try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8).trimmingCharacters(in: .newlines) }
    }
    /// A socket filter using the maps; with `btfName`, it also carries BTF naming its function so.
    /// Returns its id.
    @discardableResult
    func loadProgram(name: String, using ids: [UInt32], btfName: String? = nil) async throws -> UInt32 {
        var command: [String: Any] = ["op": "load_prog", "name": name, "map_ids": ids]
        if let btfName { command["btf_name"] = btfName }
        return (try await send(command)["id"] as! NSNumber).uint32Value
    }

    /// A cgroup_skb program named `name` attached with a link to the ingress of a new cgroup
    /// `cgroup` under the cgroup2 mount: the program's and the link's ids, and the cgroup's path
    /// under the mount. `detachCgroup` undoes it all.
    func attachCgroup(name: String, cgroup: String) async throws -> (program: UInt32, link: UInt32, path: String) {
        let answer = try await send(["op": "attach_cgroup", "name": name, "cgroup": cgroup])
        return ((answer["id"] as! NSNumber).uint32Value, (answer["link_id"] as! NSNumber).uint32Value, answer["path"] as! String)
    }
    func detachCgroup(name: String) async throws { try await send(["op": "detach_cgroup", "name": name]) }

    /// Runs the program loaded as `name` `count` times, in one BPF_PROG_TEST_RUN.
    func testRun(program name: String, times count: Int) async throws {
        try await send(["op": "test_run", "name": name, "repeat": count])
    }

    /// The kernel's memory figure for the map, as /proc/<holder>/fdinfo shows it now.
    func memlock(id: UInt32) async throws -> UInt64 {
        (try await send(["op": "memlock", "id": id])["memlock"] as! NSNumber).uint64Value
    }

    /// One command and its answer; commands of one holder go one at a time.
    @discardableResult
    private func send(_ command: [String: Any]) async throws -> [String: Any] {
        var line = try JSONSerialization.data(withJSONObject: command)
        line.append(UInt8(ascii: "\n"))
        let request = line
        let reply = try await offPool { [self] in
            try commands.withLock {
                try input.fileHandleForWriting.write(contentsOf: request)
                return try readLine()
            }
        }
        let answer = try JSONSerialization.jsonObject(with: reply) as! [String: Any]
        if let error = answer["error"] as? String { throw Failure(description: "map holder: \(error)") }
        return answer
    }

    private func readLine() throws -> Data {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending = Data(pending[(newline + 1)...])
                return Data(line)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw Failure(description: "map holder exited (is python3 installed?)") }
            pending.append(chunk)
        }
    }
}
