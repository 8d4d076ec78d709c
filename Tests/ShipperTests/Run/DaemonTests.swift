import Foundation
import Testing

/// The `run` daemon as a process: signals and a world that goes away around it.
@Suite(.requiresBPF, .timeLimit(.minutes(1)))
struct DaemonTests {
    /// `run 2>&1 | head -1`: once the reader is gone every log line meets a closed pipe.
    @Test func aClosedLogPipeDoesNotKillTheDaemon() async throws {
        let receiver = try FakeReceiver(script: [])
        let daemon = try ShipperDaemon(
            config: "interval: 100ms\nmaps: {include: ['^never-matches$']}\nremote_write:\n  - url: \(receiver.url)\n",
            arguments: ["--log-level", "debug"])
        #expect(await eventually(within: 30) { daemon.log.contains("msg=collected") })
        daemon.closeLog()
        let before = receiver.requests.count
        // Still pushing every 100ms, and logging every cycle into the closed pipe.
        #expect(await eventually(within: 30) { receiver.requests.count >= before + 10 }, "\(receiver.requests.count - before) requests")
        #expect(daemon.isRunning)
        #expect(await daemon.terminate() == 0)
    }

    /// The field reproduction: a world-writable buffer.dir holding `<endpoint> -> /etc`.
    @Test func aBufferDirectoryOthersCanWriteStopsTheShipperInOneLine() async throws {
        let root = Scratch.path("unsafe").path
        let victim = root + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: victim)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let buffer = root + "/b"
        try FileManager.default.createDirectory(atPath: buffer, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: buffer)
        try FileManager.default.createSymbolicLink(atPath: buffer + "/x", withDestinationPath: victim)
        // Loss tracking off: this host refuses it, in an info line of its own.
        let config = "maps: {include: ['^never-matches$'], loss_tracking: off}\nremote_write:\n  - name: x\n    url: http://127.0.0.1:9/\nbuffer: {dir: \(buffer)}\n"
        for command in ["once", "run"] {
            let file = try writeConfig(config)
            defer { removeConfig(file) }
            let result = try await ShipperBinary.run([command, "--config", file.path])
            #expect(result.status == 1)
            #expect(result.stderr == "ebpf-map-shipper: error: buffer directory \(buffer): is writable by other users (mode 777); "
                + "another user could plant files in it (chmod 700 \(buffer))\n")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: buffer)
        let file = try writeConfig(config)
        defer { removeConfig(file) }
        let result = try await ShipperBinary.run(["once", "--config", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.hasSuffix("is a symbolic link or not a directory; the shipper never follows links in its buffer (remove it, or point buffer.dir elsewhere)\n"))
        let mode = try FileManager.default.attributesOfItem(atPath: victim)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o755)
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty)
    }
}
