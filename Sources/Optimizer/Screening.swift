import Evaluation
import Foundation
import PromptRepo

/// The screen stage of a step: many candidates are cheap to score on train rows, while every
/// holdout test spends the holdout's trust (and a Bonferroni share of the step's level). So each
/// candidate is scored on the same train rows, outside the step's minibatch, against the current
/// prompt, and only the best `verify` of those better there go on to the holdout.
extension OptimizerRun {
    /// One candidate's screening: the train rows it was scored on and how it fared against the current prompt.
    struct Screening {
        let variant: Int
        let rows: Int
        let improvements: Int
        let regressions: Int
        let before: Double
        let after: Double
        var net: Int { improvements - regressions }
    }

    /// Screen: the candidates that go on to commit and verification. Recorded candidates (a
    /// resumed step) and candidates that cannot be used (rejected with their reason when
    /// verified) go on unscreened; with `screen_rows = 0` every candidate does.
    func screen(
        _ candidates: [ProposedCandidate], step: Int, current: String, batch: Minibatch, recorded: RecordedCandidates, context: RunContext
    ) async throws -> [ProposedCandidate] {
        let search = context.search
        guard search.screenRows > 0, !candidates.isEmpty else { return candidates }
        let rows = trainRows(outside: batch, step: step, salt: 99, count: search.screenRows, context: context)
        guard !rows.isEmpty else { return candidates }
        // From here the step spends calls on its candidates: the run is recorded, so an interrupted one resumes.
        try await store.recordRunIfNew(context.manifest)
        let callsBefore = await runtime.accounting.totals.calls
        let base = try await evaluateWithProgress("screening current (step \(step))", evaluator: context.evaluator, prompt: try context.pair(current), examples: rows)
        let baseByID = Dictionary(base.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let check = CandidateCheck(run: self, context: context, step: step, current: current, baseline: [])
        var passThrough: [ProposedCandidate] = []
        var screenings: [Int: Screening] = [:]
        var seen: Set<String> = []
        for candidate in candidates {
            if recorded[candidate.variant] != nil || check.problem(candidate) != nil {
                passThrough.append(candidate)
                continue
            }
            guard seen.insert(candidate.text).inserted else {
                emit(.message("step \(step) v\(candidate.variant) [\(candidate.operatorName.rawValue)]: the same prompt as another variant; not screened again"))
                continue
            }
            // Rows the candidate shows as worked examples would read as fixed: they are left out, for both prompts.
            let own = rows.filter { !Self.shows(candidate.text, row: $0, fields: config.task.inputFields) }
            // A candidate that shows every screening row (worked examples on a small train set) cannot be screened: it goes on.
            guard !own.isEmpty else {
                passThrough.append(candidate)
                continue
            }
            let outcomes = try await evaluateWithProgress(
                "screening v\(candidate.variant) (step \(step))", evaluator: context.evaluator, prompt: try context.pair(candidate.text), examples: own)
            let before = own.compactMap { baseByID[$0.id] }
            let flips = FlipTally.flips(before: before, after: outcomes)
            screenings[candidate.variant] = Screening(
                variant: candidate.variant, rows: own.count, improvements: flips.fixed, regressions: flips.broken,
                before: meanScore(before), after: meanScore(outcomes))
        }
        let chosen = Set(screenings.values.filter { $0.net > 0 }
            .sorted { ($0.net, $0.after, -$0.variant) > ($1.net, $1.after, -$1.variant) }.prefix(search.verify).map(\.variant))
        var kept = passThrough
        for candidate in candidates {
            guard let screening = screenings[candidate.variant] else { continue }
            let line = Self.describe(screening)
            if chosen.contains(candidate.variant) {
                var verified = candidate
                verified.trailers += [
                    Trailer(key: TrailerKey.screened, value: String(screenings.count)), Trailer(key: TrailerKey.scoreScreen, value: line),
                ]
                kept.append(verified)
            } else {
                emit(.message("step \(step) v\(candidate.variant) [\(candidate.operatorName.rawValue)]: screened out on train (\(line))"))
            }
        }
        let calls = await runtime.accounting.totals.calls - callsBefore
        emit(.message("step \(step): screened \(screenings.count) candidate(s) on \(rows.count) train rows (\(calls) calls); \(chosen.count) go to the holdout"))
        return kept.sorted { $0.variant < $1.variant }
    }

    /// Whether a prompt shows a row as a worked example (its input text is in the prompt).
    static func shows(_ text: String, row: Example, fields: [String]) -> Bool {
        fields.contains { field in
            guard let value = row.fields[field]?.trimmingCharacters(in: .whitespacesAndNewlines), value.count >= 12 else { return false }
            return text.contains(PromptFile.literal(value))
        }
    }

    /// `0.375 -> 0.500 (+4/-1 on 22 train rows)`.
    static func describe(_ screening: Screening) -> String {
        String(format: "%.3f -> %.3f (+%d/-%d on %d train rows)", screening.before, screening.after, screening.improvements,
               screening.regressions, screening.rows)
    }
}
