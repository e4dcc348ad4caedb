import Foundation

/// One search setting's value, as grad.toml, JSON or a command-line word gives it.
public enum SettingValue: Sendable, Equatable, Encodable, CustomStringConvertible {
    case integer(Int)
    case number(Double)
    case word(String)
    case words([String])

    /// The value as `name=value` shows it: a list joined by `+`, so it never holds a comma or space.
    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .number(let value): return String(value)
        case .word(let value): return value
        case .words(let values): return values.joined(separator: "+")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .word(let value): try container.encode(value)
        case .words(let values): try container.encode(values)
        }
    }
}

/// Why a setting's value was refused; the caller adds where the value came from.
public struct SettingError: Error, Sendable, Equatable {
    public let message: String
}

/// One search setting: its one name, what values it takes, and where it lives in `SearchSettings`.
/// grad.toml, run manifests, experiment grids, `--set` and the trailer all go through this table,
/// so a setting is added in one place (`all`) and read, validated and written alike everywhere.
public struct SearchSetting: @unchecked Sendable {  // immutable: a name, a shape and key-path closures
    public enum Shape: Sendable, Equatable {
        /// An integer of at least `minimum` (nil: any).
        case integer(minimum: Int?)
        /// A finite number the check accepts; `expected` says which ones in errors.
        case number(ClosedRange<Double>, lowerOpen: Bool, expected: String)
        case choice([String])
        /// A non-empty list of operator names.
        case operators
    }

    public let name: String
    public let help: String
    public let shape: Shape
    /// Whether the `Grad-Settings` trailer shows it (the settings that shape the method).
    public let inTrailer: Bool
    /// Whether an experiment cell may set it (a grid has its own steps and seeds).
    public var variesByCell: Bool { name != "steps" && name != "seed" }
    let read: (SearchSettings) -> SettingValue?
    let write: (inout SearchSettings, SettingValue?) -> Void

    /// The setting's value in `settings`; nil when an optional setting is unset.
    public func value(in settings: SearchSettings) -> SettingValue? { read(settings) }

    /// Sets the setting (nil unsets an optional one); the value must have passed `check`.
    public func apply(_ value: SettingValue?, to settings: inout SearchSettings) { write(&settings, value) }

    /// The setting named `name`, nil when there is none.
    public static func named(_ name: String) -> SearchSetting? { all.first { $0.name == name } }

    /// The names, in table order.
    public static var names: [String] { all.map(\.name) }

    /// The names an experiment cell and `--vary` may set.
    public static var cellNames: [String] { all.filter(\.variesByCell).map(\.name) }
}

// MARK: Reading values

extension SearchSetting {
    /// A value from a word (a flag, `--vary`, `--set`): parsed by shape, then checked.
    public func parse(_ text: String) throws(SettingError) -> SettingValue {
        let value: SettingValue
        switch shape {
        case .integer:
            guard let int = Int(text) else { throw SettingError(message: "expected an integer, found '\(text)'") }
            value = .integer(int)
        case .number(_, _, let expected):
            guard let number = Double(text) else { throw SettingError(message: "expected \(expected), found '\(text)'") }
            value = .number(number)
        case .choice:
            value = .word(text)
        case .operators:
            value = .words(text.split(whereSeparator: { $0 == "+" || $0 == "," }).map { $0.trimmingCharacters(in: .whitespaces) })
        }
        try check(value)
        return value
    }

    /// Refuses a value the setting does not take, saying which it takes.
    public func check(_ value: SettingValue) throws(SettingError) {
        switch (shape, value) {
        case (.integer(let minimum), .integer(let int)):
            if let minimum, int < minimum {
                throw SettingError(message: minimum == 1 ? "must be positive" : "must be at least \(minimum)")
            }
        case (.number(let range, let lowerOpen, let expected), .number(let number)):
            guard number.isFinite, range.contains(number), !(lowerOpen && number == range.lowerBound) else {
                throw SettingError(message: "must be \(expected), not \(number)")
            }
        case (.choice(let names), .word(let word)):
            guard names.contains(word) else {
                throw SettingError(message: "'\(word)' is not one of \(names.map { "'\($0)'" }.joined(separator: ", "))")
            }
        case (.operators, .words(let words)):
            guard !words.isEmpty else { throw SettingError(message: "needs at least one of: rules, demos, rewrite, merge") }
            do {
                _ = try SearchSettings.Operator.parse(words)
            } catch {
                throw SettingError(message: error.description)
            }
        default:
            throw SettingError(message: "expected \(expectedKind)")
        }
    }

    /// What the shape takes, for type errors.
    var expectedKind: String {
        switch shape {
        case .integer: return "an integer"
        case .number: return "a number"
        case .choice: return "a string"
        case .operators: return "a string or an array of strings"
        }
    }
}

// MARK: The table

