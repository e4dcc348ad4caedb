import Evaluation
import Foundation
import PromptRepo

/// The verify stage's work for one candidate: the checks before the holdout, regularized
/// verification (or the naive baseline's acceptance), and the choice among passing candidates.
struct CandidateCheck {
    let run: OptimizerRun
    let context: OptimizerRun.RunContext
    let step: Int
    /// The current prompt file's text and its holdout results.
    let current: String
    let baseline: [ExampleOutcome]

    /// Why a candidate is rejected before it reaches the holdout (identical to the current prompt,
    /// unusable template, does not render), or nil when it goes to verification.
    func problem(_ candidate: ProposedCandidate) -> String? {
        if candidate.text.trimmingCharacters(in: .whitespacesAndNewlines) == current.trimmingCharacters(in: .whitespacesAndNewlines) {
            return "identical to the current prompt"
        }
        let file: PromptFile
        do {
            file = try PromptFile.read(candidate.text, path: context.promptPath)
        } catch {
            return "\(error)"
        }
        if let problem = file.problems(path: context.promptPath, inputFields: context.inputFields).first { return problem }
        if let example = context.holdout.first {
            do {
                _ = try context.pair(candidate.text).messages(for: example)
            } catch {
                return "the prompt does not render (\(error))"
            }
        }
        return nil
    }

    /// A verdict reached without the holdout.
    func unverified(passed: Bool, text: String, score: Double? = nil) -> Verdict {
        Verdict(passed: passed, text: text, tally: FlipTally(baseline: []), baselineScore: meanScore(baseline), candidateScore: score, outcomes: [])
    }

    /// One candidate's verdict: regularized verification, or the naive baseline's acceptance.
    /// - Parameters:
    ///   - problem: the candidate's `problem`: why it does not reach the holdout, or nil.
    ///   - comparisons: the step's candidates that reach the holdout; each is tested at
    ///     alpha / comparisons (Bonferroni), so the step merges a no-better candidate with
    ///     probability at most alpha.
    func verdict(_ candidate: ProposedCandidate, problem: String?, candidates: [ProposedCandidate], comparisons: Int) async throws -> Verdict {
        if let problem {
            return unverified(passed: false, text: "rejected: \(problem)", score: problem.hasPrefix("identical") ? meanScore(baseline) : nil)
        }
        if context.search.selection == .naive {
            let first = candidates.first { $0.text != current }?.variant
            return candidate.variant == first
                ? unverified(passed: true, text: "accepted (naive selection: not verified)")
                : unverified(passed: false, text: "rejected: naive selection takes the first candidate")
        }
        let holdout = context.holdout
        let name = "verify s\(step)v\(candidate.variant)"
        run.emit(.phase(name: name, total: holdout.count))
        let verifier = Verifier(
            evaluator: context.evaluator, rule: PreservationRule(context.search, comparisons: comparisons),
            audit: AuditSettings(context.search, metric: run.config.metric, targets: holdout.map(\.target)))
        return try await verifier.verify(
            candidate: try context.pair(candidate.text), holdout: holdout, baseline: baseline,
            progress: run.progressReporter(name, total: holdout.count))
    }

    /// The best passing candidate: most net improvements, then fewest regressions, then lowest variant.
    static func selectWinner(_ verdicts: [Int: Verdict]) -> Int? {
        verdicts.filter(\.value.passed).min { a, b in
            let netA = a.value.tally.improvements - a.value.tally.regressions
            let netB = b.value.tally.improvements - b.value.tally.regressions
            if netA != netB { return netA > netB }
            if a.value.tally.regressions != b.value.tally.regressions { return a.value.tally.regressions < b.value.tally.regressions }
            return a.key < b.key
        }?.key
    }
}
