@testable import Evaluation
import Testing

@Suite struct SignificanceTests {
    let test = PairedPermutationTest()

    @Test func identicalResultsGivePOne() {
        #expect(test.pValue(differences: []) == 1)
        #expect(test.pValue(differences: Array(repeating: 0, count: 64)) == 1)
    }

    @Test func exactPValuesOnSmallConstructedResults() {
        // Three pairs all +1: only the all-plus and all-minus of the 8 sign patterns reach |3|.
        #expect(test.pValue(differences: [1, 1, 1, 0, 0]) == 2.0 / 8.0)
        // +1, +1, -1: every pattern has |sum| >= 1.
        #expect(test.pValue(differences: [1, 1, -1]) == 1)
        // Ten wins out of ten: 2 / 1024.
        #expect(test.pValue(differences: Array(repeating: 1, count: 10)) == 2.0 / 1024.0)
    }

    @Test func aClearDifferenceOnManyPairsGivesASmallPMonteCarlo() {
        // 40 pairs where the treatment wins 36 times and loses 4 (more than the exact limit).
        let differences = Array(repeating: 1.0, count: 36) + Array(repeating: -1.0, count: 4) + Array(repeating: 0.0, count: 88)
        let p = test.pValue(differences: differences)
        #expect(p < 0.001)
        #expect(p > 0)  // the observed pattern counts: never 0
        #expect(test.pValue(differences: differences) == p)  // seeded: the same data give the same p
        // A balanced mix is not significant.
        #expect(test.pValue(differences: Array(repeating: 1.0, count: 21) + Array(repeating: -1.0, count: 20)) > 0.5)
    }

    @Test func bonferroniMultipliesByTheComparisonsAndCapsAtOne() {
        #expect(PairedPermutationTest.bonferroni(0.01, comparisons: 3) == 0.03)
        #expect(PairedPermutationTest.bonferroni(0.5, comparisons: 3) == 1)
        #expect(PairedPermutationTest.bonferroni(0.2, comparisons: 0) == 0.2)
    }

    @Test func spreadUsesTheSampleStandardDeviation() throws {
        let spread = try #require(Spread([0.2, 0.4, 0.6]))
        #expect(abs(spread.mean - 0.4) < 1e-12)
        #expect(abs(spread.standardDeviation - 0.2) < 1e-12)
        #expect(spread.min == 0.2 && spread.max == 0.6 && spread.count == 3)
        #expect(Spread([0.5])?.standardDeviation == 0)
        #expect(Spread([]) == nil)
    }
}

@Suite struct SignTestAndIntervalTests {
    @Test func signTestTailsAreExactBinomialTails() {
        #expect(SignTest.upperTail(1, of: 1) == 0.5)
        #expect(abs(SignTest.upperTail(12, of: 12) - 1.0 / 4096) < 1e-15)
        #expect(SignTest.upperTail(0, of: 5) == 1)
        #expect(SignTest.upperTail(0, of: 0) == 1)
        // The merged coin toss of the issue: 25 fixed, 19 broken.
        #expect(abs(SignTest.upperTail(25, of: 44) - 0.2257) < 0.001)
        // 4 fixed, 3 broken: P(X >= 4 | 7) = 64/128.
        #expect(abs(SignTest.upperTail(4, of: 7) - 0.5) < 1e-12)
        // Large n stays finite and in (0, 1].
        let big = SignTest.upperTail(560, of: 1000)
        #expect(big > 0 && big < 0.001)
    }

    @Test func pairedComparisonUsesTheSignTestForZeroOneAndSignFlipForGrades() {
        let binary = PairedComparison(parent: [1, 0, 0, 1, 0], candidate: [1, 1, 1, 0, 1])
        #expect(binary.binary && binary.testName == "sign test")
        #expect(binary.improvements == 3 && binary.regressions == 1)
        #expect(abs(binary.pBetter - 5.0 / 16) < 1e-12)
        #expect(binary.pWorse == SignTest.upperTail(1, of: 4))
        let graded = PairedComparison(parent: [0.2, 0.5, 0.5], candidate: [0.9, 0.8, 0.5])
        #expect(!graded.binary && graded.testName == "sign-flip test")
        // Two positive differences: only the all-plus pattern of 4 reaches the observed sum.
        #expect(graded.pBetter == 0.25)
        #expect(graded.pWorse == 1)
    }

    @Test func oneSidedSignFlipIsHalfTheTwoSidedForAClearWin() {
        let test = PairedPermutationTest()
        let wins = Array(repeating: 1.0, count: 8)
        #expect(test.upperPValue(differences: wins) == 1.0 / 256)
        #expect(test.upperPValue(differences: wins.map { -$0 }) == 1)
        #expect(test.upperPValue(differences: [0, 0]) == 1)
    }

    @Test func meanIntervalUsesStudentsT() throws {
        #expect(abs(MeanInterval.tQuantile(degrees: 4, level: 0.95) - 2.776) < 0.001)
        #expect(abs(MeanInterval.tQuantile(degrees: 1, level: 0.95) - 12.706) < 0.01)
        let interval = try #require(MeanInterval([0.1, 0.2, 0.3]))
        // mean 0.2, s 0.1, t(2) 4.303: ± 0.2484.
        #expect(abs(interval.low - (0.2 - 0.2484)) < 0.001 && abs(interval.high - (0.2 + 0.2484)) < 0.001)
        #expect(MeanInterval([0.5]) == nil)
    }

    @Test func holdoutReuseWarnsAfterAboutAHundredCandidates() {
        #expect(!HoldoutReuse(candidates: 9, size: 64).overused)
        #expect(!HoldoutReuse(candidates: 90, size: 64).overused)
        #expect(HoldoutReuse(candidates: 110, size: 64).overused)
        #expect(HoldoutReuse(candidates: 110, size: 1000).overused)
        #expect(HoldoutReuse(candidates: 9, size: 64).margin > HoldoutReuse(candidates: 9, size: 256).margin)
    }
}
