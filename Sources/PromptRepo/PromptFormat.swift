import Foundation
import Yams

/// How a prompt file is laid out, chosen by its path. Parsing, rendering and every edit (rules,
/// worked examples, rewriting the template, the merge operator's layout) go through
/// `PromptFile`, which switches on this type; adding a format is a case here, its reading in
/// `PromptFile.read` and its rendering in `PromptFile.render`.
public enum PromptFormat: String, Sendable, Equatable, CaseIterable {
    /// The whole file is the user message (git-grad's plain format).
    case template
    /// Role-marked messages (`system:`, `user:`, `assistant:` lines), git-grad's chat format and
    /// the body of a Prompty file, after optional YAML front matter kept byte for byte.
    case chat
    /// A GitHub Models `.prompt.yml` file: `messages` in YAML, edited in place.
    case promptYAML

    /// The format a path asks for: `.prompt.yml`/`.prompt.yaml` files are YAML; other files are
    /// role-marked text, chat or template by their content (`.chat` stands for both here).
    public static func of(path: String) -> PromptFormat {
        let lowered = path.lowercased()
        return lowered.hasSuffix(".prompt.yml") || lowered.hasSuffix(".prompt.yaml") ? .promptYAML : .chat
    }

    /// Whether the file holds messages (a system message, worked examples, the template).
    public var hasMessages: Bool { self != .template }
}

/// Reading YAML prompt files with Yams, with errors that name the file, line and column.
enum PromptYAMLDocument {
    /// The top-level mapping of a YAML document.
    static func root(_ text: String, path: String) throws -> Node.Mapping {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PromptRepoError.prompt("\(path):\(describe(error)); fix the YAML syntax")
        }
        guard let mapping = node?.mapping else {
            throw PromptRepoError.prompt("\(path): not a YAML mapping; a prompt file has keys such as name, model and messages")
        }
        return mapping
    }

    /// `line:column: problem` from libyaml's error.
    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(mark.line):\(mark.column): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return " duplicate key \(duplicates.joined(separator: ", "))"
        default:
            return " \(String(describing: error).escapingControlCharacters)"
        }
    }
}
