import Logging
import ShipperBuffer
import ShipperConfig
import ShipperSend

/// A reload's first half: everything the next config needs, built and checked while the running
/// pipeline goes on untouched. Only `commit` changes what runs; a plan that fails to build has
/// changed nothing, so every endpoint of the previous config keeps sending.
///
/// Endpoints are matched by name:
/// - same settings and buffer: kept as they are;
/// - other settings, same queue (same buffer directory, or memory only both times): the running
///   sender takes the new settings before its next request, and a disk buffer its new bounds;
/// - another queue (the buffer directory moved, or was turned on or off): a new sender on the new
///   queue, and the old queue's undelivered batches are moved to it, in order, before the first
///   new collection;
/// - gone: its sender stops, and its disk buffer stays where it is, for an endpoint of that name
///   configured later.
struct ReloadPlan {
    let pipeline: Pipeline
    /// What committing does to the running endpoints.
    let changes: Changes
    let removedGateways: [PushgatewaySender]

    struct Changes: Sendable {
        fileprivate var reconfigured: [(sender: RemoteWriteSender, settings: RemoteWriteSender.Settings?, limits: DiskQueue.Limits)]
        fileprivate var moved: [(old: RemoteWriteSender, new: RemoteWriteSender)]
        /// Running endpoints the next config does not have.
        fileprivate var removed: [RemoteWriteSender]
    }

    init(from running: Pipeline, _ current: Config, to next: Config, logger: Logger) throws {
        var reconfigured: [(sender: RemoteWriteSender, settings: RemoteWriteSender.Settings?, limits: DiskQueue.Limits)] = []
        var moved: [(old: RemoteWriteSender, new: RemoteWriteSender)] = []
        var opened: [any BatchQueue] = []
        do {
            pipeline = try Pipeline(
                config: next, logger: logger, collector: next.maps == current.maps && next.programs == current.programs ? running.cycle.collector : nil,
                metrics: running.metrics,
                sender: { endpoint, metrics in
                    let old = running.senders.first { $0.endpoint.name == endpoint.name }
                    if let old, current.buffer.directory(for: old.endpoint) == next.buffer.directory(for: endpoint) {
                        let same = old.endpoint == endpoint
                        let settings = same ? nil : try Pipeline.settings(endpoint, metrics: metrics, logger: logger)
                        reconfigured.append((old, settings, DiskQueue.Limits(endpoint, next.buffer)))
                        return old
                    }
                    let queue = try Pipeline.queue(for: endpoint, next.buffer, metrics: metrics, logger: logger)
                    opened.append(queue)
                    let sender = try Pipeline.sender(endpoint, queue: queue, metrics: metrics, logger: logger)
                    if let old { moved.append((old, sender)) }
                    return sender
                },
                gateway: { gateway, metrics in
                    try running.gateways.first { $0.gateway == gateway }
                        ?? Pipeline.gateway(gateway, metrics: metrics, logger: logger)
                })
        } catch {
            // Let go of the directories opened for the plan, so that a corrected reload can open them.
            for queue in opened { queue.release() }
            throw error
        }
        let names = Set(next.remoteWrite.map(\.name))
        changes = Changes(
            reconfigured: reconfigured, moved: moved, removed: running.senders.filter { !names.contains($0.endpoint.name) })
        let kept = pipeline.gateways
        removedGateways = running.gateways.filter { gateway in !kept.contains { $0 === gateway } }
    }
}

extension ReloadPlan.Changes {
    /// The running senders that stop: those whose queue moved, and the removed ones.
    var retired: [RemoteWriteSender] { moved.map(\.old) + removed }

    /// The second half, with collection paused: new settings and bounds for the senders that
    /// stay, every moved queue's batches handed to its successor, and the removed endpoints'
    /// buffers let go of, each said in one line. Blocks on disk I/O: call it off the cooperative pool.
    func commit(logger: Logger) {
        for change in reconfigured {
            if let settings = change.settings { change.sender.reconfigure(settings) }
            (change.sender.queue as? DiskQueue)?.update(limits: change.limits)
        }
        for (old, new) in moved {
            let samples = old.queue.pendingSamples
            old.queue.handOver(to: new.queue)
            logger.info(
                "endpoint's queue moved by the reload; its unsent samples go out first",
                metadata: [
                    "endpoint.name": "\(new.endpoint.name)", "buffer.from": "\(Self.place(old.queue))",
                    "buffer.to": "\(Self.place(new.queue))", "buffer.samples": "\(samples)",
                ])
        }
        for old in removed {
            var metadata: Logger.Metadata = ["endpoint.name": "\(old.endpoint.name)"]
            if let disk = old.queue as? DiskQueue {
                let (samples, bytes) = disk.summary
                metadata["buffer.dir"] = "\(disk.path)"
                metadata["buffer.samples"] = "\(samples)"
                metadata["buffer.bytes"] = "\(bytes)"
                logger.warning(
                    "endpoint removed by the reload; its unsent samples stay in its buffer directory and go out when an endpoint of that name is configured again",
                    metadata: metadata)
            } else {
                metadata["samples.dropped"] = "\(old.queue.pendingSamples)"
                logger.warning("endpoint removed by the reload; the samples it held in memory are dropped", metadata: metadata)
            }
            old.queue.release()
        }
    }

    private static func place(_ queue: any BatchQueue) -> String {
        (queue as? DiskQueue)?.path ?? "memory"
    }
}
