
/// The range every duration, size and count of the config may take, in one place. Each range
/// stays far inside what the code can represent (timers take dates, backoff doubles in
/// milliseconds), and outside it a value is a typo, not a choice: `10000000h` or `1ms` fails
/// `check-config` with the range, instead of crashing `run` or sending hundreds of requests a second.
enum ConfigBounds {
    /// At least 100ms: one cycle costs a collection and a request per endpoint.
    static let interval: ClosedRange<Duration> = .milliseconds(100)...(.seconds(86_400))
    /// Long enough to see a program that runs ten times a second; at most half the interval too,
    /// checked with it.
    static let sampleWindow: ClosedRange<Duration> = .milliseconds(100)...(.seconds(600))
    /// Per request; the `once --timeout` range too.
    static let timeout: ClosedRange<Duration> = .milliseconds(100)...(.seconds(3_600))
    /// Retry delays: at least 10ms, so no retry path can spin.
    static let backoff: ClosedRange<Duration> = .milliseconds(10)...(.seconds(3_600))
    static let bufferMaxAge: ClosedRange<Duration> = .seconds(1)...(.seconds(366 * 86_400))
    /// At least 1MiB: the buffer's segments are an eighth of it.
    static let bufferMaxSize: ClosedRange<UInt64> = (1 << 20)...(1 << 40)
    /// A request of 100,000 samples stays far below the buffer's 64 MiB record bound.
    static let maxSamplesPerSend: ClosedRange<Int> = 1...100_000
    static let maxWalkKeys: ClosedRange<Int> = 1...1_000_000_000

    /// Input limits, checked at load with one line each, so that no config can make the shipper
    /// use memory or time out of proportion to what a fleet's config needs. A config file of at
    /// most 1 MiB: a fleet's is a few KiB.
    static let fileBytes = 1 << 20
    /// Nodes after YAML aliases are expanded: a config of aliases cannot multiply itself.
    static let nodes = 10_000
    /// Any one value after `${VAR}` expansion.
    static let valueBytes = 4096
    /// Label names and values, and labels per series, within Mimir's default limits (1024, 2048,
    /// 30), so that what the shipper sends is accepted there: external labels and grouping labels
    /// together leave room for the shipper's own (at most 10).
    static let labelNameBytes = 1024
    static let labelValueBytes = 2048
    static let configuredLabels = 20
    static let headers = 64
    static let regexBytes = 1024
    static let regexes = 256
}
