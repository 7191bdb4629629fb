import Foundation

/// Reading and writing voxel grids: IDX (4-D), `.binvox`, NumPy `.npy`, and meshes (`.off`, `.obj`)
/// voxelized on the way in.
///
/// Every reader returns grids in ``VoxelGrid``'s axis order (x, y, z with z fastest) and throws
/// `DataError` naming the file and the problem.
public enum VoxelIO {
    /// The largest grid edge any reader accepts (1024³ voxels is 4 GiB of floats).
    public static let maxGridSize = 1024

    // MARK: - Any supported file

    /// Reads every shape in `path` and, when `size` is given, resamples each to `size`³.
    ///
    /// The format is chosen by the file name: `*.binvox`, `*.npy`, `*.off`, `*.obj` (voxelized
    /// with `meshMode`), and anything else is read as IDX (gzip-compressed or raw). A folder is read
    /// file by file in name order, skipping hidden files and names of other formats (README and so on).
    /// Meshes are voxelized straight to `size` (32 when `size` is nil); voxel files are resampled
    /// with `downsampling` (see ``VoxelGrid/resampled(to:downsampling:)``).
    ///
    /// - Throws: the readers' `DataError`s; `DataError.invalidDataset` when a folder has no
    ///   shape files; `DataError.malformed` when files in one folder disagree in grid size and
    ///   no `size` is given.
    /// Whether a folder's entry `name` is read as a shape file: `.binvox`, `.npy`, `.off`, `.obj` or an IDX file with
    /// `idx4`/`idx5` in its name; hidden files are not.
    public static func isShapeFileName(_ name: String) -> Bool {
        guard !name.hasPrefix(".") else { return false }
        let lower = name.lowercased()
        return [".binvox", ".npy", ".off", ".obj"].contains { lower.hasSuffix($0) } || lower.contains("idx4") || lower.contains("idx5")
    }

