import Foundation

/// Why a prompt cannot be rendered or an output cannot be scored: the Evaluation library's one error type.
public enum EvaluationError: Error, Sendable, CustomStringConvertible {
    case template(String)
    case scorer(String)

    public var description: String {
        switch self {
        case .template(let message), .scorer(let message): return message
        }
    }
}
