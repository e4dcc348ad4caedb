import Foundation
import TOMLKit

/// A coding key by a setting's name.
struct SettingKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    /// Manifests written before settings had one name spelled them in camelCase (`batchSize`);
    /// they are read by that rule, never written.
    static func legacy(_ name: String) -> SettingKey {
        let parts = name.split(separator: "_")
        return SettingKey(parts.first.map(String.init)! + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined())
    }
}

extension SearchSetting {
    /// The value stored under this setting's name (or its legacy spelling) in a JSON container;
    /// `.some(nil)` when stored as null, nil when absent.
    func decode(from container: KeyedDecodingContainer<SettingKey>) throws -> SettingValue?? {
        guard let key = [SettingKey(name), .legacy(name)].first(where: container.contains) else { return nil }
        if try container.decodeNil(forKey: key) { return .some(nil) }
        let value: SettingValue
        switch shape {
        case .integer: value = .integer(try container.decode(Int.self, forKey: key))
        case .number: value = .number(try container.decode(Double.self, forKey: key))
        case .choice: value = .word(try container.decode(String.self, forKey: key))
        case .operators: value = .words(try container.decode([String].self, forKey: key))
        }
        do {
            try check(value)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(name): \(error.message)")
        }
        return .some(value)
    }

    /// A value from grad.toml or a grid file: the TOML type must fit the shape, then it is checked.
    func value(toml: TOMLValueConvertible) throws(SettingError) -> SettingValue {
        let value: SettingValue
        switch shape {
        case .integer:
            guard let int = toml.int else { throw SettingError(message: "expected an integer, found \(toml.type)") }
            value = .integer(int)
        case .number:
            guard let number = toml.double ?? toml.int.map(Double.init) else { throw SettingError(message: "expected a number, found \(toml.type)") }
            value = .number(number)
        case .choice:
            guard let word = toml.string else { throw SettingError(message: "expected a string, found \(toml.type)") }
            value = .word(word)
        case .operators:
            if let word = toml.string {
                value = .words([word])
            } else if let array = toml.array {
                var words: [String] = []
                for (index, element) in array.enumerated() {
                    guard let word = element.string else { throw SettingError(message: "[\(index)]: expected a string, found \(element.type)") }
                    words.append(word)
                }
                value = .words(words)
            } else {
                throw SettingError(message: "expected a string or an array of strings, found \(toml.type)")
            }
        }
        try check(value)
        return value
    }
}

/// Manifests store every setting by its name; an unset optional one as null, so that reading it
/// back never substitutes a default.
extension SearchSettings: Codable {
    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: SettingKey.self)
        for setting in SearchSetting.all {
            if let value = try setting.decode(from: container) { setting.apply(value, to: &self) }
        }
        // A run recorded before screening existed sent every candidate to the holdout, and resumes so.
        if !container.contains(SettingKey("screen_rows")) { screenRows = 0 }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: SettingKey.self)
        for setting in SearchSetting.all {
            if let value = setting.value(in: self) { try container.encode(value, forKey: SettingKey(setting.name)) } else {
                try container.encodeNil(forKey: SettingKey(setting.name))
            }
        }
    }

    /// Reads grad.toml's `[search]` table: every key a setting's name, every value checked.
    static func read(_ reader: inout TOMLReader) throws -> SearchSettings {
        var search = SearchSettings()
        for setting in SearchSetting.all {
            guard let raw = reader.take(setting.name) else { continue }
            do {
                setting.apply(try setting.value(toml: raw), to: &search)
            } catch {
                throw reader.fail(setting.name, error.message)
            }
        }
        return search
    }
}

/// Settings that override grad.toml's `[search]` for one run: from `optimize`'s flags and
/// `--set`, or an experiment's cell. Stored by setting name, so a cell's overrides read back as
/// they were given.
public struct SearchOverrides: Codable, Sendable, Equatable {
    public private(set) var values: [String: SettingValue] = [:]

    public init() {}

    /// Sets one setting from a word; `describe` says where it came from in errors.
    public mutating func set(_ name: String, _ text: String, describe: String) throws {
        guard let setting = SearchSetting.named(name) else {
            throw PromptRepoError.configValue(
                file: describe, key: name, message: "not a setting; use one of \(SearchSetting.names.joined(separator: ", "))")
        }
        do {
            values[name] = try setting.parse(text)
        } catch {
            throw PromptRepoError.configValue(file: describe, key: name, message: error.message)
        }
    }

    /// Sets one setting from a checked value (grid files read TOML values; experiments set steps and seeds).
    public mutating func set(_ setting: SearchSetting, _ value: SettingValue) { values[setting.name] = value }

    /// grad.toml's settings with these overrides applied.
    public func apply(to search: inout SearchSettings) {
        for setting in SearchSetting.all { if let value = values[setting.name] { setting.apply(value, to: &search) } }
    }

    /// `base` (the defaults unless given) with these overrides applied.
    public func applied(to base: SearchSettings = SearchSettings()) -> SearchSettings {
        var search = base
        apply(to: &search)
        return search
    }

    /// `name=value` pairs in table order, for the experiment table and cell names.
    public var summary: String {
        let parts = SearchSetting.all.compactMap { setting in values[setting.name].map { "\(setting.name)=\($0)" } }
        return parts.isEmpty ? "grad.toml" : parts.joined(separator: " ")
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: SettingKey.self)
        for setting in SearchSetting.all {
            if case let value?? = try setting.decode(from: container) { values[setting.name] = value }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: SettingKey.self)
        for (name, value) in values { try container.encode(value, forKey: SettingKey(name)) }
    }
}