    public static func load(_ path: String, size: Int? = nil, meshMode: VoxelizationMode = .solid,
                            downsampling: DownsamplingRule = .maxPool) throws -> [VoxelGrid] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            } catch {
                throw DataError.unreadable(path: path, reason: error.localizedDescription)
            }
            let shapeFiles = names.filter(isShapeFileName)
            guard !shapeFiles.isEmpty else {
                throw DataError.invalidDataset(
                    "\(path): no shape files (.binvox, .npy, .off, .obj or *idx4* IDX) in this folder")
            }
            var grids: [VoxelGrid] = []
            for name in shapeFiles {
                let filePath = (path as NSString).appendingPathComponent(name)
                let loaded = try load(filePath, size: size, meshMode: meshMode, downsampling: downsampling)
                if size == nil, let first = grids.first, let other = loaded.first, first.size != other.size {
                    throw DataError.malformed(
                        path: filePath, reason: "grid size \(other.size) differs from \(first.size) of the "
                            + "folder's earlier files; give a target size to resample them")
                }
                grids += loaded
            }
            return grids
        }
        let lower = path.lowercased()
        let grids: [VoxelGrid]
        if lower.hasSuffix(".binvox") {
            grids = [try readBinvox(path)]
        } else if lower.hasSuffix(".npy") {
            grids = try readNPY(path)
        } else if lower.hasSuffix(".off") || lower.hasSuffix(".obj") {
            let mesh = try MeshIO.read(path)
            return [try Voxelizer.voxelize(mesh, size: size ?? 32, mode: meshMode, source: path)]
        } else {
            do {
                grids = try readIDX(path)
            } catch DataError.malformed(let file, let reason)
                        where reason.hasPrefix("not an IDX file") && !isShapeFileName((path as NSString).lastPathComponent) {
                // Neither a shape extension nor an IDX name: say what is expected rather than what IDX wanted.
                throw DataError.unsupported(
                    path: file, reason: "not a shape file (.binvox, .npy, .off, .obj, or IDX voxel grids named *idx4*)")
            }
        }
        guard let size else { return grids }
        return grids.map { $0.resampled(to: size, downsampling: downsampling) }
    }

    // MARK: - IDX

    /// Reads a 4-D IDX file `(count, N, N, N)` of unsigned bytes (gzip-compressed or raw).
    ///
    /// A 5-D file `(count, 1, N, N, N)` (one channel) is accepted too. The three spatial axes are
    /// taken as x, y, z. A zero byte is empty and any other byte is occupied (value 1).
    ///
    /// - Throws: the errors of `IDX.read`; `DataError.unsupported` for other shapes or non-cubic
    ///   grids; `DataError.malformed` for a file with no grids.
    public static func readIDX(_ path: String) throws -> [VoxelGrid] {
        let array = try IDX.read(path)
        var shape = array.shape
        if shape.count == 5, shape[1] == 1 { shape.remove(at: 1) }
        guard shape.count == 4 else {
            throw DataError.unsupported(
                path: path, reason: "expected a 4-D (count, N, N, N) voxel array, found shape \(array.shape)")
        }
        let (count, size) = try checkGridShape(Array(shape[1...]), count: shape[0], path: path)
        let volume = size * size * size
        var grids: [VoxelGrid] = []
        grids.reserveCapacity(count)
        array.bytes.withUnsafeBufferPointer { bytes in
            for index in 0..<count {
                let start = index * volume
                let values = [Float](unsafeUninitializedCapacity: volume) { buffer, initialized in
                    for i in 0..<volume { buffer[i] = bytes[start + i] == 0 ? 0 : 1 }
                    initialized = volume
                }
                grids.append(VoxelGrid(size: size, values: values))
            }
        }
        return grids
    }

    /// Writes grids as a gzip-compressed 4-D IDX file `(count, N, N, N)` of bytes 0/1, atomically.
    ///
    /// - Throws: `DataError.writeFailed` when `grids` is empty, the sizes differ, or the file cannot be written.
    public static func writeIDX(_ grids: [VoxelGrid], to path: String) throws {
        guard let size = grids.first?.size else {
            throw DataError.writeFailed(path: path, reason: "no grids to write")
        }
        guard grids.allSatisfy({ $0.size == size }) else {
            throw DataError.writeFailed(path: path, reason: "grids of different sizes cannot share one file")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(grids.count * size * size * size)
        for grid in grids { bytes += grid.occupancyBytes }
        try IDX.write(IDXArray(shape: [grids.count, size, size, size], bytes: bytes), to: path)
    }

    /// Checks spatial sizes: equal, positive, at most ``maxGridSize``; returns `(count, size)`.
    static func checkGridShape(_ spatial: [Int], count: Int, path: String) throws -> (Int, Int) {
        guard spatial.count == 3, let size = spatial.first else {
            throw DataError.unsupported(path: path, reason: "expected three spatial axes, found \(spatial)")
        }
        guard spatial.allSatisfy({ $0 == size }) else {
            throw DataError.unsupported(
                path: path, reason: "grid \(spatial.map(String.init).joined(separator: "x")) is not cubic")
        }
        guard size > 0, size <= maxGridSize else {
            throw DataError.unsupported(path: path, reason: "grid size \(size) is outside 1...\(maxGridSize)")
        }
        guard count > 0 else {
            throw DataError.malformed(path: path, reason: "the file holds no grids (count 0)")
        }
        return (count, size)
    }

    // MARK: - binvox

    /// The header of a `.binvox` file.
    public struct BinvoxHeader: Equatable, Sendable {
        /// Voxels along each edge (the file's `dim`, which must be cubic).
        public var size: Int
        /// The `translate` line: the model-space position of the grid's corner (0 when absent).
        public var translate: SIMD3<Float>
        /// The `scale` line: the model-space length of the grid's edge (1 when absent).
        public var scale: Float

        /// A header with the given values.
        public init(size: Int, translate: SIMD3<Float> = .zero, scale: Float = 1) {
            self.size = size
            self.translate = translate
            self.scale = scale
        }
    }

    /// Reads a `.binvox` file into a grid.
    ///
    /// The header is `#binvox <version>`, then lines until a line `data`: `dim d h w` (required,
    /// cubic), optional `translate tx ty tz` and `scale s`; blank lines, `#` comment lines and other
    /// keywords are skipped, and CR-LF line ends are accepted. The body is (value, count) byte pairs,
    /// value 0 or 1 and count 1...255, in binvox order: index `x * N² + z * N + y` (y fastest).
    /// The result is in ``VoxelGrid``'s order, so grid voxel `(x, y, z)` is binvox voxel `(x, y, z)`.
    ///
    /// - Throws: `DataError.malformed` for a bad header (no `#binvox` magic, no or bad `dim`, no
    ///   `data` line, bad numbers), a value other than 0/1, a zero count, runs that add up to more
    ///   than N³ voxels, bytes after the last run, or run-length data that ends early (an odd byte
    ///   count or fewer than N³ voxels, reported as "truncated run-length data"); `DataError.unsupported` for a
    ///   version other than 1 or a non-cubic or oversized grid.
    public static func readBinvox(_ path: String) throws -> VoxelGrid {
        try decodeBinvox(readVoxelFileBytes(path), path: path).grid
    }

    /// Decodes `.binvox` bytes held in memory; `path` is only used in error messages.
    ///
    /// - Throws: see ``readBinvox(_:)``.
    public static func decodeBinvox(_ bytes: [UInt8], path: String) throws -> (grid: VoxelGrid, header: BinvoxHeader) {
        var position = 0
        var lineNumber = 0
        /// The next header line without its line end, or nil at the end of the bytes.
        func nextLine() -> String? {
            guard position < bytes.count else { return nil }
            let start = position
            while position < bytes.count, bytes[position] != 0x0A { position += 1 }
            var end = position
            if position < bytes.count { position += 1 }  // skip '\n'
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            lineNumber += 1
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        guard let first = nextLine(), first.hasPrefix("#binvox") else {
            throw DataError.malformed(path: path, reason: "not a binvox file: the first line is not '#binvox <version>'")
        }
        let versionText = first.dropFirst("#binvox".count).trimmingCharacters(in: .whitespaces)
        guard let version = Int(versionText) else {
            throw DataError.malformed(path: path, reason: "bad version '\(versionText)' on the '#binvox' line")
        }
        guard version == 1 else {
            throw DataError.unsupported(path: path, reason: "binvox version \(version) (only version 1 is known)")
        }
        var dims: [Int]?
        var translate = SIMD3<Float>.zero
        var scale: Float = 1
        var sawData = false
        while let line = nextLine() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = fields.first else { continue }  // blank line
            if keyword.hasPrefix("#") { continue }  // comment
            let arguments = Array(fields.dropFirst())
            switch keyword {
            case "data":
                sawData = true
            case "dim":
                let values = arguments.compactMap { Int($0) }
                guard values.count == 3, arguments.count == 3, values.allSatisfy({ $0 > 0 }) else {
                    throw DataError.malformed(
                        path: path, reason: "line \(lineNumber): 'dim' needs three positive integers, got '\(line)'")
                }
                dims = values
            case "translate":
                let values = arguments.compactMap { Float($0) }
                guard values.count == 3, arguments.count == 3, values.allSatisfy({ $0.isFinite }) else {
                    throw DataError.malformed(
                        path: path, reason: "line \(lineNumber): 'translate' needs three numbers, got '\(line)'")
                }
                translate = SIMD3(values[0], values[1], values[2])
            case "scale":
                guard arguments.count == 1, let value = Float(arguments[0]), value.isFinite else {
                    throw DataError.malformed(
                        path: path, reason: "line \(lineNumber): 'scale' needs one number, got '\(line)'")
                }
                scale = value
            default:
                continue  // an optional line this reader does not use
            }
            if sawData { break }
            if position > 1 << 16 { break }
        }
        guard sawData else {
            throw DataError.malformed(path: path, reason: "the header has no 'data' line")
        }
        guard let dims else {
            throw DataError.malformed(path: path, reason: "the header has no 'dim' line")
        }
        guard dims[0] == dims[1], dims[1] == dims[2] else {
            throw DataError.unsupported(path: path, reason: "grid \(dims[0])x\(dims[1])x\(dims[2]) is not cubic")
        }
        let size = dims[0]
        guard size <= maxGridSize else {
            throw DataError.unsupported(path: path, reason: "grid size \(size) exceeds \(maxGridSize)")
        }
        let total = size * size * size
        var values = [Float](repeating: 0, count: total)
        var filled = 0  // voxels decoded so far, in binvox order
        let dataStart = position
        while position + 1 < bytes.count, filled < total {
            let value = bytes[position]
            let count = Int(bytes[position + 1])
            guard value <= 1 else {
                throw DataError.malformed(
                    path: path, reason: "run at byte \(position) has value \(value); binvox values are 0 or 1")
            }
            guard count > 0 else {
                throw DataError.malformed(path: path, reason: "run at byte \(position) has count 0")
            }
            guard filled + count <= total else {
                throw DataError.malformed(
                    path: path, reason: "run-length counts add up to more than the \(total) voxels of a "
                        + "\(size)³ grid (run at byte \(position) reaches \(filled + count))")
            }
            if value == 1 {
                for binvoxIndex in filled..<filled + count {
                    // binvox index = x * N² + z * N + y  ->  grid index (x * N + y) * N + z
                    let x = binvoxIndex / (size * size)
                    let z = (binvoxIndex / size) % size
                    let y = binvoxIndex % size
                    values[(x * size + y) * size + z] = 1
                }
            }
            filled += count
            position += 2
        }
        if filled < total {
            let odd = (bytes.count - dataStart) % 2 == 1 ? " (the data ends in half a run)" : ""
            throw DataError.malformed(
                path: path, reason: "truncated run-length data: the runs cover \(filled) of the \(total) voxels "
                    + "of a \(size)³ grid\(odd)")
        }
        if position < bytes.count {
            throw DataError.malformed(
                path: path, reason: "\(bytes.count - position) bytes after the run that completes the \(size)³ grid")
        }
        return (VoxelGrid(size: size, values: values), BinvoxHeader(size: size, translate: translate, scale: scale))
    }

    /// Writes a grid as a `.binvox` file (version 1, run-length encoded), atomically.
    ///
    /// `header` supplies `translate` and `scale` (its `size` is ignored; the grid's is used).
    /// - Throws: `DataError.writeFailed` if the file cannot be written.
    public static func writeBinvox(_ grid: VoxelGrid, to path: String,
                                   header: BinvoxHeader = BinvoxHeader(size: 0)) throws {
        try writeAtomically(encodeBinvox(grid, header: header), to: path)
    }

    /// The bytes of a `.binvox` file for `grid` (see ``writeBinvox(_:to:header:)``).
    public static func encodeBinvox(_ grid: VoxelGrid, header: BinvoxHeader = BinvoxHeader(size: 0)) -> [UInt8] {
        let n = grid.size
        var out = ByteWriter()
        out.append("#binvox 1\ndim \(n) \(n) \(n)\n")
        out.append("translate \(header.translate.x) \(header.translate.y) \(header.translate.z)\n")
        out.append("scale \(header.scale)\ndata\n")
        var current: UInt8 = 0
        var run = 0
        for x in 0..<n {
            for z in 0..<n {
                for y in 0..<n {
                    let value: UInt8 = grid.values[(x * n + y) * n + z] >= VoxelGrid.occupancyThreshold ? 1 : 0
                    if run > 0, value == current, run < 255 {
                        run += 1
                    } else {
                        if run > 0 { out.append(uint8: current); out.append(uint8: UInt8(run)) }
                        current = value
                        run = 1
                    }
                }
            }
        }
        if run > 0 { out.append(uint8: current); out.append(uint8: UInt8(run)) }
        return out.bytes
    }
}
