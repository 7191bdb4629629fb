import Foundation

/// The encodings ``MeshIO/writePLY(_:to:encoding:)`` can write.
public enum PLYEncoding: Sendable {
    /// `format binary_little_endian 1.0`: float32 positions, uchar counts and int32 indices.
    case binaryLittleEndian
    /// `format ascii 1.0`: one vertex or face per line.
    case ascii
}

/// Reading meshes (`.off`, `.obj`) and writing them (`.obj`, binary `.stl`, `.ply`).
///
/// Readers throw `DataError` naming the file, the line and the problem. Writers go through
/// `writeAtomically`, so a reader never sees a half-written file.
public enum MeshIO {
    // MARK: - Reading

    /// Reads a mesh, choosing the format from the file name (`.off` or `.obj`, any letter case).
    ///
    /// - Throws: `DataError.unsupported` for other extensions, and the errors of ``readOFF(_:)`` and ``readOBJ(_:)``.
    public static func read(_ path: String) throws -> TriangleMesh {
        let lower = path.lowercased()
        if lower.hasSuffix(".off") { return try readOFF(path) }
        if lower.hasSuffix(".obj") { return try readOBJ(path) }
        throw DataError.unsupported(path: path, reason: "not a mesh file this reader knows (.off or .obj)")
    }

    /// Reads an ASCII OFF (Object File Format) mesh.
    ///
    /// The header keyword is `OFF` with optional `ST`, `C` and `N` prefixes (`COFF`, `NOFF`,
    /// `STCNOFF`, ...) and may be missing altogether. The counts `vertices faces [edges]` may follow
    /// the keyword on the same line, even without a space (`OFF490 518 0`, as in ModelNet).
    /// `#` starts a comment; blank lines are skipped. Each vertex line's first three numbers are the
    /// position (normals, colours and texture coordinates after them are ignored). Each face line
    /// is `n i1 ... in [colour]`; polygons are split into a fan of triangles, and faces with fewer than
    /// three vertices (points, lines) are skipped.
    ///
    /// - Throws: `DataError.malformed` for a missing or bad count line, a bad number, a non-finite
    ///   coordinate, an index out of range, or lines missing (the file ends before the counts are met);
    ///   `DataError.unsupported` for `4OFF`/`nOFF` (not 3-D) and binary OFF.
    public static func readOFF(_ path: String) throws -> TriangleMesh {
        try decodeOFF(readVoxelFileBytes(path), path: path)
    }

