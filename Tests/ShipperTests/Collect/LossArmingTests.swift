import Testing

@testable import ShipperCollect

/// When `auto` loss tracking attaches a map type's refusal hooks, collection by collection.
struct LossArmingTests {
    static func map(
        _ id: UInt32, _ type: MapType = .hash, entries: UInt64?, max: UInt32 = 1000, flags: UInt32 = 0
    ) -> MapStats {
        MapStats(
            id: id, name: "m\(id)", type: type, flags: flags, keySize: 4, valueSize: 8, maxEntries: max,
            entries: entries, countMethod: entries == nil ? nil : .kfunc, memoryBytes: nil, pinned: [], programs: [])
    }

    static let queue = MapType(name: "queue")!
    static let lpm = MapType(name: "lpm_trie")!

    /// Feeds one collection; returns the armed types.
    static func collect(_ arming: inout LossArming, _ maps: [MapStats], tracked: Set<MapType>? = nil) -> Set<MapType> {
        arming.update(maps) { tracked?.contains($0) ?? true }.types
    }

    @Test func armsWithinATenthOfCapacity() {
        var arming = LossArming(onlineCPUs: 2)
        let clear = arming.update([Self.map(1, entries: 899)]) { _ in true }
        #expect(clear.types.isEmpty)
        #expect(clear.changes.isEmpty)
        // 1 of growth, margin still 100: 900 + 100 reaches 1000.
        let near = arming.update([Self.map(1, entries: 900)]) { _ in true }
        #expect(near.types == [.hash])
        #expect(near.changes == [.armed(.hash, mapID: 1, name: "m1", entries: 900, maxEntries: 1000)])
    }

    @Test func aMapGrowingFastIsArmedBeforeItCanFill() {
        var arming = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&arming, [Self.map(1, entries: 100)]).isEmpty)
        // Grew 299: a margin of 598, and 401 + 598 < 1000.
        #expect(Self.collect(&arming, [Self.map(1, entries: 399)]).isEmpty)
        // Grew 1 then 300 more: 400 + 600 reaches 1000.
        var other = LossArming(onlineCPUs: 2)
        _ = Self.collect(&other, [Self.map(1, entries: 100)])
        #expect(Self.collect(&other, [Self.map(1, entries: 400)]) == [.hash])
    }

    @Test func noPreallocMapsAllowForThePerCPUCounterSlack() {
        let noPrealloc = MapType.noPreallocFlag
        var arming = LossArming(onlineCPUs: 128)
        // 32 x 128 = 4096 of slack: 5903 + 4096 < 10000, 5904 + 4096 reaches it.
        #expect(Self.collect(&arming, [Self.map(1, entries: 5903, max: 10000, flags: noPrealloc)]).isEmpty)
        var again = LossArming(onlineCPUs: 128)
        #expect(Self.collect(&again, [Self.map(1, entries: 5904, max: 10000, flags: noPrealloc)]) == [.hash])
        // Preallocated, or on 2 CPUs, the tenth applies.
        var prealloc = LossArming(onlineCPUs: 128)
        #expect(Self.collect(&prealloc, [Self.map(1, entries: 5904, max: 10000)]).isEmpty)
        var small = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&small, [Self.map(1, entries: 5904, max: 10000, flags: noPrealloc)]).isEmpty)
        // An LPM trie is always no-prealloc but counts exactly: no slack.
        var trie = LossArming(onlineCPUs: 128)
        #expect(Self.collect(&trie, [Self.map(1, Self.lpm, entries: 5904, max: 10000, flags: noPrealloc)]).isEmpty)
    }

    @Test func disarmsAfterTenCollectionsWellClear() {
        var arming = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&arming, [Self.map(1, entries: 950)]) == [.hash])
        // 850 is below the margin but within twice it: the type stays armed however long.
        for _ in 0..<20 { #expect(Self.collect(&arming, [Self.map(1, entries: 850)]) == [.hash]) }
        // 700 is well clear: nine collections keep it, the tenth disarms.
        for _ in 0..<9 { #expect(Self.collect(&arming, [Self.map(1, entries: 700)]) == [.hash]) }
        let last = arming.update([Self.map(1, entries: 700)]) { _ in true }
        #expect(last.types.isEmpty)
        #expect(last.changes == [.disarmed(.hash)])
    }

    @Test func nearAgainRestartsTheCount() {
        var arming = LossArming(onlineCPUs: 2)
        _ = Self.collect(&arming, [Self.map(1, entries: 950)])
        for _ in 0..<9 { _ = Self.collect(&arming, [Self.map(1, entries: 100)]) }
        // 100 to 950 is growth too; near again, then nine clear collections are not enough.
        #expect(Self.collect(&arming, [Self.map(1, entries: 950)]) == [.hash])
        for _ in 0..<9 { #expect(Self.collect(&arming, [Self.map(1, entries: 100)]) == [.hash]) }
        #expect(Self.collect(&arming, [Self.map(1, entries: 100)]).isEmpty)
    }

    @Test func anyNearMapArmsItsTypeAndOnlyItsType() {
        var arming = LossArming(onlineCPUs: 2)
        let maps = [
            Self.map(1, entries: 10), Self.map(2, entries: 999), Self.map(3, Self.lpm, entries: 10),
            Self.map(4, .lruHash, entries: 1000),
        ]
        let result = arming.update(maps) { _ in true }
        #expect(result.types == [.hash])
        #expect(result.changes == [.armed(.hash, mapID: 2, name: "m2", entries: 999, maxEntries: 1000)])
        // The LRU type is the caller's to keep armed, always.
        #expect(LossArming.alwaysArmed(.lruHash))
        #expect(!LossArming.alwaysArmed(.hash))
    }

    @Test func anUnknownFillArmsItsType() {
        var arming = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&arming, [Self.map(1, Self.queue, entries: nil, max: 4)]) == [Self.queue])
        // A type this kernel does not let be counted is never armed.
        var untracked = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&untracked, [Self.map(1, Self.queue, entries: nil)], tracked: [.hash]).isEmpty)
    }

    @Test func aRingBufferArmsWhenHalfFull() {
        var arming = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&arming, [Self.map(1, .ringbuf, entries: 2047, max: 4096)]).isEmpty)
        var half = LossArming(onlineCPUs: 2)
        #expect(Self.collect(&half, [Self.map(1, .ringbuf, entries: 2048, max: 4096)]) == [.ringbuf])
    }

    @Test func aTypeWhoseMapsAreGoneDisarms() {
        var arming = LossArming(onlineCPUs: 2)
        _ = Self.collect(&arming, [Self.map(1, entries: 1000)])
        for _ in 0..<9 { #expect(Self.collect(&arming, []) == [.hash]) }
        #expect(Self.collect(&arming, []).isEmpty)
    }
}
