import Foundation
import PromptRepo

/// Colours on a terminal, plain text when piped or when NO_COLOR is set.
///
/// Everything git-grad prints passes through `print` below, which escapes control characters, so
/// text from a model or a dataset can never drive the terminal. Our own colours survive that
/// because `paint` does not write escape sequences: it writes style tokens that carry a secret
/// drawn per process, which `print` turns into escape sequences *after* escaping. Text that did
/// not come from `paint` cannot forge a token.
struct Terminal: Sendable {
    let colored: Bool

    static let standardOutput = Terminal(
        colored: isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb")
    static let standardError = Terminal(
        colored: isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)

    enum Color: String, CaseIterable { case red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36", bold = "1", dim = "2" }

    func paint(_ text: String, _ color: Color) -> String {
        colored ? StyleToken.start(color) + text + StyleToken.reset : text
    }

    /// Colours a unified patch line by line like `git diff`.
    func patch(_ text: String) -> String {
        guard colored else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("+++") || line.hasPrefix("---") || line.hasPrefix("diff ") || line.hasPrefix("index ") {
                return paint(String(line), .bold)
            }
            if line.hasPrefix("+") { return paint(String(line), .green) }
            if line.hasPrefix("-") { return paint(String(line), .red) }
            if line.hasPrefix("@@") { return paint(String(line), .cyan) }
            return String(line)
        }.joined(separator: "\n")
    }
}

/// The unforgeable stand-ins for escape sequences that `paint` writes.
enum StyleToken {
    /// Private-use delimiters around a random secret: printable, and never produced by escaping.
    static let secret: String = {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<16).map { _ in letters.randomElement()! })
    }()

    static func token(_ code: String) -> String { "\u{E000}\(secret)\(code)\u{E001}" }
    static func start(_ color: Terminal.Color) -> String { token(color.rawValue) }
    static let reset = token("0")

    /// Replaces tokens by the escape sequences they stand for.
    /// Literal (code-unit) matching: a combining mark after a token must not hide it.
    static func render(_ text: String) -> String {
        // U+E000 starts every token; UTF-8 writes it 0xEE 0x80 0x80 (a cheap first test: `log` renders thousands).
        guard text.utf8.contains(0xEE), text.range(of: "\u{E000}\(secret)", options: .literal) != nil else { return text }
        var result = text
        for code in Terminal.Color.allCases.map(\.rawValue) + ["0"] {
            result = result.replacingOccurrences(of: token(code), with: "\u{1B}[\(code)m", options: .literal)
        }
        return result
    }
}

/// Text as it may reach a terminal: control characters escaped, then our own colours applied.
func terminalText(_ text: String) -> String {
    StyleToken.render(text.escapingControlCharacters)
}

/// git-grad's `print`: the only way text reaches standard output, so nothing printed can carry a
/// raw control character from a model or a dataset. These overloads shadow the standard
/// library's `print` in this module (they have no default arguments, which would lose to it).
func print(_ text: String) { Swift.print(terminalText(text)) }
func print(_ text: String, terminator: String) { Swift.print(terminalText(text), terminator: terminator) }

/// Writes one `git-grad: ` line to stderr, made safe like `print`.
@Sendable func logToStandardError(_ line: String) {
    writeStandardError("git-grad: \(terminalText(line))\n")
}

/// Writes to stderr through C's stdio, which reports a failed write (a full disk, a closed pipe)
/// by a return value; `FileHandle.write` would crash the process instead.
func writeStandardError(_ text: String) {
    fputs(text, stderr)
}

/// JSON for machines: exact values, with DEL and C1 controls written as `\u` escapes.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self).jsonEscapingTerminalControls)
}

func indent(_ text: String, by prefix: String = "    ") -> String {
    text.newlineSeparatedLines.map { $0.isEmpty ? "" : prefix + $0 }.joined(separator: "\n")
}
