import Evaluation
import Foundation
import LLM
import PromptRepo

/// The work inside the step's stages (see Step.swift): drawing a minibatch, proposing
/// candidates with the operators, verifying one candidate, choosing the winner, recording a verdict.
extension OptimizerRun {
    /// A step's minibatch outcomes and the ones selected for feedback.
    struct Minibatch {
        let outcomes: [ExampleOutcome]
        let selected: [ExampleOutcome]
        var errors: Int { outcomes.filter { !$0.correct }.count }
    }

    /// Stages 1-3: seeded minibatches until one has errors (for `feedback = errors`); nil when
    /// every draw was answered right.
    func drawMinibatch(_ step: Int, prompt: String, context: RunContext) async throws -> Minibatch? {
        let search = context.search
        let sampler = MinibatchSampler(seed: search.seed, batchSize: search.batchSize)
        let selector = FeedbackSelector(mode: search.feedback)
        for draw in 0...max(0, search.redraws) {
            let batch = sampler.batch(from: context.train, step: step, draw: draw)
            let outcomes = try await evaluateWithProgress(
                "train batch (step \(step))", evaluator: context.evaluator, prompt: context.pair(prompt), examples: batch)
            let selected = selector.select(outcomes)
            if search.feedback != .errors || !selected.isEmpty { return Minibatch(outcomes: outcomes, selected: selected) }
            emit(.message("step \(step): no errors in batch draw \(draw + 1); drawing another"))
        }
        return nil
    }