    /// Decodes OFF text held in memory; `path` is only used in error messages.
    ///
    /// - Throws: see ``readOFF(_:)``.
    public static func decodeOFF(_ bytes: [UInt8], path: String) throws -> TriangleMesh {
        var lines = TextLines(bytes: bytes)
        guard var (lineNumber, fields) = lines.next() else {
            throw DataError.malformed(path: path, reason: "empty file, no OFF header")
        }
        if let keyword = fields.first, let range = keyword.range(of: "OFF") {
            let prefix = keyword[keyword.startIndex..<range.lowerBound]
            guard prefix.allSatisfy({ "STCN4n".contains($0) }) else {
                throw DataError.malformed(path: path, reason: "line \(lineNumber): bad header keyword '\(keyword)'")
            }
            if prefix.contains("4") || prefix.contains("n") {
                throw DataError.unsupported(path: path, reason: "'\(keyword)' is not a 3-D OFF mesh")
            }
            let rest = keyword[range.upperBound...]
            fields.removeFirst()
            if !rest.isEmpty { fields.insert(String(rest), at: 0) }  // "OFF490 518 0"
            if fields.first?.uppercased() == "BINARY" {
                throw DataError.unsupported(path: path, reason: "binary OFF")
            }
            if fields.isEmpty {
                guard let next = lines.next() else {
                    throw DataError.malformed(path: path, reason: "the file ends after the OFF keyword, no counts")
                }
                (lineNumber, fields) = next
            }
        }
        guard fields.count >= 2, let vertexCount = Int(fields[0]), let faceCount = Int(fields[1]),
              vertexCount >= 0, faceCount >= 0 else {
            throw DataError.malformed(
                path: path, reason: "line \(lineNumber): expected counts 'vertices faces edges', got '\(fields.joined(separator: " "))'")
        }
        var vertices: [SIMD3<Float>] = []
        vertices.reserveCapacity(min(vertexCount, 1 << 24))
        for index in 0..<vertexCount {
            guard let (number, fields) = lines.next() else {
                throw DataError.malformed(
                    path: path, reason: "the file ends after \(index) of \(vertexCount) vertices")
            }
            vertices.append(try parseVertex(fields, line: number, path: path))
        }
        var triangles: [SIMD3<Int32>] = []
        triangles.reserveCapacity(min(faceCount, 1 << 24))
        for index in 0..<faceCount {
            guard let (number, fields) = lines.next() else {
                throw DataError.malformed(path: path, reason: "the file ends after \(index) of \(faceCount) faces")
            }
            guard let first = fields.first, let n = Int(first), n >= 0 else {
                throw DataError.malformed(path: path, reason: "line \(number): a face must start with its vertex count")
            }
            guard n < fields.count else {
                throw DataError.malformed(
                    path: path, reason: "line \(number): the face lists \(fields.count - 1) of its \(n) vertices")
            }
            var polygon: [Int32] = []
            for field in fields[1...n] {
                guard let value = Int(field) else {
                    throw DataError.malformed(path: path, reason: "line \(number): bad vertex index '\(field)'")
                }
                guard value >= 0, value < vertices.count else {
                    throw DataError.malformed(
                        path: path, reason: "line \(number): vertex index \(value) is outside 0..<\(vertices.count)")
                }
                polygon.append(Int32(value))
            }
            appendFan(polygon, to: &triangles)
        }
        return TriangleMesh(vertices: vertices, triangles: triangles)
    }

    /// Reads a Wavefront OBJ mesh: `v` positions and `f` faces.
    ///
    /// Face corners may be written `i`, `i/t`, `i//n` or `i/t/n`; only the position index `i` is
    /// used. Indices start at 1, and negative indices count back from the latest vertex (`-1` is the
    /// last one read). Polygons are split into a fan of triangles. A line ending in `\` continues on
    /// the next. Everything else (`vt`, `vn`, `g`, `o`, `s`, `usemtl`, `mtllib`, `l`, `p`, comments)
    /// is ignored.
    ///
    /// - Throws: `DataError.malformed` naming the line for a bad number, a non-finite coordinate,
    ///   a face with fewer than three corners, or an index that is 0 or out of range.
    public static func readOBJ(_ path: String) throws -> TriangleMesh {
        try decodeOBJ(readVoxelFileBytes(path), path: path)
    }

    /// Decodes OBJ text held in memory; `path` is only used in error messages.
    ///
    /// - Throws: see ``readOBJ(_:)``.
    public static func decodeOBJ(_ bytes: [UInt8], path: String) throws -> TriangleMesh {
        var lines = TextLines(bytes: bytes, joinContinuations: true)
        var vertices: [SIMD3<Float>] = []
        var triangles: [SIMD3<Int32>] = []
        // Positive indices may in principle point forward; check them once all vertices are known.
        var largestIndex = -1
        var largestIndexLine = 0
        while let (number, fields) = lines.next() {
            guard let keyword = fields.first else { continue }
            switch keyword {
            case "v":
                vertices.append(try parseVertex(Array(fields.dropFirst()), line: number, path: path))
            case "f":
                let corners = fields.dropFirst()
                guard corners.count >= 3 else {
                    throw DataError.malformed(
                        path: path, reason: "line \(number): a face needs at least 3 corners, found \(corners.count)")
                }
                var polygon: [Int32] = []
                for corner in corners {
                    let indexText = corner.split(separator: "/", omittingEmptySubsequences: false).first ?? ""
                    guard let raw = Int(indexText), raw != 0 else {
                        throw DataError.malformed(
                            path: path, reason: "line \(number): bad vertex reference '\(corner)' (indices start at 1)")
                    }
                    let index = raw > 0 ? raw - 1 : vertices.count + raw
                    guard index >= 0, index <= Int(Int32.max) else {
                        throw DataError.malformed(
                            path: path, reason: "line \(number): relative index \(raw) points before the first vertex")
                    }
                    if index > largestIndex { largestIndex = index; largestIndexLine = number }
                    polygon.append(Int32(index))
                }
                appendFan(polygon, to: &triangles)
            default:
                continue
            }
        }
        if largestIndex >= vertices.count {
            throw DataError.malformed(
                path: path, reason: "line \(largestIndexLine): vertex \(largestIndex + 1) does not exist "
                    + "(the file has \(vertices.count) vertices)")
        }
        return TriangleMesh(vertices: vertices, triangles: triangles)
    }

