import XCTest
@testable import SwiftGANVoxels

/// Writes meshes and previews of real shapes for inspection by eye and with other tools (trimesh).
///
/// Skipped unless `SWIFTGAN_VOXELS_ARTIFACTS` names an output folder:
/// `SWIFTGAN_VOXELS_ARTIFACTS=/tmp/voxels swift test --filter ManualCheckTests`.
final class ManualCheckTests: XCTestCase {
    func testWriteArtifacts() throws {
        guard let out = ProcessInfo.processInfo.environment["SWIFTGAN_VOXELS_ARTIFACTS"] else {
            throw XCTSkip("set SWIFTGAN_VOXELS_ARTIFACTS=<folder> to write meshes and previews of real shapes")
        }
        guard let data = sharedDataFolder() else { throw XCTSkip("../shared/data is not present") }
        let upAxis = ProcessInfo.processInfo.environment["SWIFTGAN_VOXELS_UP"].flatMap { name in
            Axis.allCases.first { "\($0)" == name }
        }
        let chairs = try VoxelIO.readIDX(data + "/voxels-modelnet10/chair-train-voxels32-idx4-ubyte.gz")
        let binvoxFolder = data + "/voxels-shapenet-chairs"
        let binvox = try FileManager.default.contentsOfDirectory(atPath: binvoxFolder).filter { $0.hasSuffix(".binvox") }
            .sorted().prefix(4).map { try VoxelIO.readBinvox(binvoxFolder + "/" + $0) }

        var modelNetOptions = RenderOptions()
        modelNetOptions.upAxis = upAxis ?? .z
        var shapeNetOptions = RenderOptions()
        shapeNetOptions.upAxis = upAxis ?? .y
        try VoxelPreview.writePNG(Array(chairs.prefix(8)), to: out + "/modelnet-chairs.png", columns: 2,
                                  options: modelNetOptions)
        try VoxelPreview.writePNG(Array(chairs.prefix(8)), to: out + "/modelnet-chairs-blocky.png", columns: 2,
                                  style: .blocky, options: modelNetOptions)
        try VoxelPreview.writePNG(binvox, to: out + "/shapenet-chairs.png", columns: 2, options: shapeNetOptions)
        try VoxelPreview.writePNG(binvox.map { $0.resampled(to: 32) }, to: out + "/shapenet-chairs-32.png", columns: 2,
                                  options: shapeNetOptions)

        let smooth = MarchingCubes.mesh(from: chairs[0])
        try MeshIO.writeOBJ(smooth, to: out + "/chair0-mc.obj")
        try MeshIO.writeSTL(smooth, to: out + "/chair0-mc.stl")
        try MeshIO.writePLY(smooth, to: out + "/chair0-mc.ply")
        try MeshIO.writePLY(smooth, to: out + "/chair0-mc-ascii.ply", encoding: .ascii)
        let big = MarchingCubes.mesh(from: binvox[0])
        try MeshIO.writeSTL(big, to: out + "/shapenet0-mc.stl")
        try MeshIO.writeOBJ(BlockyMesh.mesh(from: chairs[0]), to: out + "/chair0-blocky.obj")
        print("chair0 MC: \(smooth.vertices.count) vertices, \(smooth.triangles.count) triangles, volume \(smooth.signedVolume), voxels \(chairs[0].occupiedCount)")

        // Timing: 64 shapes at 128x128, one view each.
        let start = Date()
        let sheet = VoxelPreview.renderSheet(Array(chairs.prefix(64)), columns: 8, imageSize: 128, options: modelNetOptions)
        let seconds = Date().timeIntervalSince(start)
        try ImageIO.writePNG(sheet, to: out + "/modelnet-64.png")
        print("rendered 64 shapes at 128 px in \(seconds) s")
        let startMetrics = Date()
        let scores = VoxelMetrics.compare(generated: Array(chairs[0..<100]), reference: Array(chairs[100..<200]))
        let chamfer = VoxelMetrics.compare(generated: Array(chairs[0..<100]), reference: Array(chairs[100..<200]),
                                           distance: .chamfer)
        print("chairs 0..<100 vs 100..<200: IoU MMD \(scores.minimumMatchingDistance) COV \(scores.coverage); Chamfer MMD \(chamfer.minimumMatchingDistance) COV \(chamfer.coverage) in \(Date().timeIntervalSince(startMetrics)) s")
    }
}
