import Foundation
import GitKit
@testable import PromptRepo
import Testing

/// `PromptRepository.initialize` from sample-repo into a fresh directory.
func withSamplePromptRepository<T>(_ body: (PromptRepository, URL) throws -> T) throws -> T {
    try withTemporaryDirectory { temp in
        let url = temp.appendingPathComponent("repo")
        let repository = try PromptRepository.initialize(at: url, template: sampleRepo)
        return try body(repository, url)
    }
}

/// Commits the working tree's prompts/router.md with the git CLI; returns the new commit.
@discardableResult
func commitPrompt(_ text: String, subject: String, in url: URL, repository: PromptRepository) throws -> ObjectID {
    try writeFile(text, "prompts/router.md", in: url)
    try git("commit", "-q", "-am", subject, in: url)
    return try repository.mainTip()
}

@Suite("Prompt repository")
struct PromptRepositoryTests {
    @Test("initialize copies the template and records it as one commit with Grad-Step: 0")
    func initialize() throws {
        try withSamplePromptRepository { repository, url in
            let tip = try repository.mainTip()
            let message = try repository.stepMessage(tip)
            #expect(message.subject == "Seed prompt")
            #expect(message.value(TrailerKey.step) == "0")
            #expect(try repository.git.commit(tip).parents.isEmpty)
            #expect(try repository.git.currentBranch() == "main")
            #expect(try repository.config() == GradConfig.load(from: sampleRepo))
            #expect(try repository.config(at: tip) == GradConfig.load(from: sampleRepo))
            #expect(try repository.promptText("prompts/router.md", at: tip) == readFile("prompts/router.md", in: sampleRepo))
            #expect(try git("status", "--porcelain", "--untracked-files=all", in: url).isEmpty)
            #expect(try runGit(["fsck", "--full"], in: url).status == 0)
            #expect(try repository.uncommittedPromptFiles(repository.config()).isEmpty)
        }
    }

    @Test("initialize without a template writes a minimal example whose datasets load")
    func initializeMinimal() throws {
        try withTemporaryDirectory { temp in
            let repository = try PromptRepository.initialize(at: temp.appendingPathComponent("m"), template: nil)
            let config = try repository.config()
            let loader = DatasetLoader(task: config.task)
            #expect(try loader.load(config.task.train, root: repository.root).count == 4)
            #expect(try loader.load(config.task.holdout, root: repository.root).count == 2)
            #expect(try repository.promptText(config.task.prompt, at: repository.mainTip()).contains("{{text}}"))
        }
    }

    @Test("initialize refuses a bad template, an existing prompt repository and colliding files, writing nothing")
    func initializeRefusals() throws {
        try withTemporaryDirectory { temp in
            let badTemplate = temp.appendingPathComponent("bad")
            try writeFile("[task]\nprompt = 3\n", "grad.toml", in: badTemplate)
            let target = temp.appendingPathComponent("target")
            #expect(throws: PromptRepoError.self) { try PromptRepository.initialize(at: target, template: badTemplate) }
            #expect(!FileManager.default.fileExists(atPath: target.path))

            let collide = temp.appendingPathComponent("collide")
            try writeFile("mine\n", "prompts/router.md", in: collide)
            #expect(throws: PromptRepoError.self) { try PromptRepository.initialize(at: collide, template: sampleRepo) }
            #expect(try readFile("prompts/router.md", in: collide) == "mine\n")
            #expect(!FileManager.default.fileExists(atPath: collide.appendingPathComponent(".git").path))
            #expect(!FileManager.default.fileExists(atPath: collide.appendingPathComponent("grad.toml").path))

            let existing = temp.appendingPathComponent("existing")
            _ = try PromptRepository.initialize(at: existing, template: nil)
            let tip = try git("rev-parse", "main", in: existing)
            #expect(throws: PromptRepoError.self) { try PromptRepository.initialize(at: existing, template: nil) }
            #expect(try git("rev-parse", "main", in: existing) == tip)

            let plain = temp.appendingPathComponent("plain")
            try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
            let error = #expect(throws: PromptRepoError.self) { try PromptRepository.open(plain) }
            #expect(error?.description.contains("not a git repository") == true)
        }
    }

