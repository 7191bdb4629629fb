import XCTest
import Foundation

/// `swiftgan bench`: the nominal FLOP counts against hand-computed values, the output layout that scripts/bench.sh
/// reads, and its usage errors. Nothing here checks a speed.
final class BenchCommandTests: SwiftganProcessTestCase {

    /// The FLOP count that `--list` prints for a case.
    func listedFLOPs(_ output: String, case id: String) -> Int? {
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if words.count > 2, words[0] == id, words[2] == "FLOP" { return Int(words[1]) }
        }
        return nil
    }

    func testNominalFLOPCountsMatchHandComputedValues() throws {
        let r = try swiftgan(["bench", "--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 32x32, width 64, nz 100, one channel, per sample (multiply-adds = in * out * 4^2 * positions):
        //   G: 100*256*16*1 + 256*128*16*4^2 + 128*64*16*8^2 + 64*1*16*16^2 = 17,448,960 (transposed: input positions)
        //   D: 1*64*16*16^2 + 64*128*16*8^2 + 128*256*16*4^2 + 256*1*16*1 = 17,043,456 (convolution: output positions)
        //   step: 2 * 64 * (9 * D + 3 * G) = 26,334,461,952; sampling: 2 * 256 * G = 8,933,867,520.
        XCTAssertEqual(listedFLOPs(r.stdout, case: "train-32"), 26_334_461_952)
        XCTAssertEqual(listedFLOPs(r.stdout, case: "sample-32"), 8_933_867_520)
        // 64x64: G = 100*512*16 + 3 * 33,554,432 + 64*1*16*32^2 = 102,531,072;
        //        D = 1*64*16*32^2 + 3 * 33,554,432 + 512*1*16 = 101,720,064.
        XCTAssertEqual(listedFLOPs(r.stdout, case: "train-64"), 2 * 64 * (9 * 101_720_064 + 3 * 102_531_072))
        XCTAssertEqual(listedFLOPs(r.stdout, case: "sample-64"), 2 * 256 * 102_531_072)
        // The layers: 128 * 256 * 16 = 524,288 multiply-adds at each of 8^2 positions (output of the convolution, input of the
        // transposed one), that is 33,554,432 per sample; three passes, batch 64: 12,884,901,888.
        XCTAssertEqual(listedFLOPs(r.stdout, case: "d-conv"), 12_884_901_888)
        XCTAssertEqual(listedFLOPs(r.stdout, case: "g-deconv"), 12_884_901_888)
        // 3D, 32^3, width 32, nz 200 (kernel 4^3 = 64):
        //   G: 200*128*64*1 + 128*64*64*4^3 + 64*32*64*8^3 + 32*1*64*16^3 = 110,690,304
        //   D: 1*32*64*16^3 + 32*64*64*8^3 + 64*128*64*4^3 + 128*1*64*1 = 109,060,096
        XCTAssertEqual(listedFLOPs(r.stdout, case: "train-3d"), 2 * 32 * (9 * 109_060_096 + 3 * 110_690_304))
        XCTAssertEqual(listedFLOPs(r.stdout, case: "train-3d"), 84_071_153_664)
    }

    func testCountsFollowTheOptions() throws {
        let r = try swiftgan(["bench", "--list", "--cases", "train-32,d-conv", "--batch-size", "8", "--width", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Width 8: G = 100*32*16 + 32*16*16*16 + 16*8*16*64 + 8*1*16*256 = 346,112;
        //          D = 1*8*16*256 + 8*16*16*64 + 16*32*16*16 + 32*1*16 = 295,424.
        XCTAssertEqual(listedFLOPs(r.stdout, case: "train-32"), 2 * 8 * (9 * 295_424 + 3 * 346_112))
        XCTAssertEqual(listedFLOPs(r.stdout, case: "d-conv"), 2 * 8 * 3 * 33_554_432)
        XCTAssertNil(listedFLOPs(r.stdout, case: "train-64"))
        let sizes = try swiftgan(["bench", "--list", "--image-sizes", "64"])
        XCTAssertEqual(sizes.stdout.split(separator: "\n").map { $0.split(separator: " ")[0] }, ["train-64", "sample-64"])
    }

    /// More kernel threads than cores is allowed, with a warning (nothing is timed under --list).
    func testMoreThreadsThanCoresWarns() throws {
        let r = try swiftgan(["bench", "--list", "--threads", "1024"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("warning: --threads 1024 is more than this machine's"), r.stderr)
        let fine = try swiftgan(["bench", "--list", "--threads", "1"])
        XCTAssertEqual(fine.stderr, "")
    }

    /// One untimed-for-speed iteration of the cheapest case and a small GEMM, in the layout scripts/bench.sh parses.
    func testOutputLayout() throws {
        let r = try swiftgan(["bench", "--cases", "g-deconv", "--batch-size", "2", "--steps", "1", "--warmup", "0",
                                  "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let row = try NSRegularExpression(pattern: #"^g-deconv\s+[0-9.]+\s+[0-9.]+\s+0\.403\s+[0-9.]+\s+G deconv"#,
                                          options: .anchorsMatchLines)
        XCTAssertNotNil(row.firstMatch(in: r.stdout, range: NSRange(r.stdout.startIndex..., in: r.stdout)), r.stdout)
        XCTAssertTrue(r.stdout.contains("peak resident memory: "), r.stdout)
        let gemm = try swiftgan(["bench", "--gemm", "--gemm-size", "64", "--steps", "1", "--threads", "1"])
        XCTAssertEqual(gemm.status, 0, gemm.stderr)
        XCTAssertTrue(gemm.stdout.contains("gemm ceiling 64^3: best "), gemm.stdout)
        XCTAssertTrue(gemm.stdout.contains("gemm cblas_sgemm 64^3: best "), gemm.stdout)
        XCTAssertTrue(gemm.stdout.contains("gemm dnnl_sgemm 64^3: best "), gemm.stdout)
        XCTAssertTrue(gemm.stdout.contains("matrix products: "), gemm.stdout)
    }

    /// `SWIFTGAN_GEMM` picks the library for matrix products; a value the engine does not know is refused.
    func testEngineSettingsFromTheEnvironment() throws {
        for (value, library) in [("onednn", "oneDNN"), ("OpenBLAS", "OpenBLAS")] {
            let r = try swiftgan(["bench", "--gemm", "--gemm-size", "32", "--steps", "1", "--threads", "1"],
                                 environment: ["SWIFTGAN_GEMM": value])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("matrix products: \(library)"), r.stdout)
            XCTAssertTrue(r.stdout.contains("(SWIFTGAN_GEMM=\(value))"), r.stdout)
        }
        try assertError(["bench", "--list"], contains: "SWIFTGAN_GEMM='mkl' is not one of: openblas, onednn",
                        environment: ["SWIFTGAN_GEMM": "mkl"])
        try assertError(["bench", "--list"], contains: "SWIFTGAN_CHANNELS_LAST_FORWARD='maybe'",
                        environment: ["SWIFTGAN_CHANNELS_LAST_FORWARD": "maybe"])
        try assertError(["bench", "--list"], contains: "SWIFTGAN_BLOCKED_ACTIVATIONS='2'",
                        environment: ["SWIFTGAN_BLOCKED_ACTIVATIONS": "2"])
        let off = try swiftgan(["bench", "--list"], environment: ["SWIFTGAN_BLOCKED_ACTIVATIONS": "Off", "SWIFTGAN_PROFILE": "0"])
        XCTAssertEqual(off.status, 0, off.stderr)
    }

    func testBadArgumentsGiveOneLineErrors() throws {
        try assertError(["bench", "--cases", "train-48"], contains: "--cases: 'train-48' is not a case")
        try assertError(["bench", "--cases", "train-32,"], contains: "--cases: '' is not a case")
        try assertError(["bench", "--cases", "d-conv", "--image-sizes", "32"], contains: "not both")
        try assertError(["bench", "--gemm", "--list"], contains: "do not go together")
        try assertError(["bench", "--gemm-size", "8"], contains: "--gemm-size")
        try assertError(["bench", "--volume-batch-size", "1"], contains: "--volume-batch-size")
    }
}
