// swift-tools-version:6.0
// Run by bench/collect, never by `swift test` or CI.
import PackageDescription

let package = Package(
    name: "CollectBench",
    dependencies: [
        .package(name: "ebpf-map-shipper", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "collect-bench",
            dependencies: [
                .product(name: "ShipperCollect", package: "ebpf-map-shipper"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
