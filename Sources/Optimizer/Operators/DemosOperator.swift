import Evaluation
import Foundation
import PromptRepo

/// `demos`: no model call. Worked examples from train placed as few-shot turns: the step's wrong
/// answers first, then class-balanced rows, seeded, capped in count and in tokens. Holdout and test
/// rows never become demos. The task instruction is stated once, in the system message
/// (`PromptFile.withInstructionOnce`); a worked example's user turn is the rest of the template
/// filled with the row, its assistant turn the answer. For a task without a label set (a number,
/// an exact string, a judged text) the rows the model got right are shown with its own answers
/// (bootstrapped, as DSPy's BootstrapFewShot does): they teach the answer's form as well as its value.
public struct DemosOperator: CandidateOperator {
    public let name = SearchSettings.Operator.demos

    public init() {}

    public func propose(_ input: OperatorInput) async throws -> ProposedCandidate? {
        guard let read = try? PromptFile.read(input.current, path: input.promptPath), read.canBecomeChat else { return nil }
        let file = read.withInstructionOnce()
        let template = PromptTemplate(text: file.template, path: input.promptPath)
        let pool = input.train.filter { row in
            !input.excludedIDs.contains(row.id) && !input.excludedInputs.contains(Self.inputKey(row, fields: input.inputFields))
        }
        guard !pool.isEmpty else { return nil }
        func demo(_ row: Example, answer: String) -> PromptFile.Demo? {
            guard let user = try? template.render(row, allowedFields: input.inputFields) else { return nil }
            return PromptFile.Demo(user: PromptFile.literal(user), assistant: PromptFile.literal(answer))
        }
        // The answer shown for a row: the presented label for the step's selected rows (so the
        // wrong-label ablation reaches demos too), the true one otherwise.
        var shown: [String: String] = [:]
        for (outcome, target) in zip(input.selected, input.shownTargets) { shown[outcome.example.id] = target }
        let ownAnswers = input.labels.isEmpty ? Self.bootstrapped(input.batch + input.trainOutcomes) : [:]
        let poolByID = Dictionary(pool.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        // After the holdout refused a larger set in this run, about half as many rows.
        let limit = min(input.search.maxDemos, input.rejected.demoLimit ?? .max)
        var picker = DemoPicker(maxDemos: limit, budget: input.search.demoTokens)
        let shownDemo = { (row: Example) in demo(row, answer: shown[row.id] ?? ownAnswers[row.id] ?? row.target) }
        // 1. The step's errors: the rows the current prompt gets wrong teach the most. A prompt that
        //    already has worked examples keeps most of them: only a few are swapped per step.
        var idByDemo: [String: String] = [:]
        var everyRowTokens = 0
        for row in pool {
            guard let item = demo(row, answer: row.target) else { continue }
            idByDemo[item.user] = row.id
            everyRowTokens += Self.tokens(item)
        }
        let existingIDs = Set(file.demos.compactMap { idByDemo[$0.user] })
        let swaps = file.demos.isEmpty ? max(1, limit / 2) : max(1, limit / 4)
        var errorGenerator = input.generator(0xe44)
        let errors = Array(input.selected.filter { !$0.correct }.compactMap { poolByID[$0.example.id] }
            .filter { !existingIDs.contains($0.id) }.shuffled(using: &errorGenerator).prefix(swaps))
        for row in errors { if let item = shownDemo(row) { picker.take(row.id, row.target, item) } }
        // 2. The worked examples the prompt already has (a row's id when it is one of train's), newest first.
        var keptIDs: Set<String> = []
        for (index, existing) in file.demos.enumerated().reversed() {
            let id = idByDemo[existing.user] ?? "demo-\(index + 1)"
            keptIDs.insert(id)
            picker.take(id, existing.assistant, existing)
        }
        // 3. Without a label set: rows the model answered right, with its own answers.
        var generator = input.generator(0xde705)
        let shuffled = pool.shuffled(using: &generator)
        for row in shuffled where ownAnswers[row.id] != nil { if let item = shownDemo(row) { picker.take(row.id, row.target, item) } }
        // 4. The classes the prompt confuses on this step's minibatch (each wrong answer's expected
        //    and given class) get up to half the slots left, so the model sees them side by side.
        //    Then class balance: rows of the classes least represented so far, seeded.
        let classes = input.labels.isEmpty ? Array(Set(pool.map(\.target))).sorted() : input.labels
        //    Only where the caps leave a choice: when every row fits, the set (and its order) is as before.
        let everyRowFits = pool.count <= limit && everyRowTokens <= input.search.demoTokens
        let confused = everyRowFits ? [] : Self.confusedClasses(input.batch, classes: classes)
        picker.takeConfused(confused.map(\.label), rows: shuffled, demo: shownDemo)
        picker.balance(classes: classes, rows: shuffled, demo: shownDemo)
        let chosen = picker.chosen
        guard !chosen.isEmpty else { return nil }
        // Interleave classes in a seeded order, so the last worked example is not always the same answer.
        let ordered = Self.interleaved(chosen.shuffled(using: &generator))
        let text = file.withDemos(ordered.map(\.demo)).render().withoutControlCharacters
        // The same worked examples as a rejected candidate of this run: nothing new to try.
        guard text != input.current, !input.rejected.rejects(demoIDs: ordered.map(\.id)) else { return nil }
        return proposal(
            text, demos: ordered, errors: errors, keptIDs: keptIDs, ownAnswers: ownAnswers, confused: confused, movedInstruction: file != read,
            input: input)
    }

    /// The classes the prompt confuses: for each wrong answer on the minibatch, its expected class
    /// and the class it gave (when that is one of `classes`), most often confused first; ties in
    /// `classes`' order. A class appears once, with how many wrong answers it took part in.
    static func confusedClasses(_ batch: [ExampleOutcome], classes: [String]) -> [(label: String, count: Int)] {
        let canonical = Dictionary(classes.map { ($0.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        var counts: [String: Int] = [:]
        for outcome in batch where !outcome.correct {
            let expected = canonical[outcome.example.target.trimmingCharacters(in: .whitespaces).lowercased()]
            let given = canonical[outcome.score.extracted.trimmingCharacters(in: .whitespaces).lowercased()]
            for label in Set([expected, given].compactMap { $0 }) { counts[label, default: 0] += 1 }
        }
        let ranked: [(label: String, count: Int)] = classes.compactMap { label in counts[label].map { (label, $0) } }
        let order = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return ranked.sorted { a, b in a.count != b.count ? a.count > b.count : order[a.label, default: 0] < order[b.label, default: 0] }
    }

    /// The model's own answers to the train rows it got right, by row id: one line each, short
    /// enough to be a worked example's answer.
    static func bootstrapped(_ outcomes: [ExampleOutcome]) -> [String: String] {
        var answers: [String: String] = [:]
        for outcome in outcomes where outcome.correct {
            let answer = PromptFile.trimBlankLines(outcome.output.withoutControlCharacters)
            guard !answer.isEmpty, answer.count <= 600 else { continue }
            answers[outcome.example.id] = answer
        }
        return answers
    }

    /// The candidate with its summary, its feedback (why these worked examples) and the `Demos:` ids.
    private func proposal(
        _ text: String, demos: [(id: String, label: String, demo: PromptFile.Demo)], errors: [Example], keptIDs: Set<String>,
        ownAnswers: [String: String], confused: [(label: String, count: Int)], movedInstruction: Bool, input: OperatorInput
    ) -> ProposedCandidate {
        let ids = demos.map(\.id)
        let fromErrors = errors.filter { ids.contains($0.id) }.count
        let added = ids.filter { !keptIDs.contains($0) }
        let own = ids.filter { ownAnswers[$0] != nil && !errors.map(\.id).contains($0) }.count
        // With many worked examples every train row may be shown already: then the candidate is
        // another order of the same rows, which alone moved the sample's holdout by +10/-2.
        let summary = added.isEmpty && ids.count == keptIDs.count
            ? "Worked examples: the same \(ids.count) from train in another order"
            : "Worked examples: \(ids.count) from train, \(added.count) new (\(fromErrors) from this step's errors)"
                + (own > 0 ? ", \(own) with the model's own answers" : "")
        var feedback = """
            The prompt got \(input.selected.filter { !$0.correct }.count) of \(input.batch.count) minibatch rows wrong. \
            Worked examples show the model the expected answers directly: \(fromErrors) of the rows it got wrong, \
            then \(input.labels.isEmpty ? "rows it answered right, in its own words (\(own))" : "rows of under-represented classes (\(Self.classCounts(demos.map(\.label))))").
            """
        if !confused.isEmpty {
            // Label names come from grad.toml; a task without a label set names dataset text, so only counts.
            let named = input.labels.isEmpty
                ? "\(confused.count) answer\(confused.count == 1 ? "" : "s") it mixes up"
                : confused.map { "\($0.label) \($0.count)" }.joined(separator: ", ")
            feedback += "\nRows of the classes the prompt confused on the minibatch come first (\(named)): they take up to half the places left after the errors."
        }
        if let limit = input.rejected.demoLimit, let refused = input.rejected.refusedDemoGrowth.min() {
            feedback += "\nThe holdout refused a set of \(refused) worked examples in this run; this one shows at most \(limit)."
        }
        if movedInstruction {
            feedback += "\nThe task instruction is stated once, in the system message, instead of in every worked example."
        }
        return ProposedCandidate(
            variant: input.variant, operatorName: name, summary: summary, text: text, feedback: feedback,
            trailers: [Trailer(key: TrailerKey.demos, value: ids.joined(separator: " "))])
    }

    /// The worked examples chosen so far, within the count and token caps.
    struct DemoPicker {
        let maxDemos: Int
        var budget: Int
        var chosen: [(id: String, label: String, demo: PromptFile.Demo)] = []

        init(maxDemos: Int, budget: Int) {
            self.maxDemos = maxDemos
            self.budget = budget
        }

        mutating func take(_ id: String, _ label: String, _ item: PromptFile.Demo) {
            let tokens = DemosOperator.tokens(item)
            guard chosen.count < maxDemos, !chosen.contains(where: { $0.id == id }), tokens <= budget else { return }
            budget -= tokens
            chosen.append((id, label, item))
        }

        /// Adds rows of the confused classes, one class after another in the given order, until half
        /// of the places left are taken (at least one row) or none of their rows fits.
        mutating func takeConfused(_ classes: [String], rows: [Example], demo: (Example) -> PromptFile.Demo?) {
            guard !classes.isEmpty, chosen.count < maxDemos else { return }
            let quota = chosen.count + max(1, (maxDemos - chosen.count) / 2)
            var queues = classes.map { label in rows.filter { $0.target.lowercased() == label.lowercased() } }
            var progress = true
            while chosen.count < quota && progress {
                progress = false
                for index in queues.indices where chosen.count < quota {
                    while let row = queues[index].first {
                        queues[index].removeFirst()
                        let before = chosen.count
                        if let item = demo(row) { take(row.id, row.target, item) }
                        if chosen.count > before { progress = true; break }
                    }
                }
            }
        }

        /// Adds rows of the classes least represented so far (in `rows`' order) until full or
        /// no class has a row left that fits.
        mutating func balance(classes: [String], rows: [Example], demo: (Example) -> PromptFile.Demo?) {
            var progress = true
            while chosen.count < maxDemos && progress {
                progress = false
                let counts = Dictionary(chosen.map { ($0.label.lowercased(), 1) }, uniquingKeysWith: +)
                let neediest = classes.sorted { (counts[$0.lowercased()] ?? 0) < (counts[$1.lowercased()] ?? 0) }
                let taken = Set(chosen.map(\.id))
                for label in neediest {
                    let candidates = rows.filter { $0.target.lowercased() == label.lowercased() && !taken.contains($0.id) }
                    let before = chosen.count
                    for row in candidates where chosen.count == before {
                        if let item = demo(row) { take(row.id, row.target, item) }
                    }
                    if chosen.count > before { progress = true; break }
                }
            }
        }
    }

    /// Roughly four characters a token: enough to cap the prompt's growth.
    static func tokens(_ demo: PromptFile.Demo) -> Int { (demo.user.count + demo.assistant.count) / 4 + 8 }

    static func inputKey(_ row: Example, fields: [String]) -> String {
        fields.map { (row.fields[$0] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }.joined(separator: "\u{1F}")
    }

    static func classCounts(_ labels: [String]) -> String {
        let counts = Dictionary(labels.map { ($0, 1) }, uniquingKeysWith: +)
        return counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", ")
    }

    /// Reorders so that neighbours differ in answer where possible (round-robin over answers).
    static func interleaved<T>(_ items: [(id: String, label: String, demo: T)]) -> [(id: String, label: String, demo: T)] {
        var queues: [String: [(id: String, label: String, demo: T)]] = [:]
        var order: [String] = []
        for item in items {
            if queues[item.label] == nil { order.append(item.label) }
            queues[item.label, default: []].append(item)
        }
        var result: [(id: String, label: String, demo: T)] = []
        while result.count < items.count {
            for label in order where !(queues[label]?.isEmpty ?? true) {
                result.append(queues[label]!.removeFirst())
            }
        }
        return result
    }
}
