// swift-tools-version:5.10
// SwiftGAN: generative adversarial networks in Swift on oneDNN and OpenBLAS.
import PackageDescription

let package = Package(
    name: "SwiftGAN",
    products: [
        .executable(name: "swiftgan", targets: ["SwiftGANCLI"]),
        .library(name: "SwiftGAN", targets: ["SwiftGAN"]),
    ],
    targets: [
        // C libraries from Debian packages (see README: `scripts/setup.sh`).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CStb", path: "Sources/CStb", providers: [.apt(["libstb-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSupport", path: "Sources/CSupport"),

        // Buffer-level kernels: a plain reference loop and the library fast path for each.
        .target(name: "SwiftGANKernels", dependencies: ["CDNNL", "COpenBLAS", "CSupport"]),
        // Tensor, differentiable ops, reverse-mode autodiff.
        .target(name: "SwiftGANTensor", dependencies: ["SwiftGANKernels"]),
        // Module, layers, losses, initializers, optimizers.
        .target(name: "SwiftGANNN", dependencies: ["SwiftGANTensor"]),
        // File formats (IDX, PNG, GIF, safetensors) and datasets. Knows no Tensor.
        .target(name: "SwiftGANData", dependencies: ["CStb", "CZlib"]),
        // Sample-quality metrics on feature arrays (Frechet distance, KID, precision/recall, density/coverage).
        .target(name: "SwiftGANMetrics", dependencies: ["COpenBLAS"]),
        // Voxel grids and meshes: readers (IDX, binvox, npy, OFF, OBJ), voxelization, marching cubes, mesh writers,
        // a CPU renderer for previews, shape-set metrics. Knows no Tensor.
        .target(name: "SwiftGANVoxels", dependencies: ["SwiftGANData"]),
        // GAN models, training loop, checkpoints, sampling, interpolation, evaluation.
        .target(name: "SwiftGAN", dependencies: ["SwiftGANNN", "SwiftGANData", "SwiftGANMetrics", "SwiftGANVoxels"]),
        // The `swiftgan` command-line tool.
        .executableTarget(name: "SwiftGANCLI", dependencies: ["SwiftGAN"]),

        .testTarget(name: "SwiftGANKernelsTests", dependencies: ["SwiftGANKernels"]),
        .testTarget(name: "SwiftGANTensorTests", dependencies: ["SwiftGANTensor"]),
        .testTarget(name: "SwiftGANNNTests", dependencies: ["SwiftGANNN"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "SwiftGANDataTests", dependencies: ["SwiftGANData"], exclude: ["Fixtures"]),
        .testTarget(name: "SwiftGANMetricsTests", dependencies: ["SwiftGANMetrics"], exclude: ["Fixtures"]),
        .testTarget(name: "SwiftGANTests", dependencies: ["SwiftGAN"]),
        .testTarget(name: "SwiftGANCLITests", dependencies: ["SwiftGAN"]),
        .testTarget(name: "SwiftGANVoxelsTests", dependencies: ["SwiftGANVoxels"]),
    ]
)
