import Foundation
import GitKit

/// The trailer keys git-grad writes, in the order it writes them.
public enum TrailerKey {
    public static let run = "Grad-Run"
    /// The task a step optimized, when grad.toml names its tasks (`[tasks.NAME]`).
    public static let task = "Grad-Task"
    public static let step = "Grad-Step"
    public static let variant = "Grad-Variant"
    public static let kind = "Grad-Kind"
    public static let errors = "Grad-Errors"
    public static let scoreTrain = "Score-Train"
    public static let scoreHoldout = "Score-Holdout"
    public static let regressions = "Regressions"
    public static let improvements = "Improvements"
    public static let verdict = "Verdict"
    public static let model = "Model"
    public static let optimizerModel = "Optimizer-Model"
    public static let settings = "Grad-Settings"
    public static let seed = "Seed"
    public static let calls = "Calls"
    public static let tokens = "Tokens"
    public static let reverts = "Reverts"
    /// On a revert made by `revert --regression`: the split and the score of the version it restores.
    public static let restoresScore = "Restores-Score"
    /// The operator that made a candidate (`rules`, `demos`, `rewrite`, `merge`).
    public static let operatorName = "Operator"
    /// The train row ids placed as worked examples by `demos`.
    public static let demos = "Demos"
    /// The candidate commits a `merge` candidate combines.
    public static let merged = "Merged"
    /// The prevalence audit's verdict: `ok`, `skipped`, or `collapse: ...`.
    public static let prevalence = "Prevalence"
    /// The verdict's significance test, its one-sided p and the level it was held to.
    public static let test = "Test"
    public static let pValue = "P-Value"
    public static let alpha = "Alpha"
    public static let balancedAccuracy = "Balanced-Accuracy"
    /// Screening: how many candidates of the step were scored on train rows, and this one's
    /// train score there against the current prompt's.
    public static let screened = "Screened"
    public static let scoreScreen = "Score-Screen"
    public static let majorityBaseline = "Majority-Baseline"
}

/// A commit message in git-grad's format: a one-line subject, the textual gradient as the body,
/// and a final paragraph of `Key: value` trailers that git and libgit2 read.
///
/// Text from an LLM or a dataset goes through `encode`, which guarantees it can neither add a
/// trailer nor hide the real ones: the subject is folded to one line, trailer values are
/// single-line, and body lines that git would treat as the end of the message (`---`) are escaped
/// reversibly with a leading backslash.
public struct StepMessage: Sendable, Equatable {
    public var subject: String
    public var body: String
    public var trailers: [Trailer]

    public init(subject: String, body: String = "", trailers: [Trailer] = []) {
        self.subject = subject
        self.body = body
        self.trailers = trailers
    }

    public func value(_ key: String) -> String? { trailers.last { $0.key == key }?.value }

    public static let maxSubjectLength = 120

    /// The message text to commit.
    public func encode() -> String {
        var subject = Self.oneLine(self.subject)
        if subject.isEmpty { subject = "(no subject)" }
        if subject.count > Self.maxSubjectLength { subject = String(subject.prefix(Self.maxSubjectLength - 1)) + "…" }
        // A subject starting with `---` would end the message for git's trailer parser, hiding the trailers.
        subject = Self.escapeBody(subject)
        var message = subject + "\n"
        // Without trailers, body lines that look like trailers are escaped too, so the body's last
        // paragraph cannot become a trailer block.
        let body = Self.escapeBody(self.body, trailerLike: trailers.isEmpty)
        if !body.isEmpty { message += "\n" + body + "\n" }
        let block = trailers.map { "\(Self.trailerKey($0.key)): \(Self.oneLine($0.value))" }
        if !block.isEmpty { message += "\n" + block.joined(separator: "\n") + "\n" }
        return message
    }

    /// Reads a message written by `encode` (or by hand): trailers as git reads them, the body
    /// between subject and trailers with its escaping undone.
    ///
    /// `log` decodes one message per step and per candidate, 30,000 at 10,000 steps, so the
    /// paragraphs are found on the UTF-8 bytes, and text without carriage returns, control
    /// characters or backslashes (nearly every message) skips those passes.
    public static func decode(_ message: String) throws -> StepMessage {
        // Trailing blank lines (as `git log --format=%B` prints) would otherwise read as an empty last paragraph.
        let normalized = trimNewlines(normalizeNewlines(message))
        let trailers = try messageTrailers(normalized)
        var paragraphs = Self.paragraphs(Array(normalized.utf8))
        let subject = unescapeBody((paragraphs.isEmpty ? "" : paragraphs.removeFirst()).trimmingBlankEdges)
        if !trailers.isEmpty, let last = paragraphs.last {
            let keys = Set(trailers.map(\.key))
            let allTrailers = last.newlineSeparatedLines.filter { !$0.isEmpty }.allSatisfy { line in
                line.firstIndex(of: ":").map { keys.contains(String(line[..<$0])) } ?? false
            }
            if allTrailers { paragraphs.removeLast() }
        }
        let rawBody = trimNewlines(paragraphs.joined(separator: "\n\n"))
        return StepMessage(subject: subject, body: unescapeBody(rawBody, trailerLike: trailers.isEmpty), trailers: trailers)
    }

