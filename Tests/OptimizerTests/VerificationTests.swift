import Evaluation
import PromptRepo
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

    /// A tally of `fixed` improvements and `broken` regressions over `size` examples.
    func flips(fixed: Int, broken: Int, size: Int = 100, parentRight: Int = 30) -> FlipTally {
        precondition(broken <= parentRight && fixed <= size - parentRight)
        let baseline = (0..<size).map { $0 < parentRight }
        let candidate = (0..<size).map { index in index < parentRight ? index >= broken : index < parentRight + fixed }
        return tally(baseline, candidate)
    }

    let significant = PreservationRule(kind: .significant, alpha: 0.05, maxBrokenRatio: 0.5)

    @Test func theSignificantRuleMergesNoNoise() {
        #expect(significant.failure(flips(fixed: 1, broken: 0))?.contains("not significant") == true)
        #expect(significant.failure(flips(fixed: 4, broken: 3))?.contains("not significant") == true)
        // The swap of the issue: 25 fixed, 19 broken on 100 holdout examples.
        let swap = significant.failure(flips(fixed: 25, broken: 19))
        #expect(swap != nil)
        #expect(significant.failure(flips(fixed: 12, broken: 0)) == nil)
        #expect(significant.failure(flips(fixed: 30, broken: 2)) == nil)
        // The old net rule merged all of these noisy ones.
        #expect(PreservationRule(lambda: 1).failure(flips(fixed: 1, broken: 0)) == nil)
        #expect(PreservationRule(lambda: 1).failure(flips(fixed: 25, broken: 19)) == nil)
    }

    @Test func bonferroniHoldsEachCandidateToAlphaOverTheStepsCandidates() {
        // +5/-0: p = 1/32 = 0.031: significant alone, not when three candidates were judged.
        #expect(significant.failure(flips(fixed: 5, broken: 0)) == nil)
        var three = significant
        three.comparisons = 3
        #expect(three.failure(flips(fixed: 5, broken: 0))?.contains("0.05/3") == true)
        #expect(three.failure(flips(fixed: 6, broken: 0)) == nil)  // 1/64 < 0.0167
    }

    @Test func preservationRefusesASignificantSwap() {
        // 70 fixed, 40 broken on 400: p < 0.01, but 40 broken for 70 fixed is more than 0.5 per fix.
        let wide = flips(fixed: 70, broken: 40, size: 400, parentRight: 200)
        #expect(wide.comparison.pBetter < 0.01)
        #expect(significant.failure(wide)?.contains("preservation") == true)
        #expect(significant.failure(flips(fixed: 70, broken: 30, size: 400, parentRight: 200)) == nil)
    }

    @Test func theRegressionGateAsksWhetherHeadIsWorse() {
        let gate = PreservationRule(kind: .significant, question: .notWorse, alpha: 0.05, maxBrokenRatio: 0.5)
        #expect(gate.failure(flips(fixed: 0, broken: 0)) == nil)  // unchanged behaviour passes
        #expect(gate.failure(flips(fixed: 0, broken: 2)) == nil)  // two broken for nothing: within noise
        #expect(gate.failure(flips(fixed: 0, broken: 3))?.contains("preservation") == true)
        #expect(gate.failure(flips(fixed: 1, broken: 8))?.contains("significantly worse") == true)
        #expect(gate.failure(flips(fixed: 10, broken: 4)) == nil)
        #expect(gate.significance(flips(fixed: 1, broken: 8))?.question == "worse")
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
                kind: [.net, .significant].randomElement(using: &generator)!,
                comparisons: [1, 2, 3].randomElement(using: &generator)!,
                lambda: [0.5, 1, 2].randomElement(using: &generator)!,
                maxRegressions: [nil, 0, 1, 3].randomElement(using: &generator)!,
                maxRecallDrop: [nil, 0.1, 0.3].randomElement(using: &generator)!,
                maxBrokenRatio: [nil, 0.25, 0.5].randomElement(using: &generator)!)
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

