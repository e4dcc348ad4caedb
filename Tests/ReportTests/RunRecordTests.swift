import Foundation
import PromptRepo
@testable import Report
import TestSupport
import Testing

/// The report reads a run from what git holds, through the read-only ledger: a run written by the
/// store (two candidates, one merged) is read back with its verdicts, gradient, diff and scores,
/// and text from a model reaches the page only escaped.
@Suite("Report: a run read back from git")
struct RunRecordTests {
    static let promptPath = "prompts/classify.md"

    /// A repository with one run: s1v1 accepted and merged into main, s1v2 rejected; holdout notes
    /// on the seed (0.5), on both candidates and on the merge.
    static func repositoryWithARun(in directory: TemporaryDirectory, summary: String = "Say the sentiment in one word") async throws -> URL {
        let root = directory.url.appendingPathComponent("repo")
        let repository = try PromptRepository.initialize(at: root, template: nil)
        let seed = try repository.mainTip()
        let seedText = try repository.promptText(promptPath, at: seed)
        let store = RunStore(repository: repository)
        let run = try RunID("r-report")
        var search = SearchSettings()
        search.steps = 1
        try await store.recordRunIfNew(RunManifest(run: run.value, search: search, taskModel: "task", optimizerModel: "optimizer"))
        let model = EvaluationNote.ModelInfo(provider: "local", name: "task", temperature: 0, maxTokens: 8)
        func note(_ score: Double, on commit: ObjectID) async throws {
            let examples = (0..<4).map { EvaluationNote.ExampleResult(id: "h\($0)", output: "positive", expected: "positive", correct: Double($0) < score * 4, score: Double($0) < score * 4 ? 1 : 0) }
            try await store.recordSplit(
                .init(split: "holdout", score: score, correct: Int(score * 4), total: 4, examples: examples), of: commit, promptPath: promptPath,
                model: model, metric: "exact", task: nil)
        }
        try await note(0.5, on: seed)
        func trailers(_ variant: Int, _ kind: String) -> [Trailer] {
            [Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: "1"),
             Trailer(key: TrailerKey.variant, value: "\(variant)/2"), Trailer(key: TrailerKey.kind, value: kind),
             Trailer(key: TrailerKey.operatorName, value: "rules")]
        }
        var verdicts: [ObjectID] = []
        for (variant, accepted) in [(1, true), (2, false)] {
            let branch = CandidateBranch(run: run, step: 1, variant: variant)
            let candidate = try await store.commitCandidate(
                branch: branch, parent: seed, promptPath: promptPath, text: seedText + "Rule \(variant): answer in one word.\n",
                message: StepMessage(subject: variant == 1 ? summary : "Another try", body: "Gradient: the answers ramble.", trailers: trailers(variant, "candidate")))
            try await note(accepted ? 1 : 0.25, on: candidate)
            let verdictTrailers = [Trailer(key: TrailerKey.test, value: "sign test"), Trailer(key: TrailerKey.pValue, value: "0.0039"),
                                   Trailer(key: TrailerKey.alpha, value: "0.05/2"), Trailer(key: TrailerKey.verdict, value: accepted ? "accepted" : "rejected: not significant")]
            verdicts.append(try await store.commitVerdict(
                branch: branch, candidate: candidate,
                message: StepMessage(subject: "Verdict", trailers: trailers(variant, "verdict") + verdictTrailers)))
        }
        let merged = try await store.merge(
            verdictCommit: verdicts[0], into: GradRefs.mainBranch, expectedTip: seed,
            message: StepMessage(subject: "Step 1: \(summary)", body: "Gradient: the answers ramble.", trailers: trailers(1, "merge")))
        try await note(1, on: merged.commit)
        return root
    }

    @Test("a run's steps, verdicts, gradient, diff and scores are read back from git")
    func readsTheRun() async throws {
        let directory = try TemporaryDirectory()
        let root = try await Self.repositoryWithARun(in: directory)
        let record = try RunLedger(try PromptRepository.open(root)).runRecord("r-report", promptPath: Self.promptPath)
        #expect(record.steps.count == 1)
        let candidates = try #require(record.steps.first?.candidates)
        #expect(candidates.map(\.variant) == [1, 2])
        #expect(candidates.map(\.accepted) == [true, false])
        #expect(candidates[0].test == "sign test p=0.0039 (alpha 0.05/2)")
        #expect(candidates[1].verdict == "rejected: not significant")
        #expect(candidates.map(\.holdout) == [1, 0.25])
        let merge = try #require(record.steps.first?.merge)
        #expect(merge.gradient == "Gradient: the answers ramble.")
        #expect(merge.diff.contains("+Rule 1: answer in one word."))
        #expect(merge.holdoutBefore == 0.5 && merge.holdoutAfter == 1)
        #expect(record.seedHoldout == 0.5 && record.finalHoldout == 1)
    }

    @Test("text a model wrote reaches the page escaped")
    func escapesModelText() async throws {
        let directory = try TemporaryDirectory()
        let root = try await Self.repositoryWithARun(in: directory, summary: "<script>alert(1)</script> & more")
        let record = try RunLedger(try PromptRepository.open(root)).runRecord("r-report", promptPath: Self.promptPath)
        let html = HTMLReport.runSection(record, labels: ["positive", "negative"], heading: "h1")
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"))
    }

    @Test("a run that does not exist is an error naming it")
    func unknownRun() async throws {
        let directory = try TemporaryDirectory()
        let root = try await Self.repositoryWithARun(in: directory)
        #expect(throws: PromptRepoError.noSuchRun("nope")) {
            try RunLedger(try PromptRepository.open(root)).runRecord("nope", promptPath: Self.promptPath)
        }
    }
}
