import Foundation

/// Where git-grad keeps things in a repository.
public enum GradRefs {
    public static let mainBranch = "main"
    public static let main = "refs/heads/main"
    /// Per-example evaluation results, one JSON note per evaluated commit.
    public static let notes = "refs/notes/grad"
    public static let labelPrefix = "refs/grad/labels/"
    public static let candidatePrefix = "grad/"
    /// Where the notes and labels of named tasks live: `refs/notes/grad-task/<task>` and
    /// `refs/grad/task-labels/<task>/<label>`. The one task of a `[task]` file keeps the plain names.
    public static let taskNotesPrefix = "refs/notes/grad-task/"
    public static let taskLabelsPrefix = "refs/grad/task-labels/"

    /// The notes reference of a task's evaluation results.
    public static func notes(task: String?) -> String { task.map { taskNotesPrefix + $0 } ?? notes }

    /// The prefix of a task's label references.
    public static func labelPrefix(task: String?) -> String { task.map { "\(taskLabelsPrefix)\($0)/" } ?? labelPrefix }

    /// `refs/grad/labels/<name>`: a deployment label such as `production` (of a named task: under its prefix).
    public static func label(_ name: String, task: String? = nil) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), !name.hasPrefix(".") else {
            throw PromptRepoError.invalidName("label '\(name)' must be letters, digits, '-', '_' or '.'")
        }
        return labelPrefix(task: task) + name
    }
}

/// A run id: `YYYYMMDD-HHMMSS-xxxx`, sortable by time and unique enough across machines.
public struct RunID: Sendable, Hashable, CustomStringConvertible, Codable {
    public let value: String

    public init(_ value: String) throws {
        // On the bytes: every allowed character is one ASCII byte (and `log` checks 10,000 names).
        guard !value.isEmpty, value.utf8.count <= 64, value.utf8.allSatisfy(Self.isAllowed)
        else { throw PromptRepoError.invalidName("run id '\(value)' must be ASCII letters, digits, '-' or '_'") }
        self.value = value
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"): return true
        default: return false
        }
    }

    /// A new run id from the clock and a random suffix.
    public static func make(date: Date = Date()) -> RunID {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = String((0..<4).map { _ in "0123456789abcdef".randomElement()! })
        return try! RunID("\(formatter.string(from: date))-\(suffix)")
    }

    public var description: String { value }
}

/// A candidate's branch: `grad/<run>/s<step>v<k>`.
public struct CandidateBranch: Sendable, Hashable, CustomStringConvertible {
    public let run: RunID
    public let step: Int
    public let variant: Int

    public init(run: RunID, step: Int, variant: Int) {
        self.run = run
        self.step = step
        self.variant = variant
    }

    /// The short branch name (without `refs/heads/`).
    public var name: String { "grad/\(run.value)/s\(step)v\(variant)" }
    public var reference: String { "refs/heads/\(name)" }
    public var description: String { name }

    /// Parses `grad/<run>/s<step>v<k>` (with or without `refs/heads/`); nil for other names.
    public init?(parsing name: String) {
        // On the UTF-8 bytes: `log` parses every branch name (10,000 at 10,000 steps), and
        // splitting on Characters walked grapheme clusters.
        var bytes = Substring(name).utf8[...]
        let heads = "refs/heads/".utf8
        if bytes.starts(with: heads) { bytes = bytes.dropFirst(heads.count) }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual("grad".utf8), let run = try? RunID(String(Substring(parts[1]))) else { return nil }
        let tail = parts[2]
        // Digits only: Int("+1") and Int("-1") parse, but their names would not round-trip.
        func number(_ digits: Substring.UTF8View.SubSequence) -> Int? {
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
            return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        guard tail.first == UInt8(ascii: "s"), let v = tail.firstIndex(of: UInt8(ascii: "v")),
              let step = number(tail[tail.index(after: tail.startIndex)..<v]),
              let variant = number(tail[tail.index(after: v)...])
        else { return nil }
        self.init(run: run, step: step, variant: variant)
    }
}
