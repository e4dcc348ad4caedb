import Evaluation
import Foundation
import PromptRepo

/// The prompts the optimizer sends to the optimizer model. Defaults ship in the binary; a
/// repository overrides one by naming a file under `[meta_prompts]` in grad.toml. Placeholders:
/// `{{prompt}}`, `{{examples}}`, `{{feedback}}`, `{{critiques}}`, `{{labels}}`, `{{output}}`,
/// `{{expected}}`, `{{input}}`.
public struct MetaPrompts: Sendable, Equatable {
    public var gradient: String
    public var critique: String
    public var gradientFromCritiques: String
    public var propose: String
    public var rewrite: String
    /// For the `rules` operator: one-line rules from the errors. Placeholders: `{{examples}}`,
    /// `{{labels}}`, `{{rules}}`, `{{count}}`, `{{field}}` (the input field's name).
    public var rules: String
    /// For the `glossary` operator: one line on what one label means, from rows that have it.
    /// Placeholders: `{{label}}`, `{{examples}}`, `{{field}}`.
    public var glossary: String = MetaPrompts.defaultGlossary

    static let defaultGlossary = """
        These are {{field}}s that are correctly answered "{{label}}":
        {{examples}}

        In one short line, say what {{field}}s answered "{{label}}" are about: the topic or words
        they share, in general terms. Write only that line, starting with the topic.
        """

    public static let defaults = MetaPrompts(
        gradient: """
            You are improving a prompt for a language model. Here is the current prompt:

            <prompt>
            {{prompt}}
            </prompt>

            {{labels}}With this prompt, the model gave these answers:

            {{examples}}

            Explain what in the prompt caused these answers to be wrong and what the prompt should
            say instead. Name the concrete rules the model missed. Be brief: at most 8 bullet points.
            """,
        critique: """
            A language model was asked:

            {{input}}

            It answered: {{output}}
            The correct answer is: {{expected}}

            In one or two sentences, say what is wrong with the answer and what reasoning or rule
            would have led to the correct answer.
            """,
        gradientFromCritiques: """
            You are improving a prompt for a language model. Here is the current prompt:

            <prompt>
            {{prompt}}
            </prompt>

            {{labels}}Critiques of the model's wrong answers:

            {{critiques}}

            How must the prompt change so the model gets these right? Name the concrete rules the
            prompt should state. Be brief: at most 8 bullet points.
            """,
        propose: """
            Rewrite the prompt below so that it fixes the problems in the feedback. Keep every
            placeholder in double braces (such as {{placeholders}}) exactly as it is. Keep what works.
            State the rules the model needs; you may add a few short worked examples.

            <prompt>
            {{prompt}}
            </prompt>

            Examples the prompt got wrong, with the correct answers:
            {{examples}}

            Feedback:
            {{feedback}}

            Reply in exactly this format:
            <summary>one line saying what you changed</summary>
            <prompt>
            the complete new prompt
            </prompt>
            """,
        rewrite: """
            Rewrite the prompt below to make it clearer and more likely to produce correct answers.
            Keep every placeholder in double braces (such as {{placeholders}}) exactly as it is.

            <prompt>
            {{prompt}}
            </prompt>

            Reply in exactly this format:
            <summary>one line saying what you changed</summary>
            <prompt>
            the complete new prompt
            </prompt>
            """,
        rules: """
            A classifier got these examples wrong.
            {{labels}}
            {{examples}}

            Rules it already follows:
            {{rules}}

            Write at most {{count}} new rules that would make it answer these examples correctly. Each
            rule is one line in the form "If the {{field}} ..., answer <answer>." Name the concrete
            topic or words that decide the answer, in general terms, not one example. Do not repeat
            a rule above. Write only the rules, one per line.
            """)

    /// The defaults with any file overrides from grad.toml read from `root`.
    public static func load(config: GradConfig, root: URL) throws -> MetaPrompts {
        var prompts = defaults
        for (role, path) in config.metaPrompts {
            guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(path).path) else {
                throw PromptRepoError.missingFile(path: path, role: "meta_prompts.\(role)")
            }
            let text = String(decoding: data, as: UTF8.self)
            switch role {
            case "gradient": prompts.gradient = text
            case "critique": prompts.critique = text
            case "propose": prompts.propose = text
            case "rewrite": prompts.rewrite = text
            case "rules": prompts.rules = text
            case "glossary": prompts.glossary = text
            default: break
            }
        }
        return prompts
    }

    /// Fills `{{name}}` slots of a meta-prompt. Values are inserted once, never re-scanned, so a
    /// prompt that itself contains `{{message}}` passes through intact.
    static func fill(_ template: String, _ values: [String: String]) -> String { PromptTemplate.substitute(template, values) }
}
