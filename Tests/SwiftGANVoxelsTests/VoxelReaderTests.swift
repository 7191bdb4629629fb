import XCTest
@testable import SwiftGANVoxels

final class BinvoxTests: XCTestCase {
    private func binvox(header: String, body: [UInt8]) -> [UInt8] { Array(header.utf8) + body }

    func testAxisOrderIsXThenZThenY() throws {
        // 4^3 grid: one occupied voxel at binvox index x*16 + z*4 + y for (x, y, z) = (1, 2, 3).
        let index = 1 * 16 + 3 * 4 + 2
        let body: [UInt8] = [0, UInt8(index), 1, 1, 0, UInt8(64 - index - 1)]
        let (grid, header) = try VoxelIO.decodeBinvox(
            binvox(header: "#binvox 1\ndim 4 4 4\ntranslate 0.5 -1 2\nscale 0.25\ndata\n", body: body), path: "t.binvox")
        XCTAssertEqual(grid.size, 4)
        XCTAssertEqual(grid.occupiedCount, 1)
        XCTAssertEqual(grid[1, 2, 3], 1)
        XCTAssertEqual(header.translate, SIMD3(0.5, -1, 2))
        XCTAssertEqual(header.scale, 0.25)
    }

    func testHeaderWithCommentsOptionalLinesAndCRLF() throws {
        let header = "#binvox 1\r\n# made by hand\r\n\r\ndim 2 2 2\r\nbbox 0 0 0 1 1 1\r\n#another\r\ndata\r\n"
        let (grid, info) = try VoxelIO.decodeBinvox(binvox(header: header, body: [1, 3, 0, 5]), path: "c.binvox")
        XCTAssertEqual(grid.occupiedCount, 3)
        XCTAssertEqual(info.translate, .zero)
        XCTAssertEqual(info.scale, 1)
    }

    func testRoundTripThroughFile() throws {
        let folder = try makeTemporaryDirectory(self)
        let grid = randomGrid(size: 12, fraction: 0.4, seed: 9)
        let path = folder + "/shape.binvox"
        try VoxelIO.writeBinvox(grid, to: path, header: .init(size: 0, translate: SIMD3(1, 2, 3), scale: 2))
        XCTAssertEqual(try VoxelIO.readBinvox(path), grid)
        XCTAssertEqual(try VoxelIO.decodeBinvox(VoxelIO.encodeBinvox(grid), path: "x").header.size, 12)
        // Long runs are split at 255.
        let full = VoxelGrid(size: 8, values: [Float](repeating: 1, count: 512))
        let bytes = VoxelIO.encodeBinvox(full)
        XCTAssertEqual(Array(bytes.suffix(6)), [1, 255, 1, 255, 1, 2])
        XCTAssertEqual(try VoxelIO.decodeBinvox(bytes, path: "f").grid, full)
    }

    func testMalformedFilesNameTheFileAndTheProblem() throws {
        let folder = try makeTemporaryDirectory(self)
        let good = "#binvox 1\ndim 2 2 2\ndata\n"
        let cases: [(String, [UInt8], String)] = [
            ("truncated-odd.binvox", binvox(header: good, body: [1, 4, 0]), "truncated run-length data"),
            ("truncated-short.binvox", binvox(header: good, body: [1, 4, 0, 3]), "cover 7 of the 8 voxels"),
            ("too-many.binvox", binvox(header: good, body: [1, 4, 0, 5]), "add up to more than the 8 voxels"),
            ("trailing.binvox", binvox(header: good, body: [1, 8, 0, 1]), "bytes after the run"),
            ("value.binvox", binvox(header: good, body: [2, 8]), "values are 0 or 1"),
            ("zero-count.binvox", binvox(header: good, body: [1, 0, 1, 8]), "count 0"),
            ("magic.binvox", binvox(header: "binvox 1\ndim 2 2 2\ndata\n", body: [1, 8]), "first line"),
            ("no-dim.binvox", binvox(header: "#binvox 1\nscale 1\ndata\n", body: [1, 8]), "no 'dim'"),
            ("bad-dim.binvox", binvox(header: "#binvox 1\ndim 2 x 2\ndata\n", body: [1, 8]), "'dim' needs"),
            ("no-data.binvox", Array("#binvox 1\ndim 2 2 2\n".utf8), "no 'data' line"),
            ("bad-scale.binvox", binvox(header: "#binvox 1\ndim 2 2 2\nscale big\ndata\n", body: [1, 8]), "'scale'"),
            ("non-cubic.binvox", binvox(header: "#binvox 1\ndim 2 2 3\ndata\n", body: [1, 12]), "not cubic"),
            ("version.binvox", binvox(header: "#binvox 2\ndim 2 2 2\ndata\n", body: [1, 8]), "version 2"),
            ("empty.binvox", [], "first line"),
        ]
        for (name, bytes, fragment) in cases {
            let path = try writeFile(bytes, named: name, in: folder)
            assertDataError(try VoxelIO.readBinvox(path), path: path, contains: fragment)
        }
        assertDataError(try VoxelIO.readBinvox(folder + "/missing.binvox"), path: "missing.binvox",
                        contains: "no such file")
    }
}

