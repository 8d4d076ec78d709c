
/// The version reported by `--version` and, later, in User-Agent and build_info.
public enum ShipperVersion {
    public static let current = "0.1.0"
}
