import Foundation

/// A coordinate axis of mesh or grid space.
public enum Axis: Int, Sendable, CaseIterable {
    /// The x axis (grid axis 0).
    case x = 0
    /// The y axis (grid axis 1).
    case y = 1
    /// The z axis (grid axis 2, the fastest in ``VoxelGrid/values``).
    case z = 2
}

/// A direction to look from, in degrees.
public struct Viewpoint: Equatable, Sendable {
    /// The angle round the up axis, in degrees; 0 looks from the direction of the axis after the
    /// up axis (+z for y up, +x for z up, +y for x up), and it increases counter-clockwise seen from above.
    public var azimuth: Float
    /// The angle above the horizontal plane, in degrees (90 looks straight down).
    public var elevation: Float

    /// A viewpoint from azimuth and elevation in degrees.
    public init(azimuth: Float, elevation: Float) {
        self.azimuth = azimuth
        self.elevation = elevation
    }

    /// Four views round the shape, 90° apart, from 25° above: front-left, back-left, back-right, front-right.
    public static let standard: [Viewpoint] = [
        Viewpoint(azimuth: 30, elevation: 25), Viewpoint(azimuth: 120, elevation: 25),
        Viewpoint(azimuth: 210, elevation: 25), Viewpoint(azimuth: 300, elevation: 25),
    ]
}

/// Options for ``MeshRenderer``.
public struct RenderOptions: Sendable {
    /// Interpolate vertex normals across triangles (smooth) or shade each triangle with its own normal (flat).
    public var smoothShading: Bool = true
    /// The axis that points up on screen. The bundled data: ModelNet IDX grids stand on z, ShapeNet
    /// `.binvox` grids on y (the default).
    public var upAxis: Axis = .y
    /// Surface colour, RGB in [0, 1].
    public var color: SIMD3<Float> = SIMD3(0.62, 0.72, 0.86)
    /// Background colour, RGB bytes.
    public var background: SIMD3<UInt8> = SIMD3(255, 255, 255)
    /// Light that reaches every surface regardless of its direction, in [0, 1].
    public var ambient: Float = 0.28
    /// Strength of the directional (Lambert) light, in [0, 1].
    public var diffuse: Float = 0.72
    /// Samples per pixel along each axis (2 renders at twice the size and averages 2×2 blocks).
    public var supersampling: Int = 2
    /// The fraction of half the image that the fitted bounding sphere's radius fills.
    public var fill: Float = 0.95

    /// Default options: smooth shading, y up, light blue on white, 2× supersampling.
    public init() {}
}

