import Foundation

/// A `.prompt.yml` file's testData as a task's train, holdout and test splits, named in a task as
/// `prompts/x.prompt.yml#train` (what a task without data paths gets).
///
/// A row with a `split` field (`train`, `holdout` or `test`) goes there. The other rows are
/// ordered by a hash of their contents (FNV-1a over their sorted fields, so the order is seeded
/// by the rows themselves and the same on every machine) and cut in order: the first half to
/// train, half of the rest to the holdout, the remainder to test. The holdout stays fixed while
/// the rows do; a changed row moves only itself.
public struct TestDataSplit: Sendable, Equatable {
    public let file: String
    public let split: Split

    public static let splitField = "split"

    /// The split `path` names (`file#split`), nil for a plain dataset file.
    public init?(path: String) {
        guard let hash = path.lastIndex(of: "#"), let split = Split(rawValue: String(path[path.index(after: hash)...])) else { return nil }
        let file = String(path[..<hash])
        guard PromptFormat.of(path: file) == .promptYAML else { return nil }
        self.file = file
        self.split = split
    }

    public static func path(prompt: String, split: Split) -> String { "\(prompt)#\(split.rawValue)" }

    /// The file a dataset path reads: the prompt file for a testData split, else the path itself.
    public static func file(of path: String) -> String { TestDataSplit(path: path)?.file ?? path }

    /// The rows of this split, each with the line it starts on.
    func rows(_ text: String) throws -> [(line: Int, fields: [String: String])] {
        guard let rows = try PromptFileSettings.readPromptYAML(text, path: file).testData else {
            throw PromptRepoError.datasetFile(file: file, message: "has no testData; add rows or name data files in grad.toml")
        }
        var assigned: [Split: [PromptFileSettings.TestRow]] = [:]
        var unassigned: [PromptFileSettings.TestRow] = []
        for row in rows {
            guard let value = row.fields[Self.splitField] else { unassigned.append(row); continue }
            guard let split = Split(rawValue: value) else {
                throw PromptRepoError.dataset(file: file, line: row.line, message: "split '\(value.escapingControlCharacters)' is not train, holdout or test")
            }
            assigned[split, default: []].append(row)
        }
        let ordered = unassigned.sorted { (Self.hash($0.fields), $0.line) < (Self.hash($1.fields), $1.line) }
        let trainCount = (ordered.count + 1) / 2
        let holdoutCount = (ordered.count - trainCount + 1) / 2
        let cut: [Split: ArraySlice<PromptFileSettings.TestRow>] = [
            .train: ordered.prefix(trainCount),
            .holdout: ordered.dropFirst(trainCount).prefix(holdoutCount),
            .test: ordered.dropFirst(trainCount + holdoutCount),
        ]
        let chosen = (assigned[split] ?? []) + (cut[split] ?? [])
        return chosen.sorted { $0.line < $1.line }.map { (line: $0.line, fields: $0.fields) }
    }

    /// FNV-1a (64-bit) of a row's fields in key order.
    static func hash(_ fields: [String: String]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for key in fields.keys.sorted() {
            for byte in Array(key.utf8) + [0] + Array(fields[key]!.utf8) + [1] {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
        }
        return hash
    }
}
