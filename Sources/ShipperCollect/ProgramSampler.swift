import Foundation

/// `programs.stats: sampled`: run-time statistics on for a window before each collection, not for
/// the daemon's lifetime. Each program's run time and runs over the window, divided by its length,
/// are reported as its rates (`ProgramStats.sampled`), and stand for the whole interval: what ran
/// outside the windows is extrapolated, not counted. The statistics' cost (two clock reads per run
/// of every program) is paid for the window's share of the interval only.
///
/// Another process's statistics descriptor, or `kernel.bpf_stats_enabled`, may count outside the
/// window too; the window's difference is measured all the same.
final class ProgramSampler {
    let window: Duration
    private var open: Window?

    private struct Window {
        var fd: Int32
        var started: ContinuousClock.Instant
        /// Each program's run time and runs when the window opened.
        var baseline: [UInt32: (runTimeNs: UInt64, runCount: UInt64)]
    }

    init(window: Duration) {
        self.window = window
    }

    deinit {
        if let open { KernelObjects.close(statistics: open.fd) }
    }

    var isOpen: Bool { open != nil }

    /// Turns statistics on and notes every program's counters; nothing if a window is open.
    func begin() throws(BPFError) {
        guard open == nil else { return }
        let fd = try KernelObjects.enableStatistics()
        let programs: [ProgramStats]
        do throws(BPFError) {
            programs = try KernelObjects.programs()
        } catch {
            KernelObjects.close(statistics: fd)
            throw error
        }
        var baseline: [UInt32: (runTimeNs: UInt64, runCount: UInt64)] = [:]
        for program in programs { baseline[program.id] = (program.runTimeNs ?? 0, program.runCount ?? 0) }
        open = Window(fd: fd, started: .now, baseline: baseline)
    }

    /// Ends the window without measuring: the listing that would have failed.
    func cancel() {
        if let open { KernelObjects.close(statistics: open.fd) }
        open = nil
    }

    /// Ends the window: each of `programs` (listed just now, counters as the kernel gave them)
    /// gets its rates over it. A program loaded during the window counted from 0.
    func end(_ programs: inout [ProgramStats]) {
        guard let window = open else { return }
        open = nil
        let elapsed = ContinuousClock.now - window.started
        KernelObjects.close(statistics: window.fd)
        let seconds = elapsed.seconds
        guard seconds > 0 else { return }
        for index in programs.indices {
            let before = window.baseline[programs[index].id] ?? (0, 0)
            let (time, runs) = (programs[index].runTimeNs ?? 0, programs[index].runCount ?? 0)
            guard time >= before.runTimeNs, runs >= before.runCount else { continue }
            programs[index].sampled = ProgramRates(
                runTimeRatio: Double(time - before.runTimeNs) / 1e9 / seconds,
                runsPerSecond: Double(runs - before.runCount) / seconds, window: elapsed)
        }
    }
}

/// A program's rates measured over one sample window (`programs.stats: sampled`).
public struct ProgramRates: Sendable, Equatable {
    /// Seconds the program ran per second of the window: its share of one CPU.
    public var runTimeRatio: Double
    public var runsPerSecond: Double
    /// How long statistics were on: the rates are measured over it and extrapolated to the interval.
    public var window: Duration
}
