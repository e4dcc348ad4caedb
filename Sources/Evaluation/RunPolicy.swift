import Foundation
import LLM
import PromptRepo

extension ModelRuntime {
    /// Where the response cache lives: `.git/grad/`, beside the record it serves and never in the
    /// working tree, so it is neither committed nor pushed.
    public static func cacheDirectory(gitDirectory: URL) -> URL { gitDirectory.appendingPathComponent("grad") }
}

extension CallBudget {
    /// A run's budget: grad.toml's `[search]` limits, with a command-line call limit taking
    /// precedence over `max_calls`.
    public init(search: SearchSettings, maxCalls override: Int?) {
        self.init(maxCalls: override ?? search.maxCalls, maxTokens: search.maxTokens, maxCost: search.maxCost)
    }
}
