import XCTest
@testable import SwiftGANKernels

final class KernelMemoryTests: XCTestCase {
    func testPoolReusesBuffersOfTheSameSizeOnly() {
        let pool = LargeBufferPool(capacity: 1000)
        let a = UnsafeMutableRawPointer.allocate(byteCount: 400, alignment: 64)
        XCTAssertTrue(pool.keep(a, byteCount: 400))
        XCTAssertEqual(pool.keptBytes, 400)
        XCTAssertNil(pool.take(byteCount: 300), "a kept buffer of another size is not handed out")
        XCTAssertEqual(pool.take(byteCount: 400), a)
        XCTAssertEqual(pool.keptBytes, 0)
        XCTAssertNil(pool.take(byteCount: 400), "a buffer is handed out once")
        a.deallocate()
    }

    func testPoolFreesTheOldestBeyondItsCapacity() {
        let pool = LargeBufferPool(capacity: 1000)
        let buffers = (0..<3).map { _ in UnsafeMutableRawPointer.allocate(byteCount: 400, alignment: 64) }
        for b in buffers { XCTAssertTrue(pool.keep(b, byteCount: 400)) }
        XCTAssertEqual(pool.keptBytes, 800, "the first buffer was freed to stay within 1000 bytes")
        XCTAssertEqual(pool.take(byteCount: 400), buffers[2])
        XCTAssertEqual(pool.take(byteCount: 400), buffers[1])
        XCTAssertNil(pool.take(byteCount: 400))
        let huge = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        XCTAssertFalse(pool.keep(huge, byteCount: 2000), "a buffer over the capacity is left to the caller to free")
        huge.deallocate()
        buffers[1].deallocate()
        buffers[2].deallocate()
    }

    func testLargeAllocationsComeBackFromThePool() {
        let size = KernelMemory.poolThreshold + 4096
        let first = KernelMemory.allocate(byteCount: size)
        XCTAssertEqual(Int(bitPattern: first) % 64, 0)
        first.storeBytes(of: 1.5 as Float, as: Float.self)
        KernelMemory.deallocate(first, byteCount: size)
        let second = KernelMemory.allocate(byteCount: size)
        XCTAssertEqual(second, first, "a freed large buffer of the same size is reused")
        KernelMemory.deallocate(second, byteCount: size)
        let small = KernelMemory.allocate(byteCount: 100)
        XCTAssertEqual(Int(bitPattern: small) % 64, 0)
        KernelMemory.deallocate(small, byteCount: 100)
        KernelMemory.pool.empty()
        XCTAssertEqual(KernelMemory.pool.keptBytes, 0)
    }
}