@Suite struct PrevalenceAuditTests {
    func outcome(_ id: Int, target: String, answer: String) -> ExampleOutcome {
        let correct = target.lowercased() == answer.lowercased()
        return ExampleOutcome(
            example: Example(id: "h\(id)", fields: ["text": "x"], target: target, source: "holdout:\(id)"), output: answer,
            score: Score(extracted: answer, correct: correct, value: correct ? 1 : 0), cached: false)
    }

    /// The holdout: one class 60 %, four of 10 % each; the parent right on 30 of the big
    /// class and 1 of each small one; the candidate answers the big class everywhere.
    @Test func aOneLabelCollapseIsCaughtWhenTheClassesAreImbalanced() throws {
        let labels = ["big", "s1", "s2", "s3", "s4"]
        var targets: [String] = Array(repeating: "big", count: 60)
        for label in labels.dropFirst() { targets += Array(repeating: label, count: 10) }
        var parent: [ExampleOutcome] = []
        var seen: [String: Int] = [:]
        for (index, target) in targets.enumerated() {
            seen[target, default: 0] += 1
            let right = target == "big" ? seen[target]! <= 30 : seen[target]! == 1
            parent.append(outcome(index, target: target, answer: right ? target : (target == "big" ? "s1" : "big")))
        }
        let candidate = targets.enumerated().map { outcome($0.offset, target: $0.element, answer: "big") }
        let audit = try #require(PrevalenceAudit(parent: parent, candidate: candidate, labels: labels))
        let collapse = try #require(audit.collapse)
        #expect(collapse.contains("'big' predicted for 100%"))
        #expect(collapse.contains("recall of 's1' fell to 0"))
        #expect(audit.balancedAccuracyDropP <= 0.05 || collapse.contains("fell to 0"))
        // Accuracy rose 0.34 -> 0.60, which the old audit let through.
        #expect(meanScore(parent) < meanScore(candidate))
    }

    @Test func balancedAccuracyFallingSignificantlyIsACollapse() throws {
        // 80 'a' rows and 20 'b' rows: the candidate fixes 10 'a' and breaks 12 of 20 'b' (recall 0.8 -> 0.2).
        var parent: [ExampleOutcome] = [], candidate: [ExampleOutcome] = []
        for i in 0..<80 {
            parent.append(outcome(i, target: "a", answer: i < 60 ? "a" : "b"))
            candidate.append(outcome(i, target: "a", answer: i < 70 ? "a" : "b"))
        }
        for i in 80..<100 {
            parent.append(outcome(i, target: "b", answer: i < 96 ? "b" : "a"))
            candidate.append(outcome(i, target: "b", answer: i < 84 ? "b" : "a"))
        }
        let audit = try #require(PrevalenceAudit(parent: parent, candidate: candidate, labels: ["a", "b"]))
        #expect(audit.candidateBalancedAccuracy < audit.parentBalancedAccuracy)
        #expect(audit.collapse?.contains("balanced accuracy fell") == true)
    }

    @Test func labelsCompareAsTheScorerDoes() throws {
        // grad.toml says "safety"; the data says "Safety": recall is read case-insensitively.
        let parent = (0..<10).map { outcome($0, target: $0 < 5 ? "Safety" : "desk", answer: $0 < 5 ? "safety" : "desk") }
        let candidate = (0..<10).map { outcome($0, target: $0 < 5 ? "Safety" : "desk", answer: "desk") }
        let audit = try #require(PrevalenceAudit(parent: parent, candidate: candidate, labels: ["safety", "desk"]))
        #expect(audit.classes.first { $0.label == "safety" }?.parentRecall == 1)
        #expect(audit.collapse?.contains("recall of 'safety' fell to 0") == true)
    }

    @Test func aBalancedImprovementIsNoCollapse() throws {
        let parent = (0..<40).map { outcome($0, target: $0 % 2 == 0 ? "a" : "b", answer: $0 < 20 ? ($0 % 2 == 0 ? "a" : "b") : "a") }
        let candidate = (0..<40).map { outcome($0, target: $0 % 2 == 0 ? "a" : "b", answer: $0 % 2 == 0 ? "a" : "b") }
        let audit = try #require(PrevalenceAudit(parent: parent, candidate: candidate, labels: ["a", "b"]))
        #expect(audit.collapse == nil)
    }
}
