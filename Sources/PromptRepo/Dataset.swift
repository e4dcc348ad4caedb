import Foundation

/// One dataset row: a stable id, the fields a template may use, and the expected answer.
public struct Example: Sendable, Equatable, Codable, Hashable {
    public let id: String
    public let fields: [String: String]
    public let target: String
    /// Where the row came from, for error messages: `data/train.jsonl:12`.
    public let source: String

    public init(id: String, fields: [String: String], target: String, source: String = "") {
        self.id = id
        self.fields = fields
        self.target = target
        self.source = source
    }
}

/// The data splits of a prompt repository.
public enum Split: String, Sendable, Codable, CaseIterable {
    case train, holdout, test
}

/// A problem that does not stop the work but that the user should see (e.g. train/holdout overlap).
public struct DatasetWarning: Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Loads JSONL and CSV datasets into `Example`s, naming file and line in every error.
public struct DatasetLoader: Sendable {
    public let inputFields: [String]
    public let targetField: String
    public let idField: String?
    /// Values for input fields a row leaves out.
    public let inputDefaults: [String: String]

    public init(task: TaskSettings) {
        self.init(inputFields: task.inputFields, targetField: task.targetField, idField: task.idField, inputDefaults: task.inputDefaults)
    }

    public init(inputFields: [String], targetField: String, idField: String?, inputDefaults: [String: String] = [:]) {
        self.inputFields = inputFields
        self.targetField = targetField
        self.idField = idField
        self.inputDefaults = inputDefaults
    }

