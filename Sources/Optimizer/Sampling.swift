import Evaluation
import Foundation
import PromptRepo

/// The seeded minibatch of a step (draw 0 first, further draws when a batch has no errors).
public struct MinibatchSampler: Sendable {
    public let seed: Int
    public let batchSize: Int

    public init(seed: Int, batchSize: Int) {
        self.seed = seed
        self.batchSize = batchSize
    }

    public func batch(from train: [Example], step: Int, draw: Int) -> [Example] {
        var generator = SeededGenerator(seed, step, draw)
        return Array(train.shuffled(using: &generator).prefix(batchSize))
    }
}

/// The labels shown to the gradient step. `shuffled` is the "Flawed Metaphor" ablation: each
/// shown target is replaced by a different label (from the label set when there is one, else
/// another example's target). Verification never sees these.
public struct LabelPresenter: Sendable {
    public let mode: SearchSettings.Labels
    public let labelSet: [String]
    public let seed: Int

    public init(mode: SearchSettings.Labels, labelSet: [String], seed: Int) {
        self.mode = mode
        self.labelSet = labelSet
        self.seed = seed
    }

    /// The target to show for each example, in order.
    public func shownTargets(for examples: [Example], step: Int) -> [String] {
        guard mode == .shuffled else { return examples.map(\.target) }
        var generator = SeededGenerator(seed, step, 0x1abe1)
        let pool = labelSet.isEmpty ? Array(Set(examples.map(\.target))).sorted() : labelSet
        return examples.map { example in
            let others = pool.filter { $0 != example.target }
            return others.randomElement(using: &generator) ?? example.target
        }
    }
}
