import Foundation
import GitKit
import PromptRepo

/// The git record written straight through GitKit, as the benchmark wrote it before the one
/// writer (no working tree, no note read, an explicit signature): the baseline the store's figures
/// are compared with on the same machine and load.
func benchmarkRawGitRecord(steps: Int) throws {
    let keep: URL? = nil
    let directory = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-bench-\(UUID().uuidString)")
    defer { if keep == nil { try? FileManager.default.removeItem(at: directory) } }
    let repo = try Repository.create(at: directory)
    let signature = Signature(name: "bench", email: "bench@example.com")
    let seedTree = try repo.updateTree(nil, applying: [
        .upsert(path: "grad.toml", blob: try repo.createBlob("[task]\nprompt = \"prompts/p.md\"\ntrain = \"t.jsonl\"\nholdout = \"h.jsonl\"\n")),
        .upsert(path: "prompts/p.md", blob: try repo.createBlob("Seed prompt {{input}}\n")),
    ])
    var main = try repo.createCommit(
        message: StepMessage(subject: "Seed prompt", trailers: [Trailer(key: TrailerKey.step, value: "0")]).encode(),
        tree: seedTree, parents: [], author: signature, updateReference: GradRefs.main)
    let run = try RunID("bench")
    let gradient = String(repeating: "- The prompt must state the rule for refunds over the limit.\n", count: 8)
    let examples = (0..<64).map { EvaluationNote.ExampleResult(id: "h\($0)", output: "ledger", expected: "ledger", correct: $0 % 3 != 0, score: 1) }
    let sizeBefore = directorySize(directory.appendingPathComponent(".git"))

    var stepSeconds: [Double] = []
    let record = try seconds {
        for step in 1...steps {
            stepSeconds.append(try seconds {
                let branch = CandidateBranch(run: run, step: step, variant: 1)
                let mainTree = try repo.commit(main).tree
                let prompt = "Step \(step) prompt: route {{input}} to a queue.\nRule \(step): refunds over \(step) go to ledger.\n"
                let tree = try repo.updateTree(mainTree, applying: [.upsert(path: "prompts/p.md", blob: try repo.createBlob(prompt))])
                let trailers = [
                    Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: String(step)),
                    Trailer(key: TrailerKey.variant, value: "1/1"), Trailer(key: TrailerKey.kind, value: "candidate"),
                    Trailer(key: TrailerKey.errors, value: "5/8"), Trailer(key: TrailerKey.scoreTrain, value: "0.375"),
                ]
                let candidate = try repo.createCommit(
                    message: StepMessage(subject: "Candidate \(step)", body: gradient, trailers: trailers).encode(),
                    tree: tree, parents: [main], author: signature)
                try repo.updateReference(branch.reference, to: candidate, expecting: nil)
                let verdict = try repo.createCommit(
                    message: StepMessage(subject: "Verdict s\(step)v1: passed", trailers: [
                        Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: String(step)),
                        Trailer(key: TrailerKey.kind, value: "verdict"), Trailer(key: TrailerKey.verdict, value: "accepted"),
                    ]).encode(),
                    tree: tree, parents: [candidate], author: signature)
                try repo.updateReference(branch.reference, to: verdict, expecting: candidate)
                main = try repo.createMergeCommit(
                    ours: main, theirs: verdict,
                    message: StepMessage(subject: "Step \(step): candidate \(step)", body: gradient, trailers: trailers + [
                        Trailer(key: TrailerKey.scoreHoldout, value: "0.500 -> 0.510"), Trailer(key: TrailerKey.verdict, value: "accepted"),
                    ]).encode(),
                    updateReference: GradRefs.main, signature: signature)
                let note = EvaluationNote(
                    promptBlob: "0", model: .init(provider: "local", name: "m", temperature: 0, maxTokens: 8), metric: "choice",
                    splits: [.init(split: "holdout", score: 0.66, correct: 42, total: 64, examples: examples)])
                try repo.setNote(try note.encoded(), on: main, notesReference: GradRefs.notes, signature: signature)
            })
            if step % 1000 == 0 { FileHandle.standardError.write(Data("  … \(step) steps\n".utf8)) }
        }
    }
    let window = min(1000, steps)
    print("git record straight through GitKit (the earlier benchmark), \(steps) steps, load \(loadAverage())")
    print(String(format: "  time per recorded step      %.2f ms mean; first %d steps %.2f ms, last %d steps %.2f ms",
                 record / Double(steps) * 1000, window, stepSeconds.prefix(window).reduce(0, +) / Double(window) * 1000,
                 window, stepSeconds.suffix(window).reduce(0, +) / Double(window) * 1000))
}