    @Test("revert writes Revert \"subject\", the reverted sha in body and trailer, and updates the working tree")
    func revert() throws {
        try withSamplePromptRepository { repository, url in
            let original = try readFile("prompts/router.md", in: url)
            let edit = try commitPrompt("New prompt {{message}}\n", subject: "Rewrite prompt", in: url, repository: repository)
            let result = try repository.revert(edit)
            #expect(result.reverted == edit)
            #expect(result.workingTreeUpdated)
            #expect(try repository.mainTip() == result.commit)
            let message = try repository.stepMessage(result.commit)
            #expect(message.subject == "Revert \"Rewrite prompt\"")
            #expect(message.body == "This reverts commit \(edit.hex).")
            #expect(message.trailers == [Trailer(key: TrailerKey.reverts, value: edit.hex)])
            #expect(try repository.git.commit(result.commit).parents == [edit])
            #expect(try readFile("prompts/router.md", in: url) == original)
            #expect(try git("status", "--porcelain", in: url).isEmpty)

            let entries = try HistoryReader(repository).entries(from: repository.mainTip())
            #expect(entries.map(\.kind) == [.revert, .commit, .seed])

            // Reverting it again changes nothing and is refused.
            let again = #expect(throws: PromptRepoError.self) { try repository.revert(edit) }
            #expect(again?.description.contains("changes nothing") == true)
            #expect(try repository.mainTip() == result.commit)
        }
    }

    @Test("revert refuses uncommitted prompt edits and commits that are not on main")
    func revertRefusals() throws {
        try withSamplePromptRepository { repository, url in
            let edit = try commitPrompt("Edit {{message}}\n", subject: "Edit", in: url, repository: repository)
            try writeFile("unsaved\n", "prompts/router.md", in: url)
            let dirty = #expect(throws: PromptRepoError.self) { try repository.revert(edit) }
            #expect(dirty?.description.contains("prompts/router.md: uncommitted edits") == true)
            #expect(try repository.mainTip() == edit)
            #expect(try readFile("prompts/router.md", in: url) == "unsaved\n")
            try git("checkout", "--", "prompts/router.md", in: url)

            let side = try repository.git.createCommit(
                message: "side", tree: try repository.git.commit(edit).tree, parents: [edit], updateReference: "refs/heads/side")
            let offMain = #expect(throws: PromptRepoError.self) { try repository.revert(side) }
            #expect(offMain?.description.contains("not on main") == true)
            #expect(try repository.mainTip() == edit)
        }
    }

    @Test("revert while HEAD is on another branch moves main but leaves the working tree alone")
    func revertWithHeadElsewhere() throws {
        try withSamplePromptRepository { repository, url in
            let edit = try commitPrompt("Edit {{message}}\n", subject: "Edit", in: url, repository: repository)
            try git("checkout", "-q", "-b", "elsewhere", in: url)
            let result = try repository.revert(edit)
            #expect(!result.workingTreeUpdated)
            #expect(try repository.mainTip() == result.commit)
            #expect(try readFile("prompts/router.md", in: url) == "Edit {{message}}\n")
            #expect(try git("status", "--porcelain", in: url).isEmpty)
        }
    }

    @Test("compare lists the examples that flipped between two evaluated commits and the trailer scores")
    func compare() throws {
        try withSamplePromptRepository { repository, url in
            let config = try repository.config()
            let seed = try repository.mainTip()
            try writeFile("Better {{message}}\n", "prompts/router.md", in: url)
            try git("commit", "-q", "-am", "Better\n\nScore-Holdout: 0.75", in: url)
            let better = try repository.mainTip()
            let model = EvaluationNote.ModelInfo(provider: "local", name: "m", temperature: 0, maxTokens: 8)
            func note(_ correct: [Bool]) -> EvaluationNote {
                EvaluationNote(promptBlob: "x", model: model, metric: "choice", splits: [
                    .init(split: "holdout", score: Double(correct.filter { $0 }.count) / Double(correct.count), correct: correct.filter { $0 }.count,
                          total: correct.count, examples: correct.enumerated().map { index, ok in
                              .init(id: "h\(index)", output: ok ? "field" : "desk", expected: "field", correct: ok, score: ok ? 1 : 0)
                          }),
                ])
            }
            try repository.writeEvaluationNote(note([true, false, false]), on: seed)
            try repository.writeEvaluationNote(note([false, true, true]), on: better)
            #expect(try repository.evaluationNote(seed) == note([true, false, false]))
            #expect(try git("notes", "--ref=grad", "show", better.hex, in: url) == (try note([false, true, true]).encoded()))

            let comparison = try repository.compare(seed, better, config: config)
            #expect(comparison.oldText == (try readFile("prompts/router.md", in: sampleRepo)))
            #expect(comparison.newText == "Better {{message}}\n")
            #expect(comparison.patch.contains("+Better {{message}}"))
            #expect(comparison.trailerScoresA.isEmpty)
            #expect(comparison.trailerScoresB == [TrailerKey.scoreHoldout: "0.75"])
            let split = try #require(comparison.splits.first)
            #expect(split.regressions.map(\.id) == ["h0"])
            #expect(split.improvements.map(\.id) == ["h1", "h2"])
            let flip = try #require(split.regressions.first)
            #expect((flip.expected, flip.before, flip.after) == ("field", "field", "desk"))
            #expect(abs(split.scoreB - 2.0 / 3.0) < 1e-9)
        }
    }