    /// Parses the first three numbers of a vertex line.
    private static func parseVertex(_ fields: [String], line: Int, path: String) throws -> SIMD3<Float> {
        guard fields.count >= 3 else {
            throw DataError.malformed(path: path, reason: "line \(line): a vertex needs 3 coordinates, found \(fields.count)")
        }
        var position = SIMD3<Float>.zero
        for axis in 0..<3 {
            guard let value = Float(fields[axis]) else {
                throw DataError.malformed(path: path, reason: "line \(line): bad coordinate '\(fields[axis])'")
            }
            guard value.isFinite else {
                throw DataError.malformed(path: path, reason: "line \(line): coordinate '\(fields[axis])' is not finite")
            }
            position[axis] = value
        }
        return position
    }

    /// Splits a polygon into triangles `(p0, p[i], p[i+1])`; fewer than three corners add nothing.
    private static func appendFan(_ polygon: [Int32], to triangles: inout [SIMD3<Int32>]) {
        guard polygon.count >= 3 else { return }
        for i in 1..<(polygon.count - 1) {
            triangles.append(SIMD3(polygon[0], polygon[i], polygon[i + 1]))
        }
    }

    // MARK: - Writing

    /// Writes a mesh as Wavefront OBJ text (`v x y z` lines, then `f a b c` lines with 1-based indices), atomically.
    ///
    /// - Throws: `DataError.writeFailed` if the file cannot be written.
    public static func writeOBJ(_ mesh: TriangleMesh, to path: String) throws {
        try writeAtomically(encodeOBJ(mesh), to: path)
    }

    /// The bytes of an OBJ file for `mesh` (see ``writeOBJ(_:to:)``).
    public static func encodeOBJ(_ mesh: TriangleMesh) -> [UInt8] {
        var text = "# SwiftGAN mesh: \(mesh.vertices.count) vertices, \(mesh.triangles.count) triangles\n"
        text.reserveCapacity(mesh.vertices.count * 30 + mesh.triangles.count * 20)
        for v in mesh.vertices {
            text += "v \(formatCoordinate(v.x)) \(formatCoordinate(v.y)) \(formatCoordinate(v.z))\n"
        }
        for t in mesh.triangles {
            text += "f \(t.x + 1) \(t.y + 1) \(t.z + 1)\n"
        }
        return Array(text.utf8)
    }

    /// Writes a mesh as binary STL, atomically.
    ///
    /// Layout: an 80-byte header (text padded with spaces, not starting with `solid`), a
    /// little-endian `UInt32` triangle count, then per triangle 50 bytes: the unit normal and the three
    /// corners as little-endian float32 (12 floats) and a `UInt16` attribute count of 0.
    /// - Throws: `DataError.writeFailed` if the mesh has more than `UInt32.max` triangles or the file cannot be written.
    public static func writeSTL(_ mesh: TriangleMesh, to path: String) throws {
        guard mesh.triangles.count <= Int(UInt32.max) else {
            throw DataError.writeFailed(path: path, reason: "\(mesh.triangles.count) triangles do not fit binary STL")
        }
        try writeAtomically(encodeSTL(mesh), to: path)
    }

    /// The bytes of a binary STL file for `mesh` (see ``writeSTL(_:to:)``).
    public static func encodeSTL(_ mesh: TriangleMesh) -> [UInt8] {
        var out = ByteWriter()
        out.bytes.reserveCapacity(84 + 50 * mesh.triangles.count)
        var header = Array("SwiftGAN binary STL".utf8)
        header += [UInt8](repeating: 0x20, count: 80 - header.count)
        out.bytes += header
        out.append(uint32: UInt32(truncatingIfNeeded: mesh.triangles.count))
        for index in mesh.triangles.indices {
            let n = mesh.normal(ofTriangle: index)
            let (a, b, c) = mesh.corners(index)
            for v in [n, a, b, c] {
                out.append(float: v.x)
                out.append(float: v.y)
                out.append(float: v.z)
            }
            out.append(uint16: 0)
        }
        return out.bytes
    }

