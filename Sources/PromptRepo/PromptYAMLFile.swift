import Foundation
import Yams

/// The messages of a GitHub Models `.prompt.yml` file and where each lies in the file's bytes,
/// so an edit can rewrite one message's `content` scalar and leave every other byte (comments,
/// key order, quoting, testData, evaluators) as it was.
///
/// Read with Yams (libyaml): a message's node gives where its `content` scalar starts; where it
/// ends follows from the scalar's style (a quoted scalar ends at its closing quote, a plain or
/// block one before the first later line indented no deeper than its key).
struct PromptYAMLMessages: Sendable, Equatable {
    /// One message as written in the file.
    struct Item: Sendable, Equatable {
        var role: PromptFile.Role
        /// The content as YAML reads it.
        var value: String
        /// UTF-8 offsets: the item's lines (from its dash line to the next item), and its content scalar.
        var start: Int
        var end: Int
        var contentStart: Int
        var contentEnd: Int
        /// The column of the `content:` key, which a rewritten block scalar is indented past.
        var keyColumn: Int
        var isPlain: Bool
    }

    let bytes: [UInt8]
    var items: [Item]
    /// Where a new item is written when the file has none, and the indentation items use.
    var dashColumn: Int
    var keyColumn: Int
    /// False for a flow-style list (`messages: [...]`), whose items cannot be rewritten line by line.
    var isBlockList: Bool

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Reads `messages` from a composed document; `path` names the file in errors.
    init(root: Node.Mapping, bytes: [UInt8], path: String) throws {
        self.bytes = bytes
        let lines = LineOffsets(bytes)
        guard let messagesNode = root["messages"] else {
            throw PromptRepoError.prompt("\(path): no `messages` list; add messages with a role and content")
        }
        guard let sequence = messagesNode.sequence else {
            throw PromptRepoError.prompt("\(path):\(messagesNode.mark?.line ?? 1): `messages` must be a list of {role, content}")
        }
        isBlockList = sequence.style != .flow
        items = []
        dashColumn = 0
        keyColumn = 2
        for (index, node) in sequence.enumerated() {
            if node.mapping?.style == .flow { isBlockList = false }
            let item = try Self.item(node, index: index, bytes: bytes, lines: lines, path: path)
            if index == 0 {
                dashColumn = Self.indentation(bytes, from: item.start)
                keyColumn = item.keyColumn
            }
            items.append(item)
        }
        for index in items.indices {
            items[index].end = index + 1 < items.count
                ? items[index + 1].start
                : Self.blockEnd(bytes, lines: lines, after: items[index].contentEnd, column: dashColumn)
        }
    }

    /// One message of the list, with where its lines and its content lie.
    static func item(_ node: Node, index: Int, bytes: [UInt8], lines: LineOffsets, path: String) throws -> Item {
        let line = node.mark?.line ?? 1
        guard let mapping = node.mapping else {
            throw PromptRepoError.prompt("\(path):\(line): messages[\(index)] must be a mapping with role and content")
        }
        guard let roleText = mapping["role"]?.string else {
            throw PromptRepoError.prompt("\(path):\(line): messages[\(index)] has no `role`; use system, user or assistant")
        }
        guard let role = PromptFile.Role(rawValue: roleText.lowercased()) else {
            throw PromptRepoError.prompt(
                "\(path):\(mapping["role"]?.mark?.line ?? line): messages[\(index)]: unknown role '\(roleText.escapingControlCharacters)'; use system, user or assistant")
        }
        guard let contentPair = mapping.first(where: { $0.key.string == "content" }), let value = contentPair.value.string,
              let keyMark = contentPair.key.mark, let valueMark = contentPair.value.mark
        else {
            throw PromptRepoError.prompt("\(path):\(line): messages[\(index)] has no text `content`")
        }
        let style = contentPair.value.scalar?.style ?? .plain
        let keyColumn = keyMark.column - 1
        let contentStart = lines.offset(line: valueMark.line, column: valueMark.column, in: bytes)
        let contentEnd = scalarEnd(bytes, lines: lines, start: contentStart, line: valueMark.line, keyColumn: keyColumn, style: style)
        let itemMark = node.mark.map { lines.offset(line: $0.line, column: $0.column, in: bytes) } ?? contentStart
        return Item(
            role: role, value: value, start: dashLineStart(bytes, lines: lines, before: itemMark), end: 0, contentStart: contentStart,
            contentEnd: contentEnd, keyColumn: keyColumn, isPlain: style == .plain)
    }

