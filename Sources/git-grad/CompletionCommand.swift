import ArgumentParser

/// `git grad completion bash|zsh|fish`: the shell completion script, generated from the commands
/// themselves so it never falls behind them.
struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script (bash: source <(git grad completion bash)).")

    enum Shell: String, ExpressibleByArgument, CaseIterable {
        case bash, zsh, fish
    }

    @Argument(help: "bash, zsh or fish.")
    var shell: Shell

    func run() throws {
        let kind: CompletionShell = switch shell {
        case .bash: .bash
        case .zsh: .zsh
        case .fish: .fish
        }
        print(GitGrad.completionScript(for: kind))
        if shell == .bash { print(Self.gitSubcommandShim) }
    }

    /// git's own bash completion completes `git grad …` by calling `_git_grad`; hand it the words
    /// after `grad`, as if `git-grad` had been typed.
    static let gitSubcommandShim = """

        # `git grad …`: git's completion calls _git_grad.
        _git_grad() {
            local -i start=$(( ${__git_cmd_idx:-1} + 1 ))
            local -a COMP_WORDS=("git-grad" "${COMP_WORDS[@]:start}")
            local -i COMP_CWORD=$(( COMP_CWORD - start + 1 ))
            _git-grad git-grad "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        }
        """
}
