// swift-tools-version:6.0
import PackageDescription

/// The linker needs an absolute path to the function order file.
let packageRoot = String(#filePath.dropLast("/Package.swift".count))

let package = Package(
    name: "ebpf-map-shipper",
    platforms: [.macOS(.v15)],
    products: [
        // The collector alone, for bench/CollectBench.
        .library(name: "ShipperCollect", targets: ["ShipperCollect"]),
        .executable(name: "ebpf-map-shipper", targets: ["ebpf-map-shipper"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        .systemLibrary(
            name: "SystemProtobufC",
            path: "Sources/SystemLibraries/libprotobuf-c",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .systemLibrary(
            name: "SystemSnappy",
            path: "Sources/SystemLibraries/snappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]
        ),
        .systemLibrary(
            name: "SystemCurl",
            path: "Sources/SystemLibraries/libcurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "CRemoteWrite",
            dependencies: ["SystemProtobufC", "SystemSnappy", "SystemCurl"]
        ),
        .systemLibrary(
            name: "SystemZlib",
            path: "Sources/SystemLibraries/zlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "CChecksum",
            dependencies: ["SystemZlib"]
        ),
        .systemLibrary(
            name: "SystemLibcrypto",
            path: "Sources/SystemLibraries/libcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "CDigest",
            dependencies: ["SystemLibcrypto"]
        ),
        // The stages, in the order data takes: each depends only on the ones before it
        // (docs/architecture.md; ArchitectureTests holds that document to this list).
        .target(
            name: "ShipperCollect",
            dependencies: [
                "CLibBPF",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ShipperMetrics",
            dependencies: ["ShipperCollect"]
        ),
        .target(
            name: "ShipperEncode",
            dependencies: ["ShipperCollect", "ShipperMetrics", "CRemoteWrite"]
        ),
        .target(
            name: "ShipperBuffer",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "CChecksum",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ShipperConfig",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "ShipperEncode",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "ShipperSend",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "ShipperEncode", "ShipperBuffer", "ShipperConfig", "CRemoteWrite",
                "CDigest",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShipperRun",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "ShipperEncode", "ShipperBuffer", "ShipperConfig", "ShipperSend",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ebpf-map-shipper",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "ShipperEncode", "ShipperConfig", "ShipperRun",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["function-order.txt"],
            // Release: linked by lld with packed relative relocations (DT_RELR, glibc >= 2.36), so
            // the loader reads 15 KiB of relocations at start instead of 2 MiB; and with the
            // functions a running shipper executes laid out together (bench/function-order), so
            // fewer pages of code are resident.
            linkerSettings: [
                .unsafeFlags([
                    "-Xclang-linker", "-fuse-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                    "-Xlinker", "--symbol-ordering-file=\(packageRoot)/Sources/ebpf-map-shipper/function-order.txt",
                    "-Xlinker", "--no-warn-symbol-ordering",
                ], .when(configuration: .release))
            ]
        ),
        .testTarget(
            name: "ShipperTests",
            dependencies: [
                "ShipperCollect", "ShipperMetrics", "ShipperEncode", "ShipperBuffer", "ShipperConfig", "ShipperSend", "ShipperRun",
                // Built so the CLI tests can run the real binary.
                "ebpf-map-shipper",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["../Fixtures"]
        ),
    ]
)
