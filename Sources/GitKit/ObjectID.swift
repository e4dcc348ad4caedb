internal import CLibgit2
import Foundation

/// A git object id (SHA-1), copied out of libgit2 so no libgit2 lifetime leaks.
///
/// The 20 bytes are kept as three big-endian words: equality and hashing are integer operations,
/// and comparing the words compares the ids as their hex spellings compare.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible, Comparable {
    private let high: UInt64
    private let middle: UInt64
    private let low: UInt32

    init(_ oid: git_oid) {
        (high, middle, low) = withUnsafeBytes(of: oid.id) { bytes in
            (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
             UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt32.self)))
        }
    }

    init(_ pointer: UnsafePointer<git_oid>) { self.init(pointer.pointee) }

    /// The id as libgit2 takes it.
    var raw: git_oid {
        var oid = git_oid()
        withUnsafeMutableBytes(of: &oid.id) { bytes in
            bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: middle.bigEndian, toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: low.bigEndian, toByteOffset: 16, as: UInt32.self)
        }
        return oid
    }

    /// Parses a full 40-character hex id. The corresponding libgit2 function is `git_oid_fromstr`.
    public init?(hex: String) {
        guard hex.count == 40, hex.allSatisfy(\.isHexDigit) else { return nil }
        var oid = git_oid()
        guard git_oid_fromstr(&oid, hex) == 0 else { return nil }
        self.init(oid)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    public var hex: String {
        String(unsafeUninitializedCapacity: 40) { text in
            func write(_ word: UInt64, digits: Int, at start: Int) {
                for position in 0..<digits {
                    text[start + position] = Self.hexDigits[Int((word >> UInt64((digits - 1 - position) * 4)) & 0xF)]
                }
            }
            write(high, digits: 16, at: 0)
            write(middle, digits: 16, at: 16)
            write(UInt64(low), digits: 8, at: 32)
            return 40
        }
    }

    public var short: String { String(hex.prefix(7)) }
    public var description: String { hex }

    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
        (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
    }
}
