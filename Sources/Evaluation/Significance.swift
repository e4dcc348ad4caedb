import Foundation
import PromptRepo

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
        tailShare(differences) { abs($0) }
    }

    /// The share of sign patterns of the non-zero differences whose `statistic` of the sum
    /// reaches the observed one: exact over all 2^k patterns up to `exactLimit`, seeded Monte
    /// Carlo above with the observed pattern counted (p never 0). All zeros give 1.
    func tailShare(_ differences: [Double], statistic: (Double) -> Double) -> Double {
        let nonZero = differences.filter { $0 != 0 }
        guard !nonZero.isEmpty else { return 1 }
        // Zeros keep their value under any sign, so the sum of the non-zero ones decides.
        let observed = statistic(nonZero.reduce(0, +))
        let tolerance = 1e-9 * max(1, abs(observed))
        if nonZero.count <= exactLimit {
            var atLeast = 0
            let patterns = 1 << nonZero.count
            for pattern in 0..<patterns {
                var sum = 0.0
                for (index, value) in nonZero.enumerated() { sum += pattern & (1 << index) == 0 ? value : -value }
                if statistic(sum) >= observed - tolerance { atLeast += 1 }
            }
            return Double(atLeast) / Double(patterns)
        }
        var generator = SeededGenerator(seed: seed)
        var atLeast = 0
        for _ in 0..<samples {
            var sum = 0.0
            for value in nonZero { sum += generator.next() & 1 == 0 ? value : -value }
            if statistic(sum) >= observed - tolerance { atLeast += 1 }
        }
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


/// The exact one-sided sign test (exact McNemar on a paired 0/1 comparison): of the `trials`
/// examples the two versions disagree on, `successes` went the tested way. Under the null
/// hypothesis each disagreement is a fair coin, so p = P(X ≥ successes), X ~ Binomial(trials, ½).
public enum SignTest {
    public static func upperTail(_ successes: Int, of trials: Int) -> Double {
        guard trials > 0, successes > 0 else { return 1 }
        guard successes <= trials else { return 0 }
        let n = Double(trials)
        let logHalfPower = -n * log(2.0)
        var total = 0.0
        let logN: Double = lgamma(n + 1)
        for k in successes...trials {
            let x = Double(k)
            let logChoose: Double = logN - lgamma(x + 1) - lgamma(n - x + 1)
            total += exp(logChoose + logHalfPower)
        }
        return min(1, total)
    }
}

extension PairedPermutationTest {
    /// The one-sided p-value that the mean difference is positive: the share of sign patterns
    /// whose sum reaches the observed one.
    public func upperPValue(differences: [Double]) -> Double {
        tailShare(differences) { $0 }
    }
}

/// The paired comparison of two versions of a prompt on the same examples, and its one-sided
/// tests: is the candidate better (`pBetter`), is it worse (`pWorse`)? For 0/1 scores the exact
/// sign test on the examples the two disagree on; for graded scores (a judge's 0-100, a command
/// metric) the paired sign-flip test on the score differences.
public struct PairedComparison: Sendable, Equatable {
    /// candidate - parent, per example.
    public let differences: [Double]
    /// Whether every score is 0 or 1 (then the sign test applies).
    public let binary: Bool

    public init(parent: [Double], candidate: [Double]) {
        precondition(parent.count == candidate.count)
        differences = zip(candidate, parent).map { $0 - $1 }
        binary = (parent + candidate).allSatisfy { $0 == 0 || $0 == 1 }
    }

    public var improvements: Int { differences.filter { $0 > 0 }.count }
    public var regressions: Int { differences.filter { $0 < 0 }.count }

    /// `sign test` or `sign-flip test`: the name the trailers and `show` print.
    public var testName: String { binary ? "sign test" : "sign-flip test" }

    /// One-sided p that the candidate is better.
    public var pBetter: Double {
        binary ? SignTest.upperTail(improvements, of: improvements + regressions)
            : PairedPermutationTest().upperPValue(differences: differences)
    }

    /// One-sided p that the candidate is worse.
    public var pWorse: Double {
        binary ? SignTest.upperTail(regressions, of: improvements + regressions)
            : PairedPermutationTest().upperPValue(differences: differences.map { -$0 })
    }
}

/// A mean over a few values (one per seed) with its t confidence interval.
public struct MeanInterval: Sendable, Codable, Equatable {
    public let mean: Double
    public let low: Double
    public let high: Double
    public let level: Double

    /// The two-sided `level` (0.95) Student t interval; nil for fewer than two values.
    public init?(_ values: [Double], level: Double = 0.95) {
        guard values.count >= 2, let spread = Spread(values) else { return nil }
        let half = Self.tQuantile(degrees: values.count - 1, level: level) * spread.standardDeviation / Double(values.count).squareRoot()
        mean = spread.mean
        low = spread.mean - half
        high = spread.mean + half
        self.level = level
    }

    /// The two-sided quantile of Student's t, found by bisection on its CDF (regularized
    /// incomplete beta by continued fraction), so any level and degrees of freedom work.
    static func tQuantile(degrees: Int, level: Double) -> Double {
        let target = (1 + level) / 2
        var low = 0.0, high = 1000.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if tCDF(mid, degrees: Double(degrees)) < target { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    static func tCDF(_ t: Double, degrees v: Double) -> Double {
        let x = v / (v + t * t)
        let tail = 0.5 * incompleteBeta(x, a: v / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The regularized incomplete beta function I_x(a, b) (Numerical Recipes' betacf).
    static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - incompleteBeta(1 - x, a: b, b: a) }
        let logGammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let front = exp(logGammas + logPowers)
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < 1e-300 { d = 1e-300 }
        d = 1 / d
        var result = d
        for m in 1...300 {
            let m = Double(m)
            var numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + numerator * d; if abs(d) < 1e-300 { d = 1e-300 }
            c = 1 + numerator / c; if abs(c) < 1e-300 { c = 1e-300 }
            d = 1 / d
            result *= d * c
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + numerator * d; if abs(d) < 1e-300 { d = 1e-300 }
            c = 1 + numerator / c; if abs(c) < 1e-300 { c = 1e-300 }
            d = 1 / d
            let delta = d * c
            result *= delta
            if abs(delta - 1) < 1e-12 { break }
        }
        return front * result / a
    }
}

/// How much a holdout has been used to choose. Each candidate judged on it spends some of its
/// trust: by Hoeffding's inequality and a union bound, the holdout scores of `candidates`
/// prompts are all within ±`margin` of their true accuracies with 95 % confidence, and the margin
/// grows with the log of the candidates judged. The holdout counts as overused once that margin is
/// 1.5 times a single use's (about 100 candidates, whatever its size): beyond that the best
/// holdout score says more about the search than about the prompt, and fresh rows are needed.
public struct HoldoutReuse: Sendable, Codable, Equatable {
    public let candidates: Int
    public let size: Int

    public init(candidates: Int, size: Int) {
        self.candidates = candidates
        self.size = size
    }

    public static let confidence = 0.95
    public static let overuseFactor = 1.5

    static func margin(candidates: Int, size: Int) -> Double {
        guard size > 0 else { return 1 }
        return (log(2 * Double(max(1, candidates)) / (1 - confidence)) / (2 * Double(size))).squareRoot()
    }

    /// The simultaneous ±margin of every judged candidate's holdout score.
    public var margin: Double { Self.margin(candidates: candidates, size: size) }

    public var overused: Bool { margin >= Self.overuseFactor * Self.margin(candidates: 1, size: size) - 1e-12 }
}

/// A verdict's test: `sign test`, one-sided p, and the level (`0.05/3` under Bonferroni).
public struct Significance: Sendable, Equatable {
    public var test: String
    public var p: Double
    public var level: String
    /// What the p is for: `better` (a step) or `worse` (the regression gate).
    public var question: String

    public init(test: String, p: Double, level: String, question: String) {
        self.test = test
        self.p = p
        self.level = level
        self.question = question
    }

    public var pText: String { Self.format(p) }

    /// A p-value or level as trailers and tables print it.
    public static func format(_ p: Double) -> String {
        p < 0.0001 ? String(format: "%.1e", p) : String(format: "%.4g", p)
    }

    /// A recorded verdict's or merge's test line, read back from its trailers
    /// (`sign test p=0.0039 (alpha 0.05/3)`); nil when it carries no test (the net rule).
    public static func recordedText(_ trailer: (String) -> String?) -> String? {
        guard let test = trailer(TrailerKey.test) else { return nil }
        return "\(test) p=\(trailer(TrailerKey.pValue) ?? "?") (alpha \(trailer(TrailerKey.alpha) ?? "?"))"
    }
    /// `sign test p=0.0039 (alpha 0.05/3)`.
    public var summary: String { "\(test) p=\(pText) (one-sided, \(question); alpha \(level))" }
}
