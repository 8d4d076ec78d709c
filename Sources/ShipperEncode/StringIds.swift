
/// Remote-write 2.0 symbols without hashing in the steady state: every string a cache's series
/// use is numbered once (`StringIds`), and each request maps those numbers to its own refs
/// through a flat array (`RequestSymbols`), so a series is written from its labels' ids with two
/// array reads per string.

/// Strings numbered in the order first seen; id 0 is the empty string. Grows until `MapSeriesCache`
/// starts it afresh.
struct StringIds {
    private var ids: [String: UInt32] = ["": 0]
    private(set) var strings: [String] = [""]

    var count: Int { strings.count }

    mutating func id(_ string: String) -> UInt32 {
        if let id = ids[string] { return id }
        let id = UInt32(strings.count)
        ids[string] = id
        strings.append(string)
        return id
    }

    /// Every string as a Request.symbols entry, in id order: for a request whose refs are ids.
    func write(to sink: inout ByteSink) {
        for string in strings { RemoteWriteV2Wire.appendSymbol(string, to: &sink) }
    }
}

/// One request's symbols, as string ids in ref order: ref 0 is id 0, the empty string, as the
/// spec requires. `start` begins a request without clearing anything: an id's ref counts only if
/// it was given in the current request.
struct RequestSymbols {
    private var refOf: [UInt32] = []
    private var requestOf: [UInt32] = []
    private var request: UInt32 = 0
    /// The string id of each ref.
    private(set) var ids: [UInt32] = [0]

    mutating func start(idCount: Int) {
        if refOf.count < idCount {
            refOf += repeatElement(0, count: idCount - refOf.count)
            requestOf += repeatElement(0, count: idCount - requestOf.count)
        }
        request &+= 1
        if request == 0 {  // wrapped: no stale entry may look current
            for index in requestOf.indices { requestOf[index] = 0 }
            request = 1
        }
        ids.removeAll(keepingCapacity: true)
        ids.append(0)
        requestOf[0] = request
        refOf[0] = 0
    }

    /// The ref of string `id` in this request, given the next one if new.
    mutating func ref(_ id: UInt32) -> UInt32 {
        let index = Int(id)
        if requestOf[index] == request { return refOf[index] }
        let ref = UInt32(ids.count)
        requestOf[index] = request
        refOf[index] = ref
        ids.append(id)
        return ref
    }

    /// Makes the refs those of `ids` (string ids in ref order, starting with 0), as a request
    /// that gave them in that order would have them.
    mutating func restore(_ ids: [UInt32]) {
        for (ref, id) in ids.enumerated() {
            requestOf[Int(id)] = request
            refOf[Int(id)] = UInt32(ref)
        }
        self.ids = ids
    }

    /// The Request.symbols entries, in ref order; `strings` by id.
    func write(_ strings: [String], to sink: inout ByteSink) {
        for id in ids { RemoteWriteV2Wire.appendSymbol(strings[Int(id)], to: &sink) }
    }
}
