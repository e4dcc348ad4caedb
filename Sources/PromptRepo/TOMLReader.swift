import TOMLKit

/// Reads one TOML table with typed accessors and remembers which keys were read, so that any key
/// left over can be reported as unknown by its full dotted name.
struct TOMLReader {
    let table: TOMLTable
    let path: String
    let file: String
    private(set) var consumed: Set<String> = []

    init(_ table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func keyName(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func fail(_ key: String, _ message: String) -> PromptRepoError {
        .configValue(file: file, key: keyName(key), message: message)
    }

    /// The raw value of `key`, marked as read.
    mutating func take(_ key: String) -> TOMLValueConvertible? {
        consumed.insert(key)
        return table[key]
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = take(key) else { return nil }
        guard let string = value.string else { throw fail(key, "expected a string, found \(value.type)") }
        return string
    }

    mutating func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw fail(key, "missing; add it to grad.toml") }
        return value
    }

    mutating func int(_ key: String) throws -> Int? {
        guard let value = take(key) else { return nil }
        guard let int = value.int else { throw fail(key, "expected an integer, found \(value.type)") }
        return int
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let value = take(key) else { return nil }
        if let double = value.double {
            guard double.isFinite else { throw fail(key, "must be a finite number, not \(double)") }
            return double
        }
        if let int = value.int { return Double(int) }
        throw fail(key, "expected a number, found \(value.type)")
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let value = take(key) else { return nil }
        guard let bool = value.bool else { throw fail(key, "expected true or false, found \(value.type)") }
        return bool
    }

    /// A string or an array of strings, read as an array.
    mutating func strings(_ key: String) throws -> [String]? {
        guard let value = take(key) else { return nil }
        if let string = value.string { return [string] }
        guard let array = value.array else { throw fail(key, "expected a string or an array of strings, found \(value.type)") }
        return try array.enumerated().map { index, element in
            guard let string = element.string else { throw fail("\(key)[\(index)]", "expected a string, found \(element.type)") }
            return string
        }
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let raw = try string(key) else { return nil }
        guard let value = T(rawValue: raw) else {
            throw fail(key, "'\(raw)' is not one of \(T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))")
        }
        return value
    }

    mutating func subtable(_ key: String) throws -> TOMLReader? {
        guard let value = take(key) else { return nil }
        guard let table = value.table else { throw fail(key, "expected a table, found \(value.type)") }
        return TOMLReader(table, path: keyName(key), file: file)
    }

    /// Throws for the first key that no accessor read.
    func rejectUnknownKeys() throws {
        if let unknown = table.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw fail(unknown, "unknown key; remove it or check its spelling")
        }
    }
}
