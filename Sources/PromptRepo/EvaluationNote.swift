import Foundation

/// The JSON stored as a git note on an evaluated commit (`refs/notes/grad`): what the prompt
/// answered on each example of one or more splits, so `git grad diff` can tell which examples
/// flipped. Versioned so later releases can read old notes.
public struct EvaluationNote: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public struct ExampleResult: Codable, Sendable, Equatable {
        public var id: String
        public var output: String
        public var expected: String
        public var correct: Bool
        public var score: Double

        public init(id: String, output: String, expected: String, correct: Bool, score: Double) {
            self.id = id
            self.output = output
            self.expected = expected
            self.correct = correct
            self.score = score
        }
    }

    public struct SplitResult: Codable, Sendable, Equatable {
        public var split: String
        public var score: Double
        public var correct: Int
        public var total: Int
        /// False when evaluation stopped early because the candidate could no longer pass.
        public var complete: Bool
        public var examples: [ExampleResult]

        public init(split: String, score: Double, correct: Int, total: Int, complete: Bool = true, examples: [ExampleResult]) {
            self.split = split
            self.score = score
            self.correct = correct
            self.total = total
            self.complete = complete
            self.examples = examples
        }
    }

    public struct ModelInfo: Codable, Sendable, Equatable {
        public var provider: String
        public var name: String
        public var temperature: Double
        public var maxTokens: Int
        public init(provider: String, name: String, temperature: Double, maxTokens: Int) {
            self.provider = provider
            self.name = name
            self.temperature = temperature
            self.maxTokens = maxTokens
        }

        /// The settings that decide a model's answers, as a note records them.
        public init(_ settings: ModelSettings) {
            self.init(provider: settings.provider.rawValue, name: settings.name, temperature: settings.temperature, maxTokens: settings.maxTokens)
        }
    }

    public var version: Int
    public var promptBlob: String
    public var model: ModelInfo
    public var metric: String
    public var splits: [SplitResult]
    /// Free-form facts such as a candidate's verdict and reason.
    public var verdict: String?

    public init(promptBlob: String, model: ModelInfo, metric: String, splits: [SplitResult], verdict: String? = nil) {
        self.version = Self.currentVersion
        self.promptBlob = promptBlob
        self.model = model
        self.metric = metric
        self.splits = splits
        self.verdict = verdict
    }

    public func split(_ name: String) -> SplitResult? { splits.last { $0.split == name } }

    /// `existing` with `result` added, or a fresh note when `existing` was written for another
    /// prompt blob or other model settings (its results would not describe this prompt).
    public static func recording(
        _ result: SplitResult, in existing: EvaluationNote?, promptBlob: String, model: ModelInfo, metric: String
    ) -> EvaluationNote {
        var note = existing ?? EvaluationNote(promptBlob: promptBlob, model: model, metric: metric, splits: [])
        if note.promptBlob != promptBlob || note.model != model {
            note = EvaluationNote(promptBlob: promptBlob, model: model, metric: metric, splits: [])
        }
        note.upsert(result)
        return note
    }

    /// Adds or replaces one split's results.
    public mutating func upsert(_ result: SplitResult) {
        splits.removeAll { $0.split == result.split }
        splits.append(result)
    }

    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    static let notJSON = "evaluation note is not git-grad JSON; it may have been edited by hand"

    public static func decode(_ text: String) throws -> EvaluationNote {
        let note: EvaluationNote
        do {
            note = try JSONDecoder().decode(EvaluationNote.self, from: Data(text.utf8))
        } catch {
            throw PromptRepoError.damagedRecord(notJSON)
        }
        guard note.version <= currentVersion else {
            throw PromptRepoError.damagedRecord("evaluation note version \(note.version) is newer than this git-grad understands; upgrade git-grad")
        }
        return note
    }
}