final class NPYTests: XCTestCase {
    /// A .npy file with the given header dictionary and data.
    private func npy(_ dictionary: String, _ data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        var header = Array(dictionary.utf8) + [0x0A]
        let prefix = major == 1 ? 10 : 12
        while (prefix + header.count) % 16 != 0 { header.insert(0x20, at: header.count - 1) }
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
        if major == 1 {
            bytes += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            bytes += [UInt8(header.count & 0xFF), UInt8(header.count >> 8), 0, 0]
        }
        return bytes + header + data
    }

    /// Values 0..<8 of a 2^3 grid where only C-order element 3 (x=0, y=1, z=1) is set.
    private let singleC: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 0]

    func testUInt8AndBoolAndVersions() throws {
        for major: UInt8 in [1, 2, 3] {
            let grids = try VoxelIO.decodeNPY(
                npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }", singleC, major: major), path: "a.npy")
            XCTAssertEqual(grids.count, 1)
            XCTAssertEqual(grids[0][0, 1, 1], 1)
            XCTAssertEqual(grids[0].occupiedCount, 1)
        }
        let bools = try VoxelIO.decodeNPY(
            npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2, 2)}", singleC), path: "b.npy")
        XCTAssertEqual(bools[0][0, 1, 1], 1)
        // Any non-zero integer is occupied.
        let bytes = try VoxelIO.decodeNPY(
            npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2)}", [0, 0, 0, 255, 0, 7, 0, 0]), path: "c.npy")
        XCTAssertEqual(bytes[0].values, [0, 0, 0, 1, 0, 1, 0, 0])
    }

    func testFloatAndIntegerTypesInBothByteOrders() throws {
        let values: [Float] = [0, 0.25, 0, 1, 0, 0.75, 0, 0]
        var f4 = [UInt8](), f8 = [UInt8](), i4be = [UInt8](), f2 = [UInt8]()
        for v in values {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { f4 += $0 }
            withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { f8 += $0 }
            withUnsafeBytes(of: Int32(v == 0 ? 0 : -3).bigEndian) { i4be += $0 }
        }
        // float16 bits for 0, 0.25, 0, 1, 0, 0.75, 0, 0
        for bits: UInt16 in [0, 0x3400, 0, 0x3C00, 0, 0x3A00, 0, 0] { withUnsafeBytes(of: bits.littleEndian) { f2 += $0 } }
        let shape = "'shape': (2, 2, 2)"
        XCTAssertEqual(try VoxelIO.decodeNPY(npy("{'descr': '<f4', 'fortran_order': False, \(shape)}", f4), path: "f4")[0].values, values)
        XCTAssertEqual(try VoxelIO.decodeNPY(npy("{'descr': '<f8', 'fortran_order': False, \(shape)}", f8), path: "f8")[0].values, values)
        XCTAssertEqual(try VoxelIO.decodeNPY(npy("{'descr': '<f2', 'fortran_order': False, \(shape)}", f2), path: "f2")[0].values, values)
        XCTAssertEqual(try VoxelIO.decodeNPY(npy("{'descr': '>i4', 'fortran_order': False, \(shape)}", i4be), path: "i4")[0].values,
                       values.map { $0 == 0 ? 0 : 1 })
    }

    func testFortranOrderAndCountAxis() throws {
        // Shape (2, 2, 2, 2): grid 1 has voxel (x=1, y=0, z=1). In Fortran order element (i0,i1,i2,i3)
        // is at i0 + 2*(i1 + 2*(i2 + 2*i3)) = 1 + 2*(1 + 2*(0 + 2*1)) = 11.
        var data = [UInt8](repeating: 0, count: 16)
        data[11] = 1
        let grids = try VoxelIO.decodeNPY(
            npy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2, 2, 2), }", data), path: "f.npy")
        XCTAssertEqual(grids.count, 2)
        XCTAssertEqual(grids[0].occupiedCount, 0)
        XCTAssertEqual(grids[1].occupiedCount, 1)
        XCTAssertEqual(grids[1][1, 0, 1], 1)
        // (count, 1, N, N, N) with one channel.
        let five = try VoxelIO.decodeNPY(
            npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 2, 2, 2), }", data), path: "g.npy")
        XCTAssertEqual(five.map { $0.occupiedCount }, [0, 1])
        XCTAssertEqual(five[1][0, 1, 1], 1, "C order: element 11 is grid 1, element 3 = (0, 1, 1)")
    }

    func testWriteAndReadBack() throws {
        let folder = try makeTemporaryDirectory(self)
        let grids = [randomGrid(size: 6, fraction: 0.5, seed: 1), randomGrid(size: 6, fraction: 0.2, seed: 2)]
        try VoxelIO.writeNPY(grids, to: folder + "/set.npy")
        XCTAssertEqual(try VoxelIO.readNPY(folder + "/set.npy"), grids)
        let soft = VoxelGrid(size: 2, values: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 1])
        try VoxelIO.writeNPY(soft, to: folder + "/soft.npy", dtype: .float32)
        XCTAssertEqual(try VoxelIO.readNPY(folder + "/soft.npy"), [soft])
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/soft.npy")))
        let dataStart = bytes.count - 8 * 4
        XCTAssertEqual(dataStart % 64, 0, "header padded to a multiple of 64 bytes")
        XCTAssertEqual(bytes[dataStart - 1], 0x0A)
        XCTAssertEqual(Int(bytes[8]) | Int(bytes[9]) << 8, dataStart - 10)
    }

    func testMalformedAndUnsupportedFiles() throws {
        let folder = try makeTemporaryDirectory(self)
        let cases: [(String, [UInt8], String)] = [
            ("magic.npy", Array("NUMPY not really".utf8), "magic"),
            ("complex.npy", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2, 2)}", [UInt8](repeating: 0, count: 64)), "dtype '<c8'"),
            ("unicode.npy", npy("{'descr': '<U1', 'fortran_order': False, 'shape': (2, 2, 2)}", [UInt8](repeating: 0, count: 32)), "unsupported"),
            ("record.npy", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 2, 2)}", []), "structured"),
            ("short.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2)}", [UInt8](repeating: 0, count: 31)), "truncated"),
            ("long.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2)}", [UInt8](repeating: 0, count: 9)), "1 bytes after"),
            ("range.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}", [0, 0, 0, 0x40]), "[0, 1]"),
            ("nan.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}", [0, 0, 0xC0, 0x7F]), "[0, 1]"),
            ("rank.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 2)}", [UInt8](repeating: 0, count: 8)), "expected shape"),
            ("channels.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 2, 2, 2)}", [UInt8](repeating: 0, count: 16)),
             "(count, 1, N, N, N), found [1, 2, 2, 2, 2]"),
            ("cubic.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3)}", [UInt8](repeating: 0, count: 12)), "not cubic"),
            ("header.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2}", singleC), "bad .npy header"),
            ("noshape.npy", npy("{'descr': '|u1', 'fortran_order': False}", singleC), "no 'shape'"),
            ("count0.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 2, 2, 2)}", []), "no grids"),
            ("huge.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 2, 2, 2)}", []), "too large"),
            ("version.npy", [0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0], "version 9"),
        ]
        for (name, bytes, fragment) in cases {
            let path = try writeFile(bytes, named: name, in: folder)
            assertDataError(try VoxelIO.readNPY(path), path: path, contains: fragment)
        }
    }
}