    /// Loads `relativePath` under `root`.
    public func load(_ relativePath: String, root: URL) throws -> [Example] {
        let url = root.appendingPathComponent(TestDataSplit.file(of: relativePath))
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PromptRepoError.missingFile(path: relativePath, role: "dataset")
        }
        return try parse(data, file: relativePath)
    }

    /// Parses file contents; the format follows the file's extension (`.csv`, otherwise JSONL).
    public func parse(_ data: Data, file: String) throws -> [Example] {
        guard let text = String(data: data, encoding: .utf8) else {
            let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let bad = lines.firstIndex { String(data: Data($0), encoding: .utf8) == nil }.map { $0 + 1 } ?? 1
            throw PromptRepoError.dataset(file: file, line: bad, message: "not valid UTF-8 text; save the file as UTF-8")
        }
        let testData = TestDataSplit(path: file)
        var rows: [(line: Int, fields: [String: String])]
        if let testData {
            rows = try testData.rows(text)
        } else {
            rows = file.lowercased().hasSuffix(".csv") ? try parseCSV(text, file: file) : try parseJSONL(text, file: file)
        }
        let file = testData?.file ?? file
        guard !rows.isEmpty else {
            throw PromptRepoError.datasetFile(file: file, message: testData.map { "testData has no \($0.split.rawValue) rows; add rows" } ?? "has no rows; add examples")
        }

        var examples: [Example] = []
        var seen: [String: Int] = [:]
        for var row in rows {
            for (field, value) in inputDefaults where row.fields[field] == nil { row.fields[field] = value }
            // testData rows need no target: their evaluators may check the answer alone.
            if testData != nil, row.fields[targetField] == nil { row.fields[targetField] = "" }
            for field in inputFields + [targetField] where row.fields[field] == nil {
                throw PromptRepoError.dataset(
                    file: file, line: row.line,
                    message: "missing field '\(field)'; every row needs \((inputFields + [targetField]).map { "'\($0)'" }.joined(separator: ", "))")
            }
            let id: String
            if let idField {
                guard let value = row.fields[idField], !value.isEmpty else {
                    throw PromptRepoError.dataset(file: file, line: row.line, message: "missing id field '\(idField)'")
                }
                id = value
            } else {
                id = "\((file as NSString).lastPathComponent):\(row.line)"
            }
            if let first = seen[id] {
                throw PromptRepoError.dataset(
                    file: file, line: row.line, message: "duplicate id '\(id)' (first on line \(first)); ids must be unique")
            }
            seen[id] = row.line
            examples.append(Example(id: id, fields: row.fields, target: row.fields[targetField]!, source: "\(file):\(row.line)"))
        }
        return examples
    }

    /// Warnings about examples that appear in two splits (same id or same inputs): verification
    /// on a holdout set that overlaps train is not a preservation test.
    public func overlapWarnings(_ splits: [(name: String, examples: [Example])]) -> [DatasetWarning] {
        var warnings: [DatasetWarning] = []
        for (i, a) in splits.enumerated() {
            for b in splits[(i + 1)...] {
                let idsA = Set(a.examples.map(\.id))
                let sharedIDs = b.examples.filter { idsA.contains($0.id) }.map(\.id)
                if !sharedIDs.isEmpty && idField != nil {
                    warnings.append(DatasetWarning(message: "\(a.name) and \(b.name) share \(sharedIDs.count) id(s): \(sharedIDs.prefix(5).joined(separator: ", "))"))
                }
                let inputsA = Dictionary(a.examples.map { (inputKey($0), $0.source) }, uniquingKeysWith: { first, _ in first })
                let sharedInputs = b.examples.compactMap { example in inputsA[inputKey(example)].map { "\($0) = \(example.source)" } }
                if !sharedInputs.isEmpty {
                    warnings.append(DatasetWarning(message: "\(a.name) and \(b.name) overlap in \(sharedInputs.count) example(s): \(sharedInputs.prefix(3).joined(separator: "; "))"))
                }
            }
        }
        return warnings
    }

    private func inputKey(_ example: Example) -> String {
        inputFields.map { example.fields[$0]?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() ?? "" }.joined(separator: "\u{1F}")
    }

    private func parseJSONL(_ text: String, file: String) throws -> [(line: Int, fields: [String: String])] {
        var rows: [(Int, [String: String])] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])
            } catch {
                throw PromptRepoError.dataset(file: file, line: index + 1, message: "not valid JSON; each line must be one JSON object")
            }
            guard let dictionary = object as? [String: Any] else {
                throw PromptRepoError.dataset(file: file, line: index + 1, message: "expected a JSON object, found \(type(of: object))")
            }
            var fields: [String: String] = [:]
            for (key, value) in dictionary {
                switch value {
                case let string as String: fields[key] = string
                case let number as NSNumber:
                    fields[key] = Self.isBoolean(number) ? (number.boolValue ? "true" : "false") : number.stringValue
                case is NSNull: continue
                default:
                    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
                    fields[key] = String(decoding: data, as: UTF8.self)
                }
            }
            rows.append((index + 1, fields))
        }
        return rows
    }

    /// JSON `true`/`false` arrive as NSNumber; their Objective-C type code is `c` (char).
    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c" || type(of: number) == type(of: NSNumber(value: true))
            && (number === (true as NSNumber) || number === (false as NSNumber))
    }

    private func parseCSV(_ text: String, file: String) throws -> [(line: Int, fields: [String: String])] {
        let records = try CSVParser.parse(text, file: file)
        guard let header = records.first else { return [] }
        return try records.dropFirst().compactMap { record in
            if record.values == [""] { return nil }
            guard record.values.count == header.values.count else {
                throw PromptRepoError.dataset(
                    file: file, line: record.line,
                    message: "has \(record.values.count) columns, the header has \(header.values.count)")
            }
            return (record.line, Dictionary(zip(header.values, record.values), uniquingKeysWith: { first, _ in first }))
        }
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
enum CSVParser {
    struct Record { let line: Int; let values: [String] }

    static func parse(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var field = "", values: [String] = []
        var inQuotes = false, line = 1, recordLine = 1, quoteLine = 1
        var characters = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return characters.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.append("\"") } else { inQuotes = false; pending = following }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty:
                inQuotes = true
                quoteLine = line
            case ",":
                values.append(field); field = ""
            case "\n", "\r\n", "\r":
                values.append(field); field = ""
                records.append(Record(line: recordLine, values: values)); values = []
                line += 1; recordLine = line
            default:
                field.append(c)
            }
        }
        if inQuotes { throw PromptRepoError.dataset(file: file, line: quoteLine, message: "unterminated quoted field") }
        if !field.isEmpty || !values.isEmpty {
            values.append(field)
            records.append(Record(line: recordLine, values: values))
        }
        return records
    }
}

extension PromptRepository {
    /// A dataset as committed (so a run sees exactly what the commit holds).
    public func dataset(_ path: String, at commit: ObjectID, loader: DatasetLoader) throws -> [Example] {
        guard let data = try fileData(TestDataSplit.file(of: path), at: commit) else {
            throw PromptRepoError.missingFile(path: "\(TestDataSplit.file(of: path)) (committed on main)", role: "dataset")
        }
        return try loader.parse(data, file: path)
    }
}
