import Evaluation
import Foundation
import PromptRepo

/// Everything git holds about one run, gathered for the report: its settings, every candidate
/// with its verdict and operator, the merges with their gradients and prompt diffs, and the notes'
/// scores before and after.
public struct RunRecord: Sendable, Encodable {
    public struct Candidate: Sendable, Encodable {
        public var variant: Int
        public var commit: String
        public var operatorName: String
        public var summary: String
        /// The verdict trailer (`accepted`, `rejected: ...`), nil when the run stopped before it.
        public var verdict: String?
        public var accepted: Bool
        /// `Grad-Prevalence` of the verdict (`ok`, `skipped`, `collapse: ...`).
        public var prevalence: String?
        public var holdout: Double?
        /// The verdict's test: `sign test p=0.0039 (alpha 0.05/3)`; nil for the net rule.
        public var test: String?
    }

    public struct Step: Sendable, Encodable {
        public var step: Int
        /// The minibatch score of the prompt the step started from.
        public var trainBatch: Double?
        public var candidates: [Candidate]
        /// The trunk's holdout score after the step (unchanged when nothing was merged).
        public var holdoutAfter: Double?
        public var merge: Merge?
    }

    public struct Merge: Sendable, Encodable {
        public var commit: String
        public var variant: Int
        public var operatorName: String
        public var subject: String
        public var gradient: String
        public var diff: String
        public var holdoutBefore: Double?
        public var holdoutAfter: Double?
    }

    public var run: String
    public var manifest: RunManifest
    public var trunk: String
    public var baseCommit: String?
    public var finalCommit: String?
    public var steps: [Step]
    public var seedHoldout: Double?
    public var finalHoldout: Double?
    public var seedTest: Double?
    public var finalTest: Double?
    /// Holdout examples of the seed and of the final prompt (for per-class recall).
    public var seedExamples: [EvaluationNote.ExampleResult]
    public var finalExamples: [EvaluationNote.ExampleResult]
}

extension RunLedger {
    /// Reads one run's record from git. Throws when the run does not exist.
    public func runRecord(_ run: String, promptPath: String) throws -> RunRecord {
        guard let manifest = try runManifest(run) else { throw PromptRepoError.noSuchRun(run) }
        let trunk = manifest.trunkBranch
        let runID = try RunID(run)
        let trunkTip = try repository.branchTip(trunk)
        // The run's merges on its trunk, by step.
        let merges = try trunkTip.map { try mergesByRun(on: $0)[run] ?? [:] } ?? [:]
        var steps: [RunRecord.Step] = []
        var base: ObjectID?
        for step in 1...max(1, manifest.search.steps) {
            let recorded = try recordedCandidates(run: runID, step: step, variants: manifest.search.variants)
            if base == nil, let first = recorded.values.first { base = try repository.firstParent(of: first.candidate) }
            guard !recorded.isEmpty || merges[step] != nil else { continue }
            var entry = try recordedStep(step, recorded, task: manifest.task)
            if let merge = merges[step] {
                entry.merge = try mergeRecord(merge, promptPath: promptPath, task: manifest.task)
                entry.holdoutAfter = entry.merge?.holdoutAfter
            }
            steps.append(entry)
        }
        // A run of an experiment that found nothing to learn starts (and ends) at its trunk's tip.
        if base == nil, manifest.trunk != nil { base = trunkTip }
        // Carry the trunk's score through steps that merged nothing.
        let baseNote = try base.flatMap { try repository.evaluationNote($0, task: manifest.task) }
        var holdout = baseNote?.split("holdout")?.score
        for index in steps.indices {
            if let after = steps[index].holdoutAfter { holdout = after } else { steps[index].holdoutAfter = holdout }
        }
        let final = merges.max { $0.key < $1.key }?.value ?? base
        let finalNote = try final.flatMap { try repository.evaluationNote($0, task: manifest.task) }
        return RunRecord(
            run: run, manifest: manifest, trunk: trunk, baseCommit: base?.hex, finalCommit: final?.hex, steps: steps,
            seedHoldout: baseNote?.split("holdout")?.score, finalHoldout: finalNote?.split("holdout")?.score,
            seedTest: baseNote?.split("test")?.score, finalTest: finalNote?.split("test")?.score,
            seedExamples: baseNote?.split("holdout")?.examples ?? [], finalExamples: finalNote?.split("holdout")?.examples ?? [])
    }

    /// One step's candidates with their verdicts and holdout scores.
    private func recordedStep(
        _ step: Int, _ recorded: [Int: RecordedCandidate], task: String?
    ) throws -> RunRecord.Step {
        var candidates: [RunRecord.Candidate] = []
        var trainBatch: Double?
        for (variant, record) in recorded.sorted(by: { $0.key < $1.key }) {
            let verdict = try record.verdict.map { try repository.stepMessage($0) }
            trainBatch = trainBatch ?? record.message.value(TrailerKey.scoreTrain).flatMap(Double.init)
            let text = verdict?.value(TrailerKey.verdict)
            candidates.append(.init(
                variant: variant, commit: record.candidate.hex,
                operatorName: record.message.value(TrailerKey.operatorName) ?? "rewrite", summary: record.message.subject,
                verdict: text, accepted: text == "accepted", prevalence: verdict?.value(TrailerKey.prevalence),
                holdout: try repository.evaluationNote(record.candidate, task: task)?.split("holdout")?.score,
                test: verdict.flatMap { message in Significance.recordedText(message.value) }))
        }
        return RunRecord.Step(step: step, trainBatch: trainBatch, candidates: candidates)
    }

    /// An accepted step's merge commit: its gradient, the prompt diff it made and the holdout around it.
    private func mergeRecord(_ merge: ObjectID, promptPath: String, task: String?) throws -> RunRecord.Merge {
        let message = try repository.stepMessage(merge)
        let parent = try repository.firstParent(of: merge)
        return RunRecord.Merge(
            commit: merge.hex, variant: message.value(TrailerKey.variant).flatMap { Int($0.split(separator: "/").first ?? "") } ?? 0,
            operatorName: message.value(TrailerKey.operatorName) ?? "rewrite", subject: message.subject, gradient: message.body,
            diff: try repository.promptDiff(promptPath, from: parent, to: merge),
            holdoutBefore: try parent.flatMap { try repository.evaluationNote($0, task: task)?.split("holdout")?.score },
            holdoutAfter: try repository.evaluationNote(merge, task: task)?.split("holdout")?.score)
    }
}
