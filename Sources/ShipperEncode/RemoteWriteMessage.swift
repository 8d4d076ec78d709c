/// The protobuf message a request body holds; the raw values are the names Prometheus's
/// `protobuf_message` setting takes.
public enum RemoteWriteMessage: String, Sendable, CaseIterable {
    /// Remote-write 1.0.
    case v1 = "prometheus.WriteRequest"
    /// Remote-write 2.0.
    case v2 = "io.prometheus.write.v2.Request"

    /// The protocol's major version: what `ebpf_map_shipper_remote_write_version` shows.
    package var version: Int { self == .v1 ? 1 : 2 }
}
