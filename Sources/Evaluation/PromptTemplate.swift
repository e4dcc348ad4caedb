import Foundation
import LLM
import PromptRepo

/// A prompt template with `{{field}}` placeholders filled from a dataset row.
public struct PromptTemplate: Sendable, Equatable {
    public let text: String
    /// Where the template came from, for errors.
    public let path: String

    public init(text: String, path: String) {
        self.text = text
        self.path = path
    }

    static let placeholder = try! NSRegularExpression(pattern: #"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}"#)

    /// The field names the template uses.
    public var placeholders: [String] { PromptFile.placeholderNames(in: text) }

    /// Fills every placeholder; a placeholder the row lacks, or that is not one of `allowedFields`
    /// (the task's input fields: never the target, so a prompt cannot read the answer), is an
    /// error naming the file and field.
    public func render(_ example: Example, allowedFields: [String]? = nil) throws -> String {
        let range = NSRange(text.startIndex..., in: text)
        var result = ""
        var cursor = text.startIndex
        for match in Self.placeholder.matches(in: text, range: range) {
            guard let whole = Range(match.range, in: text), let name = Range(match.range(at: 1), in: text) else { continue }
            let field = String(text[name])
            if let allowedFields, !allowedFields.contains(field) {
                throw EvaluationError.template(
                    "\(path): placeholder {{\(field)}} is not an input field; grad.toml [task] input allows: \(allowedFields.joined(separator: ", "))")
            }
            guard let value = example.fields[field] else {
                throw EvaluationError.template(
                    "\(path): placeholder {{\(field)}} has no field '\(field)' in \(example.source); use one of: \(example.fields.keys.sorted().joined(separator: ", "))")
            }
            result += text[cursor..<whole.lowerBound]
            result += value
            cursor = whole.upperBound
        }
        result += text[cursor...]
        return result
    }
}

extension PromptTemplate {
    /// `{{name}}` slots replaced by `values[name]`; a name without a value stays as written.
    /// Values are inserted once, never re-scanned, so a value holding `{{message}}` passes through
    /// intact (meta-prompts, `.prompt.yml` evaluators).
    public static func substitute(_ template: String, _ values: [String: String]) -> String {
        var result = ""
        var rest = template[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            result += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            result += values[name] ?? String(rest[open.lowerBound..<close.upperBound])
            rest = rest[close.upperBound...]
        }
        return result + rest
    }
}
