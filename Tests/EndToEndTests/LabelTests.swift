import Foundation
import Testing

@Suite("git-grad label")
struct LabelTests {
    /// Two prompt versions on main: the seed and a hand edit.
    func twoVersions(_ repo: URL) throws -> (seed: String, edit: String) {
        let seed = try git("rev-parse", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
        try writeFile(try readFile("prompts/router.md", in: repo) + "\nBe brief.\n", "prompts/router.md", in: repo)
        try commitAll(repo, "Ask for brevity")
        return (seed, try git("rev-parse", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("set, move, list, show and log: who moved it, from what, to what and why; label names resolve in show and diff")
    func setMoveAndReadBack() throws {
        try withSampleRepository { repo in
            let (seed, edit) = try twoVersions(repo)
            try git("config", "user.name", "Alice Ops", in: repo)
            try git("config", "user.email", "alice@example.com", in: repo)
            #expect(try grad("label", "set", "production", seed, "-m", "first release", in: repo)
                .contains("label production: none -> \(seed.prefix(7))"))
            #expect(try grad("label", "set", "production", "main", "-m", "brevity wins", in: repo)
                .contains("label production: \(seed.prefix(7)) -> \(edit.prefix(7))"))
            #expect(try grad("label", "set", "production", "main", in: repo).contains("already points at"))

            // The ref and its history, read back with the real git CLI.
            #expect(try git("rev-parse", "refs/grad/labels/production^2", in: repo).hasPrefix(edit))
            let trailers = try git("log", "--first-parent", "--format=%(trailers:key=Label-Target,valueonly)", "refs/grad/labels/production", in: repo)
            #expect(lines(trailers) == [edit, seed])
            #expect(try git("log", "-1", "--format=%an <%ae>%n%b", "refs/grad/labels/production", in: repo).contains("Alice Ops <alice@example.com>\nbrevity wins"))

            #expect(try grad("label", "list", in: repo).contains("production  \(edit.prefix(7))  Ask for brevity"))
            let show = try grad("label", "show", "production", in: repo)
            #expect(show.contains("moved by Alice Ops <alice@example.com>"))
            #expect(show.contains("why: brevity wins"))
            let log = lines(try grad("label", "log", "production", in: repo))
            #expect(log.count == 2)
            #expect(log[0].contains("\(seed.prefix(7)) -> \(edit.prefix(7))") && log[0].contains("brevity wins"))
            #expect(log[1].contains("none -> \(seed.prefix(7))") && log[1].contains("first release"))

            // A label is a revision wherever one is taken.
            #expect(try grad("show", "label:production", in: repo).contains("commit \(edit)"))
            #expect(try grad("show", "production", in: repo).contains("commit \(edit)"))
            #expect(try grad("diff", seed, "production", in: repo).contains("Be brief."))
            #expect(try runGit(["fsck", "--full"], in: repo).status == 0)
        }
    }

    @Test("a stale move is refused (compare-and-swap) and changes nothing; rm keeps the history")
    func staleMoveIsRefused() throws {
        try withSampleRepository { repo in
            let (seed, edit) = try twoVersions(repo)
            try grad("label", "set", "production", seed, in: repo)
            // Someone else moved it to the edit; a deploy script that still expects the seed loses.
            try grad("label", "set", "production", edit, "--expect", seed, in: repo)
            let before = try repositoryState(repo)
            let stale = try runGrad(["label", "set", "production", seed, "--expect", seed], in: repo)
            #expect(stale.status != 0)
            #expect(stale.stderr.contains("label production points at \(edit.prefix(7)), not \(seed.prefix(7)) as expected; nothing changed"))
            #expect(lines(stale.stderr).count == 1)
            #expect(try repositoryState(repo) == before)
            #expect(try runGrad(["label", "set", "staging", seed, "--expect", seed], in: repo).status != 0)
            try grad("label", "set", "staging", seed, "--expect", "none", in: repo)

            #expect(try grad("label", "rm", "production", "-m", "rolled back", in: repo).contains("label production removed (was \(edit.prefix(7)))"))
            #expect(!(try grad("label", "list", in: repo)).contains("production"))
            #expect(try runGrad(["show", "label:production"], in: repo).stderr.contains("no label 'production'"))
            #expect(lines(try grad("label", "log", "production", in: repo)).count == 3)
            let bad = try runGrad(["label", "set", "no/slash", seed], in: repo)
            #expect(bad.status != 0 && bad.stderr.contains("label 'no/slash' must be letters, digits"))
        }
    }

    @Test("a label's history travels with push and clone")
    func historyAfterClone() throws {
        try withSampleRepository { repo in
            let (seed, edit) = try twoVersions(repo)
            try grad("label", "set", "production", seed, "-m", "v1", in: repo)
            try grad("label", "set", "production", edit, "-m", "v2", in: repo)
            let parent = repo.deletingLastPathComponent()
            try git("init", "-q", "--bare", "remote.git", in: parent)
            try git("push", "-q", parent.appendingPathComponent("remote.git").path, "main", "refs/grad/labels/*:refs/grad/labels/*", in: repo)
            try git("clone", "-q", "remote.git", "clone", in: parent)
            let clone = parent.appendingPathComponent("clone")
            try git("fetch", "-q", "origin", "refs/grad/labels/*:refs/grad/labels/*", in: clone)
            let log = lines(try grad("label", "log", "production", in: clone))
            #expect(log.count == 2)
            #expect(log[0].contains("v2") && log[1].contains("v1"))
            #expect(try grad("show", "production", in: clone).contains("commit \(edit)"))
        }
    }
}

@Suite("git-grad completion")
struct CompletionTests {
    @Test("bash completion completes git-grad and git grad subcommands", arguments: ["git-grad", "git grad"])
    func bashCompletes(typed: String) throws {
        try withTemporaryDirectory { temp in
            try writeFile(try grad("completion", "bash", in: temp), "completion.bash", in: temp)
            let words = typed.split(separator: " ").map { "\"\($0)\"" }.joined(separator: " ")
            let function = typed == "git-grad" ? "_git-grad git-grad la git-grad" : "_git_grad"
            let script = """
                source completion.bash
                COMP_WORDS=(\(words) la); COMP_CWORD=\(typed.split(separator: " ").count)
                COMP_LINE="\(typed) la"; COMP_POINT=${#COMP_LINE}
                \(function)
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let result = try runProcess("/bin/bash", ["-c", script], in: temp)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(lines(result.stdout).contains("label"), "\(result.stdout) \(result.stderr)")
        }
    }

    @Test("zsh and fish scripts name the subcommands")
    func otherShells() throws {
        try withTemporaryDirectory { temp in
            for shell in ["zsh", "fish"] {
                let script = try grad("completion", shell, in: temp)
                #expect(script.contains("optimize") && script.contains("label"), "\(shell)")
            }
            let bad = try runGrad(["completion", "tcsh"], in: temp)
            #expect(bad.status != 0)
        }
    }
}
