import Foundation
import PromptRepo

/// How a run starts or resumes: its settings, its manifest, and the run `--resume` continues.
extension OptimizerRun {
    /// The run's settings: a resumed run keeps its own, a new one takes grad.toml plus the flags
    /// and records them under `refs/grad/runs/<run>`.
    func startOrResume(_ request: OptimizeRequest) async throws -> RunManifest {
        let manifests = try await store.reading { try $0.manifests() }
        if request.resume {
            // A plain --resume continues runs on main; an experiment's runs are named or resumed by it.
            // Without a name, only this task's runs are candidates.
            let resumable = request.run == nil ? manifests.filter { $0.trunk == nil && $0.task == config.taskName } : manifests
            let found = try Self.runToResume(named: request.run, in: resumable)
            guard found.task == config.taskName else {
                throw PromptRepoError.conflict(
                    "run \(found.run) optimizes \(found.task.map { "task \($0)" } ?? "the file's one task"); resume it with --task \(found.task ?? "")")
            }
            guard found.trunkBranch == trunk else {
                throw PromptRepoError.conflict("run \(found.run) belongs to an experiment (it merges into \(found.trunkBranch)); continue it with `git grad experiment --resume`")
            }
            guard found.taskModel == config.model.name, found.optimizerModel == config.optimizerModel.name else {
                throw PromptRepoError.conflict(
                    "run \(found.run) used task model \(found.taskModel) and optimizer \(found.optimizerModel); resume it with the same models (--model, --optimizer-model)")
            }
            return found
        }
        var search = config.search
        request.settings.apply(to: &search)
        search.operators = search.operators ?? SearchSettings.defaultOperators(for: config.optimizerModel)
        let runID = try request.run.map { try RunID($0) } ?? RunID.make()
        guard !manifests.contains(where: { $0.run == runID.value }) else {
            throw PromptRepoError.conflict("run \(runID) already exists; use --resume to continue it")
        }
        return RunManifest(
            run: runID.value, search: search, taskModel: config.model.name, optimizerModel: config.optimizerModel.name,
            trunk: mergesIntoMain ? nil : trunk, task: config.taskName)
    }

    /// The optimizer settings a run with seed `run` sends: grad.toml's optimizer seed (0 when
    /// unset) offset by the run's times a prime, so the per-request offsets of one run (step × 1000
    /// + variant) never meet another seed's; kept below 2^31 for servers that take a 32-bit seed.
    static func seeded(_ settings: ModelSettings, run seed: Int) -> ModelSettings {
        var seeded = settings
        let mixed = UInt64(bitPattern: Int64((settings.seed ?? 0) &+ seed &* 1_000_003))
        seeded.seed = Int(mixed % 2_000_000_000)
        return seeded
    }

    func isRecorded(_ run: String) async throws -> Bool { try await store.reading { try $0.isRecorded(run) } }

    /// The command that continues `run`.
    public static func resumeCommand(run: String) -> String { "git grad optimize --resume --run \(run)" }

    /// The run `--resume` continues: the one named, else the only unfinished run. With several
    /// unfinished runs it asks for an id rather than guess.
    static func runToResume(named name: String?, in manifests: [RunManifest]) throws -> RunManifest {
        if let name {
            guard let found = manifests.first(where: { $0.run == name }) else {
                throw PromptRepoError.noSuchRun(name)
            }
            if found.ended != nil {
                throw PromptRepoError.conflict("run \(name) has ended (\(found.outcome ?? "finished")); start a new run with `git grad optimize`")
            }
            return found
        }
        let unfinished = manifests.filter { $0.ended == nil }
        guard let newest = unfinished.last else {
            throw PromptRepoError.conflict("no unfinished run to resume; start one with `git grad optimize`")
        }
        guard unfinished.count == 1 else {
            let names = unfinished.reversed().map(\.run).joined(separator: ", ")
            throw PromptRepoError.conflict(
                "\(unfinished.count) unfinished runs (\(names)); name one: `\(resumeCommand(run: newest.run))`")
        }
        return newest
    }
}
