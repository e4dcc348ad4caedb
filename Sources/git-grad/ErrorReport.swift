import Evaluation
import Foundation
import LLM
import Optimizer
import PromptRepo

/// The one place the command line turns a library's error into its one line and exit code: each
/// library has one error type, and each is worded here (a model error gets where it is fixed on
/// this command line, which the library does not know).
enum ErrorReport {
    /// The line and exit code for `error`; nil for errors the argument parser words itself.
    static func line(for error: Error) -> (message: String, code: Int32)? {
        switch error {
        case let error as GitError: return (error.description, 1)
        case let error as PromptRepoError: return (error.description, 1)
        case let error as LLMError: return (describe(error), 1)
        case let error as EvaluationError: return (error.description, 1)
        case let error as OptimizerError: return (error.description(describingCause: describe), 1)
        case let error as CommandFailure: return (error.message, error.exitCode)
        default: return nil
        }
    }

    /// A model error with where it is fixed on this command line (the library names no flag),
    /// whether it ends `eval` directly or a run of `optimize` or `experiment`.
    static func describe(_ error: LLMError) -> String { error.description + commandLineHint(error) }

    static func commandLineHint(_ error: LLMError) -> String {
        switch error {
        case .modelNotFound: return " ([model] name in grad.toml, or --model)"
        case .connectionRefused: return " ([model] base_url in grad.toml, or --base-url)"
        case .cacheUnavailable: return " (--no-cache)"
        default: return ""
        }
    }
}