extension SearchSetting {
    /// Every search setting, in the order documentation and trailers list them.
    public static let all: [SearchSetting] = [
        integer("steps", \.steps, minimum: 1, "optimization steps"),
        integer("batch_size", \.batchSize, minimum: 1, "training examples per minibatch", trailer: true),
        integer("variants", \.variants, minimum: 1, "candidate variants per step", trailer: true),
        choice("selection", \.selection, "validated, or naive (accept without verification)", trailer: true),
        choice("feedback", \.feedback, "errors, all or none: which examples feed the gradient", trailer: true),
        choice("gradient", \.gradient, "one-step or two-step feedback", trailer: true),
        choice("labels", \.labels, "correct or shuffled labels shown to the gradient (an ablation)", trailer: true),
        integer("seed", \.seed, minimum: nil, "random seed for minibatches and optimizer requests"),
        choice("rule", \.rule, "significant (a one-sided test at alpha) or net (improvements - lambda * regressions > 0)", trailer: true),
        number("alpha", \.alpha, 0...0.5, lowerOpen: true, "between 0 and 0.5 (0.05 is usual)",
               "the test's level per step, Bonferroni-corrected over its candidates", trailer: true),
        optionalNumber("max_broken_ratio", \.maxBrokenRatio, 0...Double.greatestFiniteMagnitude, "a non-negative number",
                       "preservation: at most this many broken holdout examples per fixed one", trailer: true),
        number("lambda", \.lambda, 0...Double.greatestFiniteMagnitude, lowerOpen: false, "a non-negative number",
               "the net rule's weight of regressions", trailer: true),
        optionalInteger("max_regressions", \.maxRegressions, minimum: 0, "refuse a candidate breaking more holdout examples", trailer: true),
        optionalNumber("max_recall_drop", \.maxRecallDrop, 0...1, "between 0 and 1", "refuse a candidate whose recall of a class falls more", trailer: true),
        integer("redraws", \.redraws, minimum: 0, "extra minibatches drawn when a batch has no errors"),
        optionalInteger("patience", \.patience, minimum: 1, "stop after this many steps in a row without a merge"),
        optionalInteger("max_calls", \.maxCalls, minimum: 1, "stop after this many model calls"),
        optionalInteger("max_tokens", \.maxTokens, minimum: 1, "stop after this many tokens"),
        optionalNumber("max_cost", \.maxCost, 0...Double.greatestFiniteMagnitude, "a non-negative number", "stop after this many dollars"),
        operators,
        choice("prevalence", \.prevalence, "reject, flag or off: the class-collapse audit of every verdict", trailer: true),
        number("collapse_share", \.collapseShare, 0.3...1, lowerOpen: true, "in (0.3, 1]", "a label predicted this often is a collapse"),
        integer("max_rules", \.maxRules, minimum: 1, "rules the rules operator keeps"),
        integer("max_demos", \.maxDemos, minimum: 1, "worked examples the demos operator places"),
        integer("demo_tokens", \.demoTokens, minimum: 1, "about how many tokens the worked examples take"),
        integer("screen_rows", \.screenRows, minimum: 0, "train rows each candidate is scored on before the holdout (0: no screening)",
                trailer: true),
        integer("verify", \.verify, minimum: 1, "candidates of a step that go to the holdout: the best screened", trailer: true),
    ]

    static let operators = SearchSetting(
        name: "operators", help: "how candidates are made: rules, demos, rewrite, merge, glossary", shape: .operators, inTrailer: true,
        read: { $0.operators.map { .words($0.map(\.rawValue)) } },
        write: { settings, value in
            if case .words(let names)? = value { settings.operators = try? SearchSettings.Operator.parse(names) } else { settings.operators = nil }
        })

    static func integer(
        _ name: String, _ path: WritableKeyPath<SearchSettings, Int>, minimum: Int?, _ help: String, trailer: Bool = false
    ) -> SearchSetting {
        SearchSetting(
            name: name, help: help, shape: .integer(minimum: minimum), inTrailer: trailer, read: { .integer($0[keyPath: path]) },
            write: { settings, value in if case .integer(let int)? = value { settings[keyPath: path] = int } })
    }

    static func optionalInteger(
        _ name: String, _ path: WritableKeyPath<SearchSettings, Int?>, minimum: Int?, _ help: String, trailer: Bool = false
    ) -> SearchSetting {
        SearchSetting(
            name: name, help: help, shape: .integer(minimum: minimum), inTrailer: trailer, read: { $0[keyPath: path].map { .integer($0) } },
            write: { settings, value in
                if case .integer(let int)? = value { settings[keyPath: path] = int } else { settings[keyPath: path] = nil }
            })
    }

    static func number(
        _ name: String, _ path: WritableKeyPath<SearchSettings, Double>, _ range: ClosedRange<Double>, lowerOpen: Bool,
        _ expected: String, _ help: String, trailer: Bool = false
    ) -> SearchSetting {
        SearchSetting(
            name: name, help: help, shape: .number(range, lowerOpen: lowerOpen, expected: expected), inTrailer: trailer,
            read: { .number($0[keyPath: path]) },
            write: { settings, value in if case .number(let number)? = value { settings[keyPath: path] = number } })
    }

    static func optionalNumber(
        _ name: String, _ path: WritableKeyPath<SearchSettings, Double?>, _ range: ClosedRange<Double>, _ expected: String,
        _ help: String, trailer: Bool = false
    ) -> SearchSetting {
        SearchSetting(
            name: name, help: help, shape: .number(range, lowerOpen: false, expected: expected), inTrailer: trailer,
            read: { $0[keyPath: path].map { .number($0) } },
            write: { settings, value in
                if case .number(let number)? = value { settings[keyPath: path] = number } else { settings[keyPath: path] = nil }
            })
    }

    static func choice<T: RawRepresentable & CaseIterable>(
        _ name: String, _ path: WritableKeyPath<SearchSettings, T>, _ help: String, trailer: Bool = false
    ) -> SearchSetting where T.RawValue == String {
        SearchSetting(
            name: name, help: help, shape: .choice(T.allCases.map(\.rawValue)), inTrailer: trailer,
            read: { .word($0[keyPath: path].rawValue) },
            write: { settings, value in
                if case .word(let word)? = value, let choice = T(rawValue: word) { settings[keyPath: path] = choice }
            })
    }
}