    /// The trailers of a message alone, as `decode` reads them, for readers that need no body.
    public static func trailers(of message: String) throws -> [Trailer] {
        try messageTrailers(trimNewlines(normalizeNewlines(message)))
    }

    /// The text split at every blank-line separator (`\n\n`), as `components(separatedBy:)` splits.
    private static func paragraphs(_ bytes: [UInt8]) -> [String] {
        var result: [String] = []
        var start = 0, index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 0x0A && bytes[index + 1] == 0x0A {
                result.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        result.append(String(decoding: bytes[start...], as: UTF8.self))
        return result
    }

    /// `trimmingCharacters(in: .newlines)` without Foundation's bridging.
    private static func trimNewlines(_ text: String) -> String {
        text.trimming { (0x0A...0x0D).contains($0.value) || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 }
    }

    /// Unix newlines, and no NUL or other control character (a model's ESC or NUL must not reach
    /// a commit, where plain `git log` would print it raw).
    static func normalizeNewlines(_ text: String) -> String {
        // Fast path: no carriage return and no control character (C0 but newline and tab, DEL,
        // or C1, which UTF-8 writes as 0xC2 0x80...0x9F).
        var previous: UInt8 = 0
        let clean = text.utf8.allSatisfy { byte in
            defer { previous = byte }
            if byte < 0x20 { return byte == 0x0A || byte == 0x09 }
            if byte == 0x7F { return false }
            return !(previous == 0xC2 && byte >= 0x80 && byte <= 0x9F)
        }
        if clean { return text }
        return text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n").withoutControlCharacters
    }

    static func oneLine(_ text: String) -> String {
        normalizeNewlines(text).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func trailerKey(_ key: String) -> String {
        // git accepts only ASCII letters, digits and '-' in a key; any other character would turn the
        // whole block into prose, and a leading `---` would end the message before it.
        let cleaned = key.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }.drop(while: { $0 == "-" })
        return cleaned.isEmpty ? "X-Grad" : String(cleaned)
    }

    /// Lines starting with `---` end the message for git's trailer parser; lines of only
    /// whitespace would split paragraphs oddly. Prefix `---`-lines (and lines that already start
    /// with backslashes before `---`) with one more backslash, and trim trailing blank lines.
    /// With `trailerLike`, lines git could read as a trailer (`Key: value`, `(cherry picked from
    /// commit`) are escaped the same way.
    static func escapeBody(_ body: String, trailerLike: Bool = false) -> String {
        let lines = normalizeNewlines(body).components(separatedBy: "\n").map { line -> String in
            if needsEscape(line.drop(while: { $0 == "\\" }), trailerLike: trailerLike) { return "\\" + line }
            return line.allSatisfy(\.isWhitespace) ? "" : line
        }
        return lines.joined(separator: "\n").trimmingCharacters(in: .newlines)
    }

    static func unescapeBody(_ body: String, trailerLike: Bool = false) -> String {
        guard body.utf8.contains(UInt8(ascii: "\\")) else { return body }
        return body.components(separatedBy: "\n").map { line -> String in
            let stripped = line.drop(while: { $0 == "\\" })
            if line.hasPrefix("\\") && needsEscape(stripped, trailerLike: trailerLike) { return String(line.dropFirst()) }
            return line
        }.joined(separator: "\n")
    }

    /// Whether a line (without its leading backslashes) must be escaped: `---`, or with
    /// `trailerLike` a token of letters, digits and '-', optional blanks, then ':' (git's trailer
    /// rule, widened to non-ASCII letters) or git's generated `(cherry picked from commit` line.
    private static func needsEscape(_ stripped: Substring, trailerLike: Bool) -> Bool {
        if stripped.hasPrefix("---") { return true }
        guard trailerLike else { return false }
        if stripped.hasPrefix("(cherry picked from commit ") { return true }
        let token = stripped.prefix(while: { $0.isLetter || $0.isNumber || $0 == "-" })
        guard !token.isEmpty else { return false }
        return stripped[token.endIndex...].drop(while: { $0 == " " || $0 == "\t" }).first == ":"
    }
}