    @Test("HistoryReader shows accepted merges, seed, and steps where no candidate passed, with their candidates")
    func history() throws {
        try withSamplePromptRepository { repository, url in
            let git = repository.git
            let seed = try repository.mainTip()
            let seedTree = try git.commit(seed).tree
            let run = try RunID("20240101-000000-abcd")
            func candidate(step: Int, variant: Int, verdict: String?, text: String) throws -> ObjectID {
                let branch = CandidateBranch(run: run, step: step, variant: variant)
                let tree = try git.updateTree(seedTree, applying: [.upsert(path: "prompts/router.md", blob: try git.createBlob(text))])
                let trailers = [Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: "\(step)"),
                                Trailer(key: TrailerKey.variant, value: "\(variant)/2")]
                let commit = try git.createCommit(
                    message: StepMessage(subject: "Candidate s\(step)v\(variant)", body: "Gradient for step \(step)", trailers: trailers).encode(),
                    tree: tree, parents: [seed], updateReference: branch.reference)
                guard let verdict else { return commit }
                return try git.createCommit(
                    message: StepMessage(subject: "Verdict", trailers: trailers + [
                        Trailer(key: TrailerKey.kind, value: "verdict"), Trailer(key: TrailerKey.verdict, value: verdict),
                        Trailer(key: TrailerKey.scoreHoldout, value: "0.7"),
                    ]).encode(),
                    tree: tree, parents: [commit], updateReference: branch.reference)
            }
            let accepted = try candidate(step: 1, variant: 1, verdict: "accepted", text: "v1\n")
            _ = try candidate(step: 1, variant: 2, verdict: "rejected: regressions", text: "v2\n")
            let merge = try git.createMergeCommit(
                ours: seed, theirs: accepted,
                message: StepMessage(subject: "Step 1", body: "Gradient for step 1", trailers: [
                    Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: "1"),
                    Trailer(key: TrailerKey.variant, value: "1/2"), Trailer(key: TrailerKey.verdict, value: "accepted"),
                ]).encode(),
                updateReference: GradRefs.main)
            _ = try candidate(step: 2, variant: 1, verdict: "rejected: no gain", text: "v3\n")
            _ = try candidate(step: 3, variant: 1, verdict: nil, text: "v4\n")

            let entries = try HistoryReader(repository).entries(from: merge)
            let byKind = Dictionary(grouping: entries, by: \.kind)
            let acceptedEntry = try #require(byKind[.accepted]?.first)
            #expect(acceptedEntry.commit == merge.hex)
            #expect(acceptedEntry.step == 1)
            #expect(acceptedEntry.variant == 1)
            #expect(acceptedEntry.gradient == "Gradient for step 1")
            #expect(acceptedEntry.candidates.map(\.variant) == [1, 2])
            #expect(acceptedEntry.candidates.map(\.verdict) == ["accepted", "rejected: regressions"])
            #expect(acceptedEntry.candidates.first?.isAccepted == true)
            #expect(acceptedEntry.candidates.first?.commit == (try git.commit(accepted).parents.first?.hex))
            #expect(acceptedEntry.candidates.first?.scoreHoldout == "0.7")
            #expect(byKind[.seed]?.map(\.commit) == [seed.hex])
            #expect(entries.last?.kind == .seed)
            let rejected = try #require(byKind[.noCandidatePassed])
            #expect(Set(rejected.compactMap(\.step)) == [2, 3])
            #expect(rejected.first { $0.step == 2 }?.subject == "no candidate passed verification")
            #expect(rejected.first { $0.step == 3 }?.subject == "verification pending")