    /// Writes a mesh as PLY (binary little-endian by default, or ASCII), atomically.
    ///
    /// Elements: `vertex` with `float x, y, z`, and `face` with `list uchar int vertex_indices`.
    /// - Throws: `DataError.writeFailed` if the file cannot be written.
    public static func writePLY(_ mesh: TriangleMesh, to path: String, encoding: PLYEncoding = .binaryLittleEndian) throws {
        try writeAtomically(encodePLY(mesh, encoding: encoding), to: path)
    }

    /// The bytes of a PLY file for `mesh` (see ``writePLY(_:to:encoding:)``).
    public static func encodePLY(_ mesh: TriangleMesh, encoding: PLYEncoding = .binaryLittleEndian) -> [UInt8] {
        var out = ByteWriter()
        let format = encoding == .ascii ? "ascii" : "binary_little_endian"
        out.append("ply\nformat \(format) 1.0\ncomment SwiftGAN mesh\n")
        out.append("element vertex \(mesh.vertices.count)\nproperty float x\nproperty float y\nproperty float z\n")
        out.append("element face \(mesh.triangles.count)\nproperty list uchar int vertex_indices\nend_header\n")
        switch encoding {
        case .binaryLittleEndian:
            for v in mesh.vertices {
                out.append(float: v.x)
                out.append(float: v.y)
                out.append(float: v.z)
            }
            for t in mesh.triangles {
                out.append(uint8: 3)
                out.append(int32: t.x)
                out.append(int32: t.y)
                out.append(int32: t.z)
            }
        case .ascii:
            var text = ""
            for v in mesh.vertices {
                text += "\(formatCoordinate(v.x)) \(formatCoordinate(v.y)) \(formatCoordinate(v.z))\n"
            }
            for t in mesh.triangles { text += "3 \(t.x) \(t.y) \(t.z)\n" }
            out.append(text)
        }
        return out.bytes
    }
}

/// A coordinate as text: whole numbers without a fraction, others in Swift's shortest round-trip form.
func formatCoordinate(_ value: Float) -> String {
    if value == value.rounded(), abs(value) < 1e7 { return String(Int(value)) }
    return "\(value)"
}

/// Iterates over the non-empty lines of a text file as whitespace-separated fields, with `#` comments removed.
struct TextLines {
    let bytes: [UInt8]
    let joinContinuations: Bool
    var position = 0
    var lineNumber = 0

    init(bytes: [UInt8], joinContinuations: Bool = false) {
        self.bytes = bytes
        self.joinContinuations = joinContinuations
    }

    /// The next line that has fields, with its 1-based line number, or nil at the end.
    mutating func next() -> (Int, [String])? {
        while position < bytes.count {
            lineNumber += 1
            let startLine = lineNumber
            var fields: [String] = []
            var field: [UInt8] = []
            var inComment = false
            var done = false
            while !done {
                guard position < bytes.count else { break }
                let byte = bytes[position]
                position += 1
                switch byte {
                case 0x0A:  // newline
                    if joinContinuations, !inComment, field.last == 0x5C {  // backslash continues the line
                        field.removeLast()
                        lineNumber += 1
                    } else {
                        done = true
                    }
                case 0x20, 0x09, 0x0D, 0x0B, 0x0C:  // whitespace
                    if joinContinuations, byte == 0x0D, field.last == 0x5C { continue }
                    if !field.isEmpty { fields.append(String(decoding: field, as: UTF8.self)); field = [] }
                case 0x23:  // '#'
                    inComment = true
                default:
                    if !inComment { field.append(byte) }
                }
            }
            if !field.isEmpty { fields.append(String(decoding: field, as: UTF8.self)) }
            if !fields.isEmpty { return (startLine, fields) }
        }
        return nil
    }
}