/// A small CPU rasterizer: orthographic camera, z-buffer, Lambert plus ambient shading.
///
/// Triangles are lit from the upper left of the viewer, on both sides (a triangle seen from behind is
/// shaded as if it faced the camera), so open or inconsistently oriented meshes still look solid.
public enum MeshRenderer {
    /// Renders `mesh` as an RGB image of `width` × `height` pixels.
    ///
    /// The camera looks at `center` from `viewpoint` (round `options.upAxis`), and the sphere of
    /// `radius` round `center` fills `options.fill` of the image's smaller half-size. When `center` or
    /// `radius` is nil they come from the mesh's bounding box (its centre and half diagonal), so every
    /// viewpoint shows the shape at the same scale.
    ///
    /// - Precondition: `width` and `height` are positive.
    public static func render(_ mesh: TriangleMesh, viewpoint: Viewpoint, width: Int, height: Int,
                              center: SIMD3<Float>? = nil, radius: Float? = nil,
                              options: RenderOptions = RenderOptions()) -> RasterImage {
        precondition(width > 0 && height > 0, "MeshRenderer: image size must be positive")
        let ss = max(1, options.supersampling)
        let w = width * ss, h = height * ss
        let bounds = mesh.bounds
        let focus = center ?? bounds.map { ($0.min + $0.max) / 2 } ?? .zero
        var fitRadius = radius ?? bounds.map { ((($0.max - $0.min) * ($0.max - $0.min)).sum()).squareRoot() / 2 } ?? 1
        if !(fitRadius > 0) { fitRadius = 1 }

        // Camera frame.
        let upIndex = options.upAxis.rawValue
        var up = SIMD3<Float>.zero; up[upIndex] = 1
        var h1 = SIMD3<Float>.zero; h1[(upIndex + 1) % 3] = 1
        var h2 = SIMD3<Float>.zero; h2[(upIndex + 2) % 3] = 1
        let azimuth = viewpoint.azimuth * .pi / 180, elevation = viewpoint.elevation * .pi / 180
        let toCamera = cos(elevation) * cos(azimuth) * h1 + cos(elevation) * sin(azimuth) * h2 + sin(elevation) * up
        var right = cross(-toCamera, up)
        if (right * right).sum() < 1e-10 { right = cross(-toCamera, h1) }  // looking straight along the up axis
        right = normalize(right)
        let screenUp = cross(right, -toCamera)
        let light = normalize(-0.45 * right + 0.65 * screenUp + 0.6 * toCamera)

        let scale = options.fill * Float(min(w, h)) / 2 / fitRadius
        let halfW = Float(w) / 2, halfH = Float(h) / 2
        // Screen positions: x right, y down, depth towards the camera.
        let screen = mesh.vertices.map { v -> SIMD3<Float> in
            let q = v - focus
            return SIMD3(halfW + dot(q, right) * scale, halfH - dot(q, screenUp) * scale, dot(q, toCamera))
        }
        let vertexNormals = options.smoothShading ? computeVertexNormals(mesh) : []

        var depth = [Float](repeating: -.infinity, count: w * h)
        var shade = [Float](repeating: -1, count: w * h)  // -1 = background
        for index in mesh.triangles.indices {
            let t = mesh.triangles[index]
            let a = screen[Int(t.x)], b = screen[Int(t.y)], c = screen[Int(t.z)]
            let area = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
            // Skip degenerate triangles and any with non-finite corners (NaN fails the comparison).
            guard abs(area) >= 1e-12, area.isFinite, a.z.isFinite, b.z.isFinite, c.z.isFinite else { continue }
            /// A pixel bound, clamped into `-1...limit` before conversion so huge coordinates cannot overflow.
            func bound(_ value: Float, _ rounding: FloatingPointRoundingRule, _ limit: Int) -> Int {
                Int(min(Float(limit), max(-1, (value - 0.5).rounded(rounding))))
            }
            let minX = max(0, bound(min(a.x, min(b.x, c.x)), .up, w))
            let maxX = min(w - 1, bound(max(a.x, max(b.x, c.x)), .down, w))
            let minY = max(0, bound(min(a.y, min(b.y, c.y)), .up, h))
            let maxY = min(h - 1, bound(max(a.y, max(b.y, c.y)), .down, h))
            if minX > maxX || minY > maxY { continue }
            let faceNormal = mesh.normal(ofTriangle: index)
            let na: SIMD3<Float>, nb: SIMD3<Float>, nc: SIMD3<Float>
            if options.smoothShading {
                na = vertexNormals[Int(t.x)]; nb = vertexNormals[Int(t.y)]; nc = vertexNormals[Int(t.z)]
            } else {
                na = faceNormal; nb = faceNormal; nc = faceNormal
            }
            let facing: Float = dot(faceNormal, toCamera) >= 0 ? 1 : -1
            let flatShade = options.ambient + options.diffuse * max(0, facing * dot(faceNormal, light))
            let inverseArea = 1 / area
            for py in minY...maxY {
                let y = Float(py) + 0.5
                for px in minX...maxX {
                    let x = Float(px) + 0.5
                    // Barycentric weights from signed areas (same sign as `area` inside).
                    let wa = ((b.x - x) * (c.y - y) - (b.y - y) * (c.x - x)) * inverseArea
                    let wb = ((c.x - x) * (a.y - y) - (c.y - y) * (a.x - x)) * inverseArea
                    let wc = 1 - wa - wb
                    if wa < 0 || wb < 0 || wc < 0 { continue }
                    let z = wa * a.z + wb * b.z + wc * c.z
                    let pixel = py * w + px
                    if z <= depth[pixel] { continue }
                    depth[pixel] = z
                    if options.smoothShading {
                        var n = wa * na + wb * nb + wc * nc
                        let length = (n * n).sum().squareRoot()
                        if length > 0 { n /= length }
                        if dot(n, toCamera) * facing < 0 { n = faceNormal }
                        shade[pixel] = options.ambient + options.diffuse * max(0, facing * dot(n, light))
                    } else {
                        shade[pixel] = flatShade
                    }
                }
            }
        }

        // Resolve to bytes, averaging ss × ss blocks.
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let background = SIMD3<Float>(Float(options.background.x), Float(options.background.y), Float(options.background.z))
        let surface = options.color * 255
        let samples = Float(ss * ss)
        for y in 0..<height {
            for x in 0..<width {
                var sum = SIMD3<Float>.zero
                for sy in 0..<ss {
                    let row = (y * ss + sy) * w + x * ss
                    for sx in 0..<ss {
                        let s = shade[row + sx]
                        sum += s < 0 ? background : surface * min(1, s)
                    }
                }
                let mean = sum / samples
                let out = (y * width + x) * 3
                pixels[out] = UInt8(min(255, max(0, mean.x.rounded())))
                pixels[out + 1] = UInt8(min(255, max(0, mean.y.rounded())))
                pixels[out + 2] = UInt8(min(255, max(0, mean.z.rounded())))
            }
        }
        return RasterImage(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// Area-weighted averages of the normals of the triangles round each vertex.
    static func computeVertexNormals(_ mesh: TriangleMesh) -> [SIMD3<Float>] {
        var normals = [SIMD3<Float>](repeating: .zero, count: mesh.vertices.count)
        for t in mesh.triangles {
            let a = mesh.vertices[Int(t.x)], b = mesh.vertices[Int(t.y)], c = mesh.vertices[Int(t.z)]
            let n = cross(b - a, c - a)  // length = twice the area
            normals[Int(t.x)] += n
            normals[Int(t.y)] += n
            normals[Int(t.z)] += n
        }
        return normals.map { n in
            let length = (n * n).sum().squareRoot()
            return length > 0 ? n / length : n
        }
    }
}

/// How a voxel grid is turned into a mesh for display.
public enum PreviewStyle: Sendable {
    /// Marching cubes with smooth shading.
    case smooth
    /// The voxels' cube faces with flat shading.
    case blocky
}

/// Shaded pictures of voxel shapes, so results can be seen without a 3D viewer.
public enum VoxelPreview {
    /// The mesh used to draw `grid` in `style`.
    public static func mesh(for grid: VoxelGrid, style: PreviewStyle) -> TriangleMesh {
        switch style {
        case .smooth: return MarchingCubes.mesh(from: grid)
        case .blocky: return BlockyMesh.mesh(from: grid)
        }
    }

    /// One shape from several viewpoints, side by side in one row of `imageSize`-pixel squares
    /// separated by `padding` background pixels.
    ///
    /// The shape is framed by its occupied voxels' bounding box (the same for every view); an empty
    /// grid gives a blank row.
    /// - Precondition: `views` is not empty, `imageSize > 0`, `padding >= 0`.
    public static func renderViews(_ grid: VoxelGrid, views: [Viewpoint] = Viewpoint.standard, imageSize: Int = 128,
                                   style: PreviewStyle = .smooth, options: RenderOptions = RenderOptions(),
                                   padding: Int = 2) -> RasterImage {
        renderSheet([grid], views: views, columns: 1, imageSize: imageSize, style: style, options: options,
                     padding: padding)
    }

    /// Many shapes in a grid of `columns` cells per row; each cell shows one shape from every view in `views`, side by side.
    ///
    /// With the four standard views and `columns` 2, a row holds two shapes of four pictures each.
    /// Cells are separated by `padding` background pixels (and the views within a cell by the same).
    /// Shapes are rendered in parallel.
    /// - Precondition: `grids` and `views` are not empty, `columns > 0`, `imageSize > 0`, `padding >= 0`.
    public static func renderSheet(_ grids: [VoxelGrid], views: [Viewpoint] = [Viewpoint(azimuth: 30, elevation: 25)],
                                   columns: Int = 8, imageSize: Int = 128, style: PreviewStyle = .smooth,
                                   options: RenderOptions = RenderOptions(), padding: Int = 2) -> RasterImage {
        precondition(!grids.isEmpty && !views.isEmpty, "VoxelPreview: nothing to render")
        precondition(columns > 0 && imageSize > 0 && padding >= 0, "VoxelPreview: bad layout")
        var options = options
        if style == .blocky { options.smoothShading = false }
        let tilesPerShape = views.count
        let gridColumns = min(columns, grids.count)
        let rows = (grids.count + gridColumns - 1) / gridColumns
        let cellWidth = tilesPerShape * imageSize + (tilesPerShape - 1) * padding
        let outWidth = gridColumns * (cellWidth + padding) + padding
        let outHeight = rows * (imageSize + padding) + padding
        let background = options.background
        var pixels = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        for i in 0..<(outWidth * outHeight) {
            pixels[i * 3] = background.x; pixels[i * 3 + 1] = background.y; pixels[i * 3 + 2] = background.z
        }

        let tiles = TileStore(count: grids.count * tilesPerShape)
        let renderOptions = options
        DispatchQueue.concurrentPerform(iterations: grids.count) { shape in
            let grid = grids[shape]
            let mesh = VoxelPreview.mesh(for: grid, style: style)
            // Frame by the occupied voxels so every view of a shape uses one scale.
            var center: SIMD3<Float>? = nil
            var radius: Float? = nil
            if let box = grid.occupiedBounds {
                let low = SIMD3<Float>(Float(box.min.x), Float(box.min.y), Float(box.min.z))
                let high = SIMD3<Float>(Float(box.max.x + 1), Float(box.max.y + 1), Float(box.max.z + 1))
                center = (low + high) / 2
                radius = (((high - low) * (high - low)).sum()).squareRoot() / 2
            }
            for (v, view) in views.enumerated() {
                tiles.set(shape * tilesPerShape + v, MeshRenderer.render(
                    mesh, viewpoint: view, width: imageSize, height: imageSize,
                    center: center, radius: radius, options: renderOptions))
            }
        }
        for shape in 0..<grids.count {
            let cellLeft = padding + (shape % gridColumns) * (cellWidth + padding)
            let top = padding + (shape / gridColumns) * (imageSize + padding)
            for v in 0..<tilesPerShape {
                guard let tile = tiles.get(shape * tilesPerShape + v) else { continue }
                let left = cellLeft + v * (imageSize + padding)
                for y in 0..<imageSize {
                    let source = y * imageSize * 3
                    let target = ((top + y) * outWidth + left) * 3
                    pixels.replaceSubrange(target..<target + imageSize * 3,
                                           with: tile.pixels[source..<source + imageSize * 3])
                }
            }
        }
        return RasterImage(width: outWidth, height: outHeight, channels: 3, pixels: pixels)
    }

    /// Renders a sheet (see ``renderSheet(_:views:columns:imageSize:style:options:padding:)``) and writes it as PNG, atomically.
    ///
    /// - Throws: `DataError.writeFailed` naming `path` if the file cannot be written.
    public static func writePNG(_ grids: [VoxelGrid], to path: String, views: [Viewpoint] = Viewpoint.standard,
                                columns: Int = 2, imageSize: Int = 128, style: PreviewStyle = .smooth,
                                options: RenderOptions = RenderOptions()) throws {
        guard !grids.isEmpty else { throw DataError.writeFailed(path: path, reason: "no shapes to render") }
        try ImageIO.writePNG(renderSheet(grids, views: views, columns: columns, imageSize: imageSize,
                                         style: style, options: options), to: path)
    }
}

/// Rendered tiles collected from concurrent workers.
private final class TileStore: @unchecked Sendable {
    private var tiles: [RasterImage?]
    private let lock = NSLock()

    init(count: Int) { tiles = [RasterImage?](repeating: nil, count: count) }

    func set(_ index: Int, _ image: RasterImage) {
        lock.lock(); defer { lock.unlock() }
        tiles[index] = image
    }

    func get(_ index: Int) -> RasterImage? {
        lock.lock(); defer { lock.unlock() }
        return tiles[index]
    }
}

/// The unit vector in the direction of `v` (zero stays zero).
func normalize(_ v: SIMD3<Float>) -> SIMD3<Float> {
    let length = (v * v).sum().squareRoot()
    return length > 0 ? v / length : v
}