    /// Stages 4-5: the candidates of a step, one per variant, each from its scheduled operator.
    /// Candidates an interrupted run already committed are read back from git; only missing
    /// variants are proposed. An operator with nothing to propose leaves its variant empty.
    func proposeCandidates(
        _ step: Int, current: String, batch: Minibatch, recorded: [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)],
        context: RunContext
    ) async throws -> [ProposedCandidate] {
        let search = context.search
        let schedule = OperatorSchedule(operators: search.operators ?? [.rewrite], variants: search.variants)
        let presenter = LabelPresenter(mode: search.labels, labelSet: config.metric.labels, seed: search.seed)
        let shownTargets = presenter.shownTargets(for: batch.selected.map(\.example), step: step)
        let missing = (1...search.variants).filter { recorded[$0] == nil }
        let operators = Dictionary(missing.map { ($0, makeOperator(schedule.operatorFor(step: step, variant: $0), context: context)) },
                                   uniquingKeysWith: { first, _ in first })

        var gradient: TextualGradient?
        if operators.values.contains(where: \.needsGradient), search.feedback != .none {
            let writer = GradientWriter(
                client: runtime.optimizerClient, metaPrompts: metaPrompts, mode: search.gradient,
                settings: context.optimizerSettings, labelSet: config.metric.labels, inputFields: config.task.inputFields)
            emit(.phase(name: "gradient (step \(step))", total: 1))
            gradient = try await writer.gradient(prompt: current, outcomes: batch.selected, shownTargets: shownTargets, step: step)
            emit(.gradient(step: step, errors: batch.errors, batch: batch.outcomes.count, text: gradient?.text ?? ""))
        }
        if !missing.isEmpty { emit(.phase(name: "candidates (step \(step))", total: missing.count)) }

        var candidates: [ProposedCandidate] = []
        for variant in 1...search.variants {
            if let record = recorded[variant] {
                candidates.append(ProposedCandidate(
                    variant: variant,
                    operatorName: record.message.value(TrailerKey.operatorName).flatMap(SearchSettings.Operator.init(rawValue:)) ?? .rewrite,
                    summary: record.message.subject, text: try await recorder.promptText(config.task.prompt, at: record.candidate),
                    feedback: record.message.body,
                    trailers: record.message.trailers.filter { [TrailerKey.demos, TrailerKey.merged].contains($0.key) }))
                continue
            }
            guard let op = operators[variant] else { continue }
            let input = OperatorInput(
                step: step, variant: variant, current: current, promptPath: config.task.prompt, batch: batch.outcomes,
                selected: batch.selected, shownTargets: shownTargets, gradient: gradient, train: context.train,
                excludedIDs: context.excludedIDs, excludedInputs: context.excludedInputs, inputFields: config.task.inputFields,
                labels: config.metric.labels, search: search)
            if let candidate = try await op.propose(input) {
                candidates.append(candidate)
            } else {
                emit(.message("step \(step) v\(variant): the \(op.name.rawValue) operator had nothing to propose"))
            }
        }
        return candidates
    }

    /// The operator stage for one variant.
    func makeOperator(_ name: SearchSettings.Operator, context: RunContext) -> any CandidateOperator {
        switch name {
        case .rules: return RulesOperator(client: runtime.optimizerClient, metaPrompts: metaPrompts, settings: context.optimizerSettings)
        case .demos: return DemosOperator()
        case .rewrite: return RewriteOperator(client: runtime.optimizerClient, metaPrompts: metaPrompts, settings: context.optimizerSettings)
        case .merge: return MergeOperator(recorder: recorder, run: context.runID)
        }
    }

    /// Why a candidate is rejected before it reaches the holdout (identical to the current prompt,
    /// unusable template, does not render), or nil when it goes to verification.
    func precheck(_ candidate: ProposedCandidate, current: String, context: RunContext) -> String? {
        if candidate.text.trimmingCharacters(in: .whitespacesAndNewlines) == current.trimmingCharacters(in: .whitespacesAndNewlines) {
            return "identical to the current prompt"
        }
        if let problem = PromptFile.parse(candidate.text).problems(path: context.promptPath, inputFields: context.inputFields).first {
            return problem
        }
        if let example = context.holdout.first {
            do {
                _ = try context.pair(candidate.text).messages(for: example)
            } catch {
                return "the prompt does not render (\(error))"
            }
        }
        return nil
    }

    /// Stage 6 for one candidate: regularized verification, or the naive baseline's acceptance.
    /// - Parameters:
    ///   - problem: the candidate's `precheck`: why it does not reach the holdout, or nil.
    ///   - comparisons: the step's candidates that reach the holdout; each is tested at
    ///     alpha / comparisons (Bonferroni), so the step merges a no-better candidate with
    ///     probability at most alpha.
    func verify(
        _ candidate: ProposedCandidate, problem: String?, step: Int, current: String, candidates: [ProposedCandidate], comparisons: Int,
        state: RunState, context: RunContext
    ) async throws -> Verdict {
        let holdout = context.holdout
        let unverified = { (passed: Bool, text: String, score: Double?) in
            Verdict(passed: passed, text: text, tally: FlipTally(baseline: []), baselineScore: self.score(state.baseline),
                    candidateScore: score, outcomes: [])
        }
        if let problem {
            return unverified(false, "rejected: \(problem)", problem.hasPrefix("identical") ? score(state.baseline) : nil)
        }
        if context.search.selection == .naive {
            let first = candidates.first { $0.text != current }?.variant
            return candidate.variant == first
                ? unverified(true, "accepted (naive selection: not verified)", nil)
                : unverified(false, "rejected: naive selection takes the first candidate", nil)
        }
        let name = "verify s\(step)v\(candidate.variant)"
        emit(.phase(name: name, total: holdout.count))
        let verifier = Verifier(
            evaluator: context.evaluator, rule: PreservationRule(context.search, comparisons: comparisons),
            audit: AuditSettings(context.search, metric: config.metric, targets: holdout.map(\.target)))
        return try await verifier.verify(
            candidate: context.pair(candidate.text), holdout: holdout, baseline: state.baseline,
            progress: progressReporter(name, total: holdout.count))
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

    /// Writes a verdict commit on the candidate's branch and the candidate's holdout note.
    func recordVerdict(
        _ verdict: Verdict, step: Int, variant: Int, candidate: ObjectID, usageBefore: UsageTotals, context: RunContext
    ) async throws -> ObjectID {
        let usage = await runtime.accounting.totals
        let body = ([verdict.text] + (verdict.significance.map { ["Test (holdout): " + $0.summary] } ?? [])
            + (verdict.audit.map { [""] + $0.lines } ?? [])).joined(separator: "\n")
        let message = StepMessage(
            subject: "Verdict s\(step)v\(variant): \(verdict.passed ? "accepted" : "rejected")", body: body,
            trailers: stepTrailers(step, variant: variant, kind: "verdict", context: context)
                + verdictTrailers(verdict, accepted: verdict.passed) + usageTrailers(usage, since: usageBefore))
        let branch = CandidateBranch(run: context.runID, step: step, variant: variant)
        let commit = try await recorder.commitVerdict(branch: branch, candidate: candidate, message: message)
        if !verdict.outcomes.isEmpty {
            try await recorder.recordEvaluation(
                verdict.outcomes, split: "holdout", total: context.holdout.count, complete: verdict.complete, verdict: verdict.text,
                of: candidate, config: config)
        }
        return commit
    }
}