    /// The file with `blocks` as its messages: a block read from item `i` keeps that item's bytes
    /// (its content rewritten when it changed); a new block is written as a new item.
    func render(_ blocks: [PromptFile.Block]) -> String {
        guard let first = items.first, let last = items.last else { return text }
        var out = Array(bytes[..<first.start])
        for block in blocks {
            if let source = block.source, source < items.count {
                let item = items[source]
                if block.content == PromptFile.trimBlankLines(item.value) {
                    out += bytes[item.start..<item.end]
                } else {
                    let value = block.content + (item.value.hasSuffix("\n") ? "\n" : "")
                    out += bytes[item.start..<item.contentStart]
                    out += Array(Self.scalar(value, keyColumn: item.keyColumn, plainAllowed: item.isPlain).utf8)
                    out += bytes[item.contentEnd..<item.end]
                }
            } else {
                let dash = String(repeating: " ", count: dashColumn)
                let key = String(repeating: " ", count: keyColumn)
                let value = block.content.contains("\n") ? block.content + "\n" : block.content
                out += Array("\(dash)- role: \(block.role.rawValue)\n\(key)content: \(Self.scalar(value, keyColumn: keyColumn, plainAllowed: true))\n".utf8)
            }
        }
        out += bytes[last.end...]
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Writing scalars

    /// `value` as a YAML scalar after a key at `keyColumn`: a literal block for several lines, a
    /// double-quoted string for one (plain when the original was plain and the text stays plain).
    static func scalar(_ value: String, keyColumn: Int, plainAllowed: Bool) -> String {
        let body = value.hasSuffix("\n") ? String(value.dropLast()) : value
        if !body.contains("\n") && !value.hasSuffix("\n") {
            return plainAllowed && isPlainSafe(body) ? body : doubleQuoted(body)
        }
        let indent = String(repeating: " ", count: keyColumn + 2)
        let chomp = value.hasSuffix("\n") ? (body.hasSuffix("\n") ? "+" : "") : "-"
        let indicator = body.first == " " ? "2" : ""
        let lines = body.components(separatedBy: "\n").map { $0.isEmpty ? "" : indent + $0 }
        // The scalar ends at the end of its last line; the byte after it (a newline) is the file's.
        return "|\(indicator)\(chomp)\n" + lines.joined(separator: "\n")
    }

    static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += String(format: "\\x%02X", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// Text that reads back as the same plain scalar: no indicator first, no `: ` or ` #`, no edge spaces.
    static func isPlainSafe(_ text: String) -> Bool {
        guard let first = text.first, !text.hasSuffix(" "), first != " " else { return false }
        if "-?:,[]{}#&*!|>'\"%@`".contains(first) { return false }
        if text.contains(": ") || text.contains(" #") || text.hasSuffix(":") { return false }
        let lowered = text.lowercased()
        return !["true", "false", "null", "~", "yes", "no", "on", "off"].contains(lowered) && Double(text) == nil
    }

    // MARK: - Finding extents

    /// Where a scalar that starts at `start` ends (exclusive), by its style.
    static func scalarEnd(_ bytes: [UInt8], lines: LineOffsets, start: Int, line: Int, keyColumn: Int, style: Node.Scalar.Style) -> Int {
        switch style {
        case .doubleQuoted:
            var index = start + 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\\") { index += 2; continue }
                if bytes[index] == UInt8(ascii: "\"") { return index + 1 }
                index += 1
            }
            return bytes.count
        case .singleQuoted:
            var index = start + 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "'") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "'") { index += 2; continue }
                    return index + 1
                }
                index += 1
            }
            return bytes.count
        default:
            // The first line ends the scalar's own text (a plain one before a ` #` comment); later
            // lines belong to it while they are blank or indented past the key.
            var end = lineContentEnd(bytes, from: start, plain: style == .plain)
            var lineStart = lines.nextLineStart(after: start, in: bytes)
            while lineStart < bytes.count {
                let indent = indentation(bytes, from: lineStart)
                let contentEnd = lineContentEnd(bytes, from: lineStart, plain: false)
                let blank = lineStart + indent >= contentEnd
                if !blank {
                    if indent <= keyColumn { break }
                    if style == .plain, bytes[lineStart + indent] == UInt8(ascii: "#") { break }
                    end = style == .plain ? lineContentEnd(bytes, from: lineStart, plain: true) : contentEnd
                }
                lineStart = lines.nextLineStart(after: lineStart, in: bytes)
            }
            return end
        }
    }

    /// The end of the line's text at `from` (before its newline; a plain scalar also stops before ` #`),
    /// without trailing spaces.
    static func lineContentEnd(_ bytes: [UInt8], from: Int, plain: Bool) -> Int {
        var index = from
        while index < bytes.count, bytes[index] != UInt8(ascii: "\n") {
            if plain, bytes[index] == UInt8(ascii: "#"), index > from, bytes[index - 1] == UInt8(ascii: " ") || bytes[index - 1] == UInt8(ascii: "\t") { break }
            index += 1
        }
        while index > from, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(bytes[index - 1]) { index -= 1 }
        return index
    }

    /// The start of the line holding an item's dash, found from the item's first key.
    static func dashLineStart(_ bytes: [UInt8], lines: LineOffsets, before offset: Int) -> Int {
        var lineStart = lines.lineStart(containing: offset, in: bytes)
        let prefix = bytes[lineStart..<offset]
        if !prefix.contains(UInt8(ascii: "-")), lineStart > 0 {
            // `-` alone on the line above.
            lineStart = lines.lineStart(containing: lineStart - 1, in: bytes)
        }
        return lineStart
    }

    /// After the last item: the first later line with text indented no deeper than the dashes
    /// (the next top-level key); blank and comment lines before it stay with that key.
    static func blockEnd(_ bytes: [UInt8], lines: LineOffsets, after offset: Int, column: Int) -> Int {
        var lineStart = lines.nextLineStart(after: offset, in: bytes)
        var lastContentEnd = lineStart
        while lineStart < bytes.count {
            let indent = indentation(bytes, from: lineStart)
            let end = lineContentEnd(bytes, from: lineStart, plain: false)
            let next = lines.nextLineStart(after: lineStart, in: bytes)
            if lineStart + indent < end {
                if indent <= column && bytes[lineStart + indent] != UInt8(ascii: "-") { break }
                if bytes[lineStart + indent] != UInt8(ascii: "#") { lastContentEnd = next }
            }
            lineStart = next
        }
        return min(lastContentEnd, bytes.count)
    }

    static func indentation(_ bytes: [UInt8], from lineStart: Int) -> Int {
        var index = lineStart
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        return index - lineStart
    }
}

/// UTF-8 offsets of a text's lines, to turn libyaml's line and column marks into byte offsets.
struct LineOffsets {
    var starts: [Int]

    init(_ bytes: [UInt8]) {
        starts = [0]
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") { starts.append(index + 1) }
    }

    /// The offset of `column` (1-based, in Unicode scalars) on `line` (1-based).
    func offset(line: Int, column: Int, in bytes: [UInt8]) -> Int {
        guard line >= 1, line <= starts.count else { return bytes.count }
        var index = starts[line - 1]
        var remaining = column - 1
        while remaining > 0, index < bytes.count {
            index += 1
            while index < bytes.count, bytes[index] & 0xC0 == 0x80 { index += 1 }
            remaining -= 1
        }
        return index
    }

    func lineStart(containing offset: Int, in bytes: [UInt8]) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return starts[low]
    }

    func nextLineStart(after offset: Int, in bytes: [UInt8]) -> Int {
        var index = offset
        while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
        return min(index + 1, bytes.count)
    }
}
