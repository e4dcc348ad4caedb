import Evaluation
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
