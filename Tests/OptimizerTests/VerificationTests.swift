import Evaluation
import Optimizer
import Testing

@Suite struct VerificationTests {
    func tally(_ baseline: [Bool], _ candidate: [Bool], labels: [String]? = nil) -> FlipTally {
        var tally = FlipTally(baseline: baseline.enumerated().map { (id: "e\($0.offset)", label: labels?[$0.offset] ?? "x", correct: $0.element) })
        for correct in candidate { tally.add(candidateCorrect: correct) }
        return tally
    }

    @Test func moreRegressionsThanAllowedFailEvenWithAHigherScore() {
        // Baseline 4/8; candidate 6/8 with 2 regressions and 4 improvements.
        let baseline = [true, true, true, true, false, false, false, false]
        let candidate = [false, false, true, true, true, true, true, true]
        let result = tally(baseline, candidate)
        #expect(result.improvements == 4 && result.regressions == 2)
        #expect(PreservationRule(lambda: 1).failure(result) == nil)
        #expect(PreservationRule(lambda: 1, maxRegressions: 1).failure(result) != nil)
        #expect(PreservationRule(lambda: 2).failure(result) != nil)  // 4 - 2*2 = 0 is not > 0
    }

    @Test func recallGuardRejectsACollapsingClass() {
        let labels = ["a", "a", "b", "b", "b", "b"]
        let baseline = [true, true, false, false, false, false]
        let candidate = [false, false, true, true, true, true]
        let result = tally(baseline, candidate, labels: labels)
        #expect(PreservationRule(lambda: 1).failure(result) == nil)
        #expect(PreservationRule(lambda: 1, maxRecallDrop: 0.5).failure(result)?.contains("'a'") == true)
    }

    /// Early stopping never changes a verdict: over random baselines and candidates, stopping at
    /// the first moment the candidate cannot pass gives the same verdict as evaluating everything.
    @Test func earlyStoppingGivesTheFullVerdictWithFewerEvaluations() {
        var generator = SeededGenerator(seed: 42)
        var saved = 0
        for _ in 0..<2000 {
            let count = Int.random(in: 1...40, using: &generator)
            let labels = (0..<count).map { _ in ["a", "b", "c"].randomElement(using: &generator)! }
            let baseline = (0..<count).map { _ in Bool.random(using: &generator) }
            let candidate = (0..<count).map { _ in Double.random(in: 0...1, using: &generator) < 0.55 }
            let rule = PreservationRule(
                lambda: [0.5, 1, 2].randomElement(using: &generator)!,
                maxRegressions: [nil, 0, 1, 3].randomElement(using: &generator)!,
                maxRecallDrop: [nil, 0.1, 0.3].randomElement(using: &generator)!)
            let full = tally(baseline, candidate, labels: labels)
            let fullPasses = rule.failure(full) == nil

            var early = FlipTally(baseline: baseline.enumerated().map { (id: "e\($0.offset)", label: labels[$0.offset], correct: $0.element) })
            var stopped = false
            for correct in candidate {
                early.add(candidateCorrect: correct)
                if !rule.canStillPass(early) { stopped = true; break }
            }
            let earlyPasses = !stopped && rule.failure(early) == nil
            #expect(earlyPasses == fullPasses)
            if stopped { saved += early.remaining }
            #expect(early.evaluated <= count)
        }
        #expect(saved > 0)
    }
}
