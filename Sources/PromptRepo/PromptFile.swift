import Foundation

/// A prompt file: either a single template (today's format: the whole file is the user message)
/// or a chat-structured file in Microsoft Prompty's role-marked style:
///
///     ---                      (optional front matter, kept byte for byte)
///     name: router
///     ---
///     system:
///     Route the message to one queue.
///
///     ## Rules
///     - If the message mentions sparks or smoke, answer safety.
///
///     user:
///     Message: I want to cancel.
///     assistant:
///     retention
///
///     user:
///     Message: {{message}}
///
/// A line that is only `system:`, `user:` or `assistant:` starts a message. The first message may
/// be a system message, then user/assistant pairs (worked examples), and the last user message is
/// the template filled from each row. A file is chat-structured only when its first non-blank
/// line (after front matter) is such a marker, so every single-template file reads as before.
///
/// Parsing keeps every byte: `render()` gives back the file exactly. Edits (rules, demos) rewrite
/// only the messages they change, each rule on its own line and each demo its own block, so
/// `git diff` and `git blame` point at one rule.
public struct PromptFile: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable, CaseIterable { case system, user, assistant }

    /// One message: its marker line (with newline) and its raw body lines (with newlines).
    public struct Block: Sendable, Equatable {
        public var role: Role
        var marker: String
        var body: String
        /// For a `.prompt.yml` file: the message of the file this block was read from, whose
        /// bytes it keeps; nil for a message an edit added.
        var source: Int?

        init(role: Role, marker: String, body: String, source: Int? = nil) {
            self.role = role
            self.marker = marker
            self.body = body
            self.source = source
        }

        /// A block in the canonical layout: marker, content, one blank line after.
        init(role: Role, content: String, last: Bool = false) {
            self.init(role: role, marker: "\(role.rawValue):\n", body: content + (last ? "\n" : "\n\n"))
        }

        /// The message text: the body without leading and trailing blank lines.
        public var content: String { PromptFile.trimBlankLines(body) }
    }

    /// A worked example: a user turn and the assistant's answer.
    public struct Demo: Sendable, Equatable {
        public var user: String
        public var assistant: String
        public init(user: String, assistant: String) {
            self.user = user
            self.assistant = assistant
        }
    }

    public internal(set) var frontMatter: String
    public internal(set) var blocks: [Block]
    /// How the file is laid out: one template, role-marked messages, or `.prompt.yml` messages.
    public internal(set) var format: PromptFormat
    /// A `.prompt.yml` file's messages and where they lie in its bytes.
    var yaml: PromptYAMLMessages?

    /// The heading under which the `rules` operator keeps its one-line rules.
    public static let rulesHeading = "## Rules"

    init(frontMatter: String, blocks: [Block], format: PromptFormat, yaml: PromptYAMLMessages? = nil) {
        self.frontMatter = frontMatter
        self.blocks = blocks
        self.format = format
        self.yaml = yaml
    }

    /// Reads a prompt file in the format its path names (see `PromptFormat`): a `.prompt.yml`
    /// file's messages, or role-marked text. Throws, naming the file and line, when a
    /// `.prompt.yml` file is not valid YAML or has a message git-grad cannot read.
    public static func read(_ text: String, path: String) throws -> PromptFile {
        switch PromptFormat.of(path: path) {
        case .promptYAML: return try readYAML(text, path: path)
        case .chat where path.lowercased().hasSuffix(".prompty"): return parse(text, frontMatterAlways: true)
        default: return parse(text)
        }
    }

    /// Role-marked text (git-grad's own format and Prompty's body): chat when its first line
    /// after any front matter is a role marker, else one template.
    public static func parse(_ text: String) -> PromptFile { parse(text, frontMatterAlways: false) }

    static func parse(_ text: String, frontMatterAlways: Bool) -> PromptFile {
        let lines = splitLines(text)
        var index = 0
        var frontMatter = ""
        if index < lines.count, lines[index].trimmingCharacters(in: .whitespacesAndNewlines) == "---" {
            if let close = lines[(index + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "---" }) {
                frontMatter = lines[...close].joined()
                index = close + 1
            }
        }
        let leading = lines[index...].prefix { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        let firstContent = index + leading.count
        guard firstContent < lines.count, role(ofMarker: lines[firstContent]) != nil else {
            // A Prompty file keeps its front matter apart even when its body is one template.
            if frontMatterAlways, !frontMatter.isEmpty {
                return PromptFile(frontMatter: frontMatter, blocks: [Block(role: .user, marker: "", body: lines[index...].joined())], format: .template)
            }
            return PromptFile(frontMatter: "", blocks: [Block(role: .user, marker: "", body: text)], format: .template)
        }
        // Blank lines before the first marker belong to the front matter so nothing is lost.
        frontMatter += leading.joined()
        var blocks: [Block] = []
        for line in lines[firstContent...] {
            if let role = role(ofMarker: line) {
                blocks.append(Block(role: role, marker: line, body: ""))
            } else {
                blocks[blocks.count - 1].body += line
            }
        }
        return PromptFile(frontMatter: frontMatter, blocks: blocks, format: .chat)
    }

    static func readYAML(_ text: String, path: String) throws -> PromptFile {
        let root = try PromptYAMLDocument.root(text, path: path)
        let messages = try PromptYAMLMessages(root: root, bytes: Array(text.utf8), path: path)
        let blocks = messages.items.enumerated().map { index, item in Block(role: item.role, marker: "", body: item.value, source: index) }
        return PromptFile(frontMatter: "", blocks: blocks, format: .promptYAML, yaml: messages)
    }

    /// The text the model is sent from this file: every message (a `.prompt.yml` file's other
    /// keys are not the prompt), or the whole file.
    public var promptText: String {
        format == .promptYAML ? blocks.map(\.content).joined(separator: "\n\n") : render()
    }

    /// The file's bytes: exactly what was parsed, with edits applied.
    public func render() -> String {
        if format == .promptYAML, let yaml { return yaml.render(blocks) }
        return frontMatter + blocks.map { $0.marker + $0.body }.joined()
    }

    // MARK: - Parts

    /// The system message written in the file, if any.
    public var system: String? {
        format.hasMessages ? blocks.first.flatMap { $0.role == .system ? $0.content : nil } : nil
    }

    /// The template filled from each row: the last user message (the whole file when single).
    public var template: String {
        guard format.hasMessages else { return blocks.first?.body ?? "" }
        return blocks.last(where: { $0.role == .user })?.content ?? ""
    }

    /// The worked examples between the system message and the template.
    public var demos: [Demo] {
        guard format.hasMessages else { return [] }
        var result: [Demo] = []
        var pendingUser: String?
        for block in demoBlocks {
            switch block.role {
            case .user: pendingUser = block.content
            case .assistant:
                result.append(Demo(user: pendingUser ?? "", assistant: block.content))
                pendingUser = nil
            case .system: break
            }
        }
        return result
    }

    /// The rules under the rules heading of the system message, one per line.
    public var rules: [String] {
        guard let system else { return [] }
        let lines = system.components(separatedBy: "\n")
        guard let range = Self.rulesRange(lines) else { return [] }
        return lines[range].compactMap(Self.ruleText)
    }

    /// Problems a reader of the file should fix: a chat file needs a final user message, and
    /// messages must come in the order system?, (user, assistant)*, user.
    public func structureProblems() -> [String] {
        guard format.hasMessages else { return [] }
        var problems: [String] = []
        let roles = blocks.map(\.role)
        if roles.last != .user { problems.append("the last message must be the `user:` template") }
        if roles.dropFirst().contains(.system) { problems.append("`system:` may only be the first message") }
        let middle = Array(roles.drop { $0 == .system }.dropLast())
        for (offset, role) in middle.enumerated() where role != (offset.isMultiple(of: 2) ? .user : .assistant) {
            problems.append("worked examples must alternate `user:` then `assistant:` (message \(offset + 1) is `\(role.rawValue):`)")
            break
        }
        return problems
    }

    /// Throws the first of `problems`: what `check`, `eval` and `optimize` refuse to use.
    public static func requireUsable(_ text: String, path: String, inputFields: [String]) throws {
        if let problem = try read(text, path: path).problems(path: path, inputFields: inputFields).first { throw PromptRepoError.prompt(problem) }
    }

    /// Why this file cannot be used as a prompt, each naming the file (and line where there is
    /// one): a broken chat structure, braces that open a placeholder and never close (`{{message`),
    /// or a template with no placeholder of an input field, so the model would never see the row.
    public func problems(path: String, inputFields: [String]) -> [String] {
        var problems = structureProblems().map { "\(path): \($0)" }
        // A `.prompt.yml` file's other keys (testData, evaluators) are not the prompt: only its messages are read.
        for (number, line) in promptText.components(separatedBy: "\n").enumerated() {
            var rest = line[...]
            while let open = rest.range(of: "{{") {
                guard let close = rest[open.upperBound...].range(of: "}}") else {
                    let place = format == .promptYAML ? "\(path): a message" : "\(path):\(number + 1)"
                    problems.append("\(place): `{{` is never closed; write {{field}}")
                    break
                }
                rest = rest[close.upperBound...]
            }
        }
        let used = Self.placeholderNames(in: template)
        if !used.contains(where: inputFields.contains) {
            problems.append(
                "\(path): the template has no placeholder for an input field, so the model never sees the row; add one of: "
                    + inputFields.map { "{{\($0)}}" }.joined(separator: ", "))
        }
        return problems
    }

    public static func placeholderNames(in text: String) -> [String] {
        text.matches(of: /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/).map { String($0.1) }
    }
}
