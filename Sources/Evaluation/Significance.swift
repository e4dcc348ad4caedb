import Foundation

/// Mean, sample standard deviation, min and max of a few numbers (one per seed).
public struct Spread: Sendable, Codable, Equatable {
    public let count: Int
    public let mean: Double
    /// The sample standard deviation (n - 1); 0 for a single value.
    public let standardDeviation: Double
    public let min: Double
    public let max: Double

    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        count = values.count
        mean = values.reduce(0, +) / Double(values.count)
        let mean = self.mean
        standardDeviation = values.count < 2 ? 0 : (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        min = values.min()!
        max = values.max()!
    }
}

/// A two-sided paired permutation (sign-flip) test on the mean difference of paired scores: under
/// the null hypothesis each pair's two results are exchangeable, so every difference's sign is a
/// coin flip. Exact over all 2^k sign patterns when k (the non-zero differences) is at most
/// `exactLimit`, Monte Carlo with a fixed seed otherwise (so the same data give the same p).
public struct PairedPermutationTest: Sendable {
    public var exactLimit = 20
    public var samples = 20_000
    public var seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init() {}

    /// The p-value for `differences` (treatment - baseline per pair). Identical results give 1.
    public func pValue(differences: [Double]) -> Double {
        let nonZero = differences.filter { $0 != 0 }
        guard !nonZero.isEmpty else { return 1 }
        // Zeros keep their value under any sign, so the sum of the non-zero ones decides.
        let observed = abs(nonZero.reduce(0, +))
        let tolerance = 1e-9 * max(1, observed)
        if nonZero.count <= exactLimit {
            var atLeast = 0
            let patterns = 1 << nonZero.count
            for pattern in 0..<patterns {
                var sum = 0.0
                for (index, value) in nonZero.enumerated() { sum += pattern & (1 << index) == 0 ? value : -value }
                if abs(sum) >= observed - tolerance { atLeast += 1 }
            }
            return Double(atLeast) / Double(patterns)
        }
        var generator = SeededGenerator(seed: seed)
        var atLeast = 0
        for _ in 0..<samples {
            var sum = 0.0
            for value in nonZero { sum += generator.next() & 1 == 0 ? value : -value }
            if abs(sum) >= observed - tolerance { atLeast += 1 }
        }
        // The observed pattern counts as one of the permutations, so p is never 0.
        return Double(atLeast + 1) / Double(samples + 1)
    }

    /// Bonferroni's correction for `comparisons` tests: p × m, at most 1.
    public static func bonferroni(_ p: Double, comparisons: Int) -> Double { min(1, p * Double(max(1, comparisons))) }
}

/// A small seeded generator (SplitMix64) so minibatches and label shuffles are reproducible on
/// every platform and across resumes, and a permutation test gives the same p for the same data.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public init(_ parts: Int...) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for part in parts { state = (state ^ UInt64(bitPattern: Int64(part))) &* 0xBF58_476D_1CE4_E5B9 }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

