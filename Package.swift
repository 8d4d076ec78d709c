// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ebpf-map-shipper",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Shipper", targets: ["Shipper"]),
        .executable(name: "ebpf-map-shipper", targets: ["ebpf-map-shipper"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "SystemLibbpf",
            path: "Sources/SystemLibraries/libbpf",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        .target(
            name: "CLibBPF",
            dependencies: ["SystemLibbpf"],
            exclude: ["bpf"]
        ),
        .target(
            name: "Shipper",
            dependencies: [
                "CLibBPF",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "ebpf-map-shipper",
            dependencies: [
                "Shipper",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ShipperTests",
            dependencies: [
                "Shipper",
                // Built so the CLI tests can run the real binary.
                "ebpf-map-shipper",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["../Fixtures"]
        ),
    ]
)
