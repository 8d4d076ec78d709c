import Foundation
import Logging

/// The loaded programs: listed each cycle with what the kernel says of each, and the run-time
/// statistics that `programs.stats: on` holds on, or `sampled` turns on for a window.
extension Collector {
    /// Turns run-time statistics on for `.on`, or checks that the kernel can for `.sampled`. A
    /// kernel that refuses (before Linux 5.8) leaves them off, said once: the run time and runs
    /// are then absent, the rest is reported.
    static func enableStatistics(
        _ mode: ProgramStatistics, window: Duration, logger: Logger
    ) -> (held: Int32?, sampler: ProgramSampler?) {
        guard mode != .off else { return (nil, nil) }
        do throws(BPFError) {
            let fd = try KernelObjects.enableStatistics()
            guard mode == .sampled else { return (fd, nil) }
            KernelObjects.close(statistics: fd)
            logger.info(
                "BPF run-time statistics are sampled: on for a window before each collection; each program's rates over the window are reported as the whole interval's (ebpf_prog_sampled_*)",
                metadata: ["programs.sample_window": "\(window.milliseconds)ms"])
            return (nil, ProgramSampler(window: window))
        } catch {
            logger.warning(
                "could not turn on BPF run-time statistics; program run time and runs are not reported",
                metadata: ["error": "\(error)", "hint": "BPF_ENABLE_STATS needs Linux >= 5.8; or set sysctl kernel.bpf_stats_enabled=1"])
            return (nil, nil)
        }
    }

    /// With `programs.stats: sampled`, turns statistics on now, for the window that the next
    /// collection ends: the daemon calls it one window before each collection is due. A collection
    /// with no window open opens one itself and waits it out.
    public func openSampleWindow() {
        guard let sampler else { return }
        do throws(BPFError) {
            try sampler.begin()
        } catch {
            failed(.programs, error, message: "could not turn on BPF run-time statistics for the sample window; the programs' rates are not reported this cycle")
        }
    }

    /// How long before a collection `openSampleWindow` should be called; nil unless sampling.
    public var sampleWindow: Duration? { sampler?.window }

    /// Whether programs' run time and runs are being counted: this collector holds statistics on,
    /// or `kernel.bpf_stats_enabled` is 1. Another process's descriptor is not seen: its counts
    /// go unreported rather than reported as if always counted.
    public var programStatisticsActive: Bool {
        statistics != nil
            || (try? String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    /// Lists every program but `own` (the shipper's) into `programs`, in id order with full names,
    /// and run time and runs only while statistics are on. A listing that fails keeps last
    /// cycle's programs, so that no series changes for one cycle.
    func listPrograms(leavingOut own: [UInt32]) throws(BPFError) {
        do throws(BPFError) {
            try injectFailure(.programs)
            var names: [UInt32: String] = [:]
            let counting = programStatisticsActive
            var programs: [ProgramStats] = []
            if let sampler, !sampler.isOpen {
                openSampleWindow()
                // This thread collects; it is never the cooperative pool's (Collector is not Sendable).
                if sampler.isOpen { Thread.sleep(forTimeInterval: sampler.window.seconds) }
            }
            for program in try KernelObjects.programs() where !own.contains(program.id) {
                programs.append(program)
            }
            sampler?.end(&programs)
            attachLinks(to: &programs)
            for index in programs.indices {
                programs[index].name = fullName(of: programs[index], known: &names)
                if !counting { (programs[index].runTimeNs, programs[index].runCount) = (nil, nil) }
            }
            fullNames = names
            self.programs = programs
        } catch where !error.isPermission {
            sampler?.cancel()
            failed(.programs, error)
        }
    }

    /// Takes out of `programs` those in `leavingOut` (another shipper's), and returns the names of
    /// the programs using each map, sorted, and the maps the programs taken out use.
    func programUsers(leavingOut shippers: Set<UInt32>) -> (names: [UInt32: [String]], leftOutMaps: Set<UInt32>) {
        var names: [UInt32: [String]] = [:]
        var leftOutMaps: Set<UInt32> = []
        if !shippers.isEmpty {
            programs.removeAll { program in
                guard shippers.contains(program.id) else { return false }
                leftOutMaps.formUnion(program.mapIDs)
                return true
            }
        }
        for program in programs {
            for id in Set(program.mapIDs) { names[id, default: []].append(program.name) }
        }
        for id in names.keys { names[id]?.sort() }
        return (names, leftOutMaps)
    }

    /// Adds to each program the links that attach it. Failing to list them (before Linux 5.8 there
    /// are none to list) leaves every program without, and is said once a minute.
    private func attachLinks(to programs: inout [ProgramStats]) {
        let links: [(program: UInt32, link: ProgramLink)]
        do throws(BPFError) {
            links = try KernelObjects.links()
        } catch {
            failed(.programs, error, message: "could not list the BPF links; the programs are reported without where they are attached")
            return
        }
        guard !links.isEmpty else { return }
        var byProgram: [UInt32: [ProgramLink]] = [:]
        for (program, link) in links { byProgram[program, default: []].append(link) }
        for index in programs.indices { programs[index].links = byProgram[programs[index].id] ?? [] }
    }

    /// The program's name as bpftool shows it: the kernel keeps 15 characters, so a name that
    /// long may be cut, and its full spelling comes from the program's BTF (once per program).
    /// `known` collects this cycle's full names.
    private func fullName(of program: ProgramStats, known: inout [UInt32: String]) -> String {
        guard program.name.utf8.count == 15 else { return program.name }
        let name = fullNames[program.id] ?? KernelObjects.fullProgramName(id: program.id) ?? program.name
        known[program.id] = name
        return name
    }
}
