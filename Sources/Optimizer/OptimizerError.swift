import Foundation
import LLM

/// The optimizer's control flow for a test hook standing in for a crash; never leaves the library.
enum OptimizerStop: Error { case requested }

/// Why a run or an experiment stopped with an error, with what to do next: the Optimizer's one
/// error type (bad input and git failures arrive as `PromptRepoError` and `GitError`).
public enum OptimizerError: Error, Sendable, CustomStringConvertible {
    /// A model call failed; `recorded` says whether the run has anything to resume.
    case modelFailed(run: String, recorded: Bool, cause: LLMError)
    /// The run can never go on (main moved under it); it is marked stopped.
    case cannotContinue(String)
    /// An experiment's shared call budget ran out in `run`; `done` of `of` runs finished.
    case experimentBudgetSpent(experiment: String, run: String, done: Int, of: Int)
    /// A model call failed for good in one run of an experiment; what was recorded stays.
    case experimentModelFailed(experiment: String, run: String, cause: LLMError)

    public var description: String { description(describingCause: \.description) }

    /// The message with the model's error worded by `describe` (the command line adds where it is fixed).
    public func description(describingCause describe: (LLMError) -> String) -> String {
        switch self {
        case .modelFailed(let run, let recorded, let cause):
            return describe(cause) + (recorded
                ? "; the steps recorded so far are kept: continue with `\(OptimizerRun.resumeCommand(run: run))`"
                : "; nothing was recorded")
        case .cannotContinue(let message):
            return message
        case .experimentBudgetSpent(let experiment, let run, let done, let of):
            return "the call budget (--budget) ran out in run \(run); \(done) of \(of) runs finished; continue with `git grad experiment --resume \(experiment)` and a larger --budget"
        case .experimentModelFailed(let experiment, let run, let cause):
            return "\(describe(cause)) (run \(run)); the runs recorded so far are kept: continue with `git grad experiment --resume \(experiment)`"
        }
    }
}
