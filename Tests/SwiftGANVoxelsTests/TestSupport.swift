import Foundation
import XCTest
@testable import SwiftGANVoxels

/// A fresh temporary folder for one test, removed at the end of the test.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "swiftgan-voxels-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Writes bytes to `folder/name` and returns the path.
func writeFile(_ bytes: [UInt8], named name: String, in folder: String) throws -> String {
    let path = (folder as NSString).appendingPathComponent(name)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Writes text to `folder/name` and returns the path.
func writeFile(_ text: String, named name: String, in folder: String) throws -> String {
    try writeFile(Array(text.utf8), named: name, in: folder)
}

/// Asserts that `body` throws a `DataError` whose description names `path` and contains `fragment`.
func assertDataError<T>(_ body: @autoclosure () throws -> T, path: String, contains fragment: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as DataError {
        let text = error.description
        XCTAssertTrue(text.contains(path), "'\(text)' does not name \(path)", file: file, line: line)
        XCTAssertTrue(text.contains(fragment), "'\(text)' does not contain '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("expected DataError, got \(error)", file: file, line: line)
    }
}

/// A deterministic pseudo-random generator for test data.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

/// A random binary grid with roughly `fraction` of its voxels occupied.
func randomGrid(size: Int, fraction: Float, seed: UInt64) -> VoxelGrid {
    var random = TestRandom(seed: seed)
    return VoxelGrid(size: size) { _, _, _ in random.unit() < fraction ? 1 : 0 }
}

/// A binary ball of `radius` voxels centred in a grid of `size` (voxel centres within the radius).
func ballGrid(size: Int, radius: Float) -> VoxelGrid {
    let c = Float(size) / 2
    return VoxelGrid(size: size) { x, y, z in
        let d = SIMD3<Float>(Float(x) + 0.5, Float(y) + 0.5, Float(z) + 0.5) - SIMD3(repeating: c)
        return (d * d).sum().squareRoot() <= radius ? 1 : 0
    }
}

/// The shared data folder (`../shared/data` from the package root), or nil when it is absent.
func sharedDataFolder() -> String? {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/SwiftGANVoxelsTests/TestSupport.swift -> package root
    let candidates = [url.deletingLastPathComponent().appendingPathComponent("shared/data").path,
                      url.appendingPathComponent("shared/data").path]
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}
