import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct RevertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Undo a step on main with a revert commit (Reverts: <sha>); --regression finds the step with bisect first.")

    @Argument(help: "The commit on main to revert (a merge is reverted against its first parent).")
    var revision: String?

    @Flag(help: "Revert the step that `git grad bisect` finds (adds Restores-Score: <split> <score>).")
    var regression = false

    @OptionGroup var bisect: BisectOptions
    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        guard (revision == nil) == regression else {
            throw ValidationError(regression ? "give either a revision or --regression, not both" : "give the revision to revert, or --regression")
        }
    }

    func run() async throws {
        let repository = try options.open()
        // A grad.toml that does not read is reported before anything is written.
        for task in try repository.tasks().entries { _ = try repository.config(task: task.name ?? task.prompt) }
        var target: ObjectID
        var trailers: [Trailer] = []
        if let revision {
            target = try options.resolve(revision, in: repository)
        } else {
            let (_, result, _) = try await bisect.search(repository, options: options, models: models, quiet: false)
            guard let result else {
                throw CommandFailure(message: "no regression on \(bisect.split.rawValue) to revert (`git grad bisect` shows the scores)")
            }
            target = result.firstBad
            trailers = [Trailer(key: TrailerKey.restoresScore, value: String(format: "%@ %.4f", bisect.split.rawValue, result.lastGoodScore))]
            print(String(format: "first bad version %@ (%@ %.3f -> %.3f)", target.short, bisect.split.rawValue, result.lastGoodScore, result.firstBadScore))
        }
        let result = try repository.revert(target, trailers: trailers)
        print("Reverted \(target.short) on main: \(result.commit.short)")
        if !result.workingTreeUpdated {
            print("The working tree was not updated (HEAD is not main, or files there have edits); run `git checkout main` to see it.")
        }
    }
}
