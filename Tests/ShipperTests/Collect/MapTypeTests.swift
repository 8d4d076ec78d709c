import Foundation
import Testing

@testable import ShipperCollect

struct MapTypeTests {
    @Test func namesFollowBpftool() {
        #expect(MapType(rawValue: 1).name == "hash")
        #expect(MapType(rawValue: 13).name == "hash_of_maps")
        #expect(MapType(rawValue: 25).name == "devmap_hash")
        #expect(MapType(rawValue: 32).name == "cgrp_storage")
        #expect(MapType(rawValue: 33).name == "arena")
        #expect(MapType(rawValue: 999).name == "type_999")
        #expect(MapType(name: "lru_percpu_hash")?.rawValue == 10)
        #expect(MapType(name: "unspec") == nil)
    }

    @Test func countingFollowsTheKernel() {
        let kernel = MapType.known.filter { $0.counting == .kernelCounter }.map(\.name)
        let walked = MapType.known.filter { $0.counting == .keyWalk }.map(\.name)
        #expect(kernel == ["hash", "percpu_hash", "lru_hash", "lru_percpu_hash", "hash_of_maps"])
        #expect(walked == ["stack_trace", "lpm_trie", "sockhash", "devmap_hash"])
        #expect(MapType.known.filter { $0.counting == .ringPositions }.map(\.name) == ["ringbuf"])
        #expect(MapType(rawValue: 999).counting == .none)
    }

    @Test func memoryIsRereadOnlyWhereItMovesWithTheCount() {
        #expect(MapType.hash.memoryTracksEntries(flags: 0) == false)
        #expect(MapType.hash.memoryTracksEntries(flags: 1) == true)
        #expect(MapType(name: "lpm_trie")!.memoryTracksEntries(flags: 1) == true)
        #expect(MapType.stackTrace.memoryTracksEntries(flags: 0) == false)
        #expect(MapType.array.memoryTracksEntries(flags: 0) == false)
    }
}

struct PinScannerTests {
    @Test func readsBpffsMountsWithEscapes() throws {
        let table = Scratch.path("mounts")
        try """
        sysfs /sys sysfs rw 0 0
        bpf /sys/fs/bpf bpf rw,relatime 0 0
        none /run/my\\040bpf bpf rw 0 0
        tmpfs /tmp tmpfs rw 0 0
        """.write(to: table, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: table) }
        #expect(PinScanner.bpffsMounts(mountsTable: table.path) == ["/sys/fs/bpf", "/run/my bpf"])
        #expect(PinScanner.bpffsMounts(mountsTable: "/nonexistent") == [])
    }
}