final class IDXVoxelTests: XCTestCase {
    func testWriteAndReadBackAndShapes() throws {
        let folder = try makeTemporaryDirectory(self)
        let grids = (0..<3).map { randomGrid(size: 5, fraction: 0.3, seed: UInt64($0)) }
        let path = folder + "/shapes-idx4-ubyte.gz"
        try VoxelIO.writeIDX(grids, to: path)
        XCTAssertEqual(try VoxelIO.readIDX(path), grids)
        XCTAssertEqual(try VoxelIO.load(path), grids)
        XCTAssertEqual(try VoxelIO.load(path, size: 10).map { $0.size }, [10, 10, 10])
        // 3-D IDX files are images, not voxel grids.
        let images = folder + "/images-idx3-ubyte"
        try IDX.write(IDXArray(shape: [2, 3, 3], bytes: [UInt8](repeating: 0, count: 18)), to: images, compressed: false)
        assertDataError(try VoxelIO.readIDX(images), path: images, contains: "4-D")
        let flat = folder + "/flat-idx4-ubyte"
        try IDX.write(IDXArray(shape: [1, 2, 3, 3], bytes: [UInt8](repeating: 0, count: 18)), to: flat, compressed: false)
        assertDataError(try VoxelIO.readIDX(flat), path: flat, contains: "not cubic")
    }