            #expect(try HistoryReader(repository).entries(from: merge, run: "other").isEmpty)
            #expect(try HistoryReader(repository).entries(from: merge, limit: 1).count == 1)
            // The run started from the seed, so the seed's history shows its steps too.
            let fromSeed = try HistoryReader(repository).entries(from: seed)
            #expect(fromSeed.count == 4)
            #expect(fromSeed.contains { $0.subject == "accepted, merged outside this history" })
            #expect(try HistoryReader(repository).entries(from: seed, includeAllRuns: true).count == 4)
            _ = url
        }
    }

    /// `log -n N` reads only what it prints; it must print exactly the first N entries of the
    /// whole history, whether commits share a second (a fast run) or not.
    @Test("HistoryReader with a limit returns exactly the first entries of the whole history", arguments: [false, true])
    func limitedHistoryIsAPrefix(sameSecond: Bool) throws {
        try withSamplePromptRepository { repository, _ in
            let git = repository.git
            var clock = Date(timeIntervalSince1970: 1_700_000_000)
            func signature() -> Signature {
                if !sameSecond { clock += 7 }
                return Signature(name: "t", email: "t@example.com", time: clock)
            }
            func step(_ run: RunID, _ number: Int, from parent: ObjectID, accept: Bool) throws -> ObjectID {
                let trailers = [Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: "\(number)")]
                let tree = try git.updateTree(try git.commit(parent).tree, applying: [
                    .upsert(path: "prompts/router.md", blob: try git.createBlob("\(run) step \(number) {{message}}\n")),
                ])
                let branch = CandidateBranch(run: run, step: number, variant: 1)
                let candidate = try git.createCommit(
                    message: StepMessage(subject: "Candidate \(number)", body: "Gradient \(number)", trailers: trailers).encode(),
                    tree: tree, parents: [parent], author: signature(), updateReference: branch.reference)
                let verdict = try git.createCommit(
                    message: StepMessage(subject: "Verdict", trailers: trailers + [
                        Trailer(key: TrailerKey.kind, value: "verdict"), Trailer(key: TrailerKey.verdict, value: accept ? "accepted" : "rejected: no gain"),
                    ]).encode(),
                    tree: tree, parents: [candidate], author: signature(), updateReference: branch.reference)
                guard accept else { return parent }
                return try git.createMergeCommit(
                    ours: parent, theirs: verdict,
                    message: StepMessage(subject: "Step \(number)", trailers: trailers + [Trailer(key: TrailerKey.kind, value: "merge")]).encode(),
                    updateReference: GradRefs.main, signature: signature())
            }
            let first = try RunID("20240101-000000-aaaa"), second = try RunID("20240102-000000-bbbb")
            var tip = try repository.mainTip()
            for number in 1...6 { tip = try step(first, number, from: tip, accept: number % 3 != 0) }
            // A second run from here: one rejected step, one accepted, one rejected.
            for (number, accept) in [(1, false), (2, true), (3, false)] { tip = try step(second, number, from: tip, accept: accept) }
            tip = try step(first, 7, from: tip, accept: false)

            let reader = HistoryReader(repository)
            let whole = try reader.entries(from: tip)
            #expect(whole.filter { $0.kind == .noCandidatePassed }.count == 5)
            for limit in 1...(whole.count + 1) {
                let limited = try reader.entries(from: tip, limit: limit)
                #expect(limited == Array(whole.prefix(limit)), "limit \(limit): \(limited.map { "\($0.run?.suffix(4) ?? "-")/\($0.step ?? -1)/\($0.kind)/\($0.candidates.count)" }) vs \(whole.prefix(limit).map { "\($0.run?.suffix(4) ?? "-")/\($0.step ?? -1)/\($0.kind)/\($0.candidates.count)" })")
                let ofSecond = try reader.entries(from: tip, run: second.value)
                #expect(try reader.entries(from: tip, run: second.value, limit: limit) == Array(ofSecond.prefix(limit)), "run, limit \(limit)")
            }
        }
    }
}