    func testLoadFolderReadsEveryShapeFile() throws {
        let folder = try makeTemporaryDirectory(self)
        let a = randomGrid(size: 4, fraction: 0.5, seed: 1)
        let b = randomGrid(size: 8, fraction: 0.5, seed: 2)
        try VoxelIO.writeBinvox(a, to: folder + "/a.binvox")
        try VoxelIO.writeNPY(b, to: folder + "/b.npy")
        _ = try writeFile("notes", named: "README.md", in: folder)
        let loaded = try VoxelIO.load(folder, size: 8)
        XCTAssertEqual(loaded, [a.resampled(to: 8), b])
        assertDataError(try VoxelIO.load(folder), path: "b.npy", contains: "differs")
        let empty = try makeTemporaryDirectory(self)
        assertDataError(try VoxelIO.load(empty), path: empty, contains: "no shape files")
    }
}

final class FragmentRemovalTests: XCTestCase {
    func testSmallLooseSpecksAreRemovedAndPartsKept() {
        let n = 12
        var grid = VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n))
        func set(_ x: Int, _ y: Int, _ z: Int, _ v: Float = 0.9) { grid.values[(x * n + y) * n + z] = v }
        for x in 1..<11 { for y in 1..<11 { for z in 1..<3 { set(x, y, z) } } }    // a 10x10x2 slab: 200 voxels
        for z in 5..<10 { set(5, 5, z) }                                            // a 5-voxel pole, apart: 2.5%, kept
        set(10, 10, 8)                                                              // one speck: 0.5%, removed
        set(0, 0, 11); set(0, 1, 11)                                                // two voxels touching by a face: 1%, removed
        set(8, 8, 8, 0.3)                                                           // below the occupancy threshold: not a part
        let (cleaned, removed) = grid.removingFragments()
        XCTAssertEqual(removed, 2)
        XCTAssertEqual(cleaned.occupiedCount, 205)
        XCTAssertEqual(cleaned[10, 10, 8], 0)
        XCTAssertEqual(cleaned[5, 5, 7], 0.9)
        XCTAssertEqual(cleaned[8, 8, 8], 0.3, accuracy: 1e-6, "values below the threshold are left as they are")
        // With no minimum nothing goes; an empty grid has no parts.
        XCTAssertEqual(grid.removingFragments(minimumFraction: 0).removedParts, 0)
        XCTAssertEqual(VoxelGrid(size: 4, values: [Float](repeating: 0, count: 64)).removingFragments().removedParts, 0)
    }
}
