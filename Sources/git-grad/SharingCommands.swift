import ArgumentParser
import Foundation
import PromptRepo

/// `git grad push|pull [REMOTE]` and `git grad remote setup [REMOTE]`: the whole grad record
/// through a remote (main, grad/* branches, run and experiment manifests, labels, notes).
struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Pull, then push main, the grad/* branches, manifests, labels and notes to a remote.")
    @Argument(help: "A configured remote, or a URL or path (default: origin).") var remote = "origin"
    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let report = try Sharing(try options.open()).push(to: remote)
        SharingOutput.show(report, verb: "pushed", remote: remote)
        if report.diverged.contains(GradRefs.main) {
            throw CommandFailure(message:
                "main was not pushed: \(remote)'s main has steps this clone lacks and this clone has steps it lacks; "
                + "your run's branches, manifests and notes were pushed. Keep theirs with `git fetch \(remote) main && git reset --hard FETCH_HEAD`, "
                + "then optimize again on top of it")
        }
        if !report.diverged.isEmpty { throw CommandFailure(message: "\(report.diverged.count) reference(s) were not pushed (listed above)") }
    }
}

struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch a remote's grad record and integrate it: fast-forwards, merged notes, nothing overwritten.")
    @Argument(help: "A configured remote, or a URL or path (default: origin).") var remote = "origin"
    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let report = try Sharing(try options.open()).pull(from: remote)
        SharingOutput.show(report, verb: "pulled", remote: remote)
        if report.diverged.contains(GradRefs.main) {
            throw CommandFailure(message:
                "main and \(remote)'s main both have steps the other lacks; main stays at its verified prompt. "
                + "Keep yours and push the run's branches (`git grad push`), or optimize again on top of theirs")
        }
    }
}

struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "Set a remote up so that plain git fetch and git push carry the grad record.",
        subcommands: [Setup.self])

    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add the grad refspecs to a configured remote.")
        @Argument(help: "The remote (default: origin).") var remote = "origin"
        @OptionGroup var options: RepositoryOptions

        func run() throws {
            let added = try Sharing(try options.open()).setUp(remote: remote)
            print("\(remote): \(added) refspec(s) added; `git push \(remote)` now sends main, grad/* branches, manifests, labels and notes,")
            print("and `git fetch \(remote)` brings them (notes arrive as refs/notes/grad-remote; `git grad pull` merges them)")
        }
    }
}

enum SharingOutput {
    static func show(_ report: SyncReport, verb: String, remote: String) {
        if let moved = report.mainMoved {
            print("main: \(moved.from.short) -> \(moved.to.short) (fast-forward)"
                + (report.workingTreeUpdated ? "" : "; the working tree was not updated (HEAD is not main, or it has edits)"))
        }
        let branches = report.updated.filter { $0.hasPrefix("refs/heads/grad/") }.count
        let manifests = report.updated.filter { $0.hasPrefix("refs/grad/") }.count
        var parts = ["\(branches) grad/* branch(es)", "\(manifests) manifest(s) and label(s)"]
        if report.updated.contains(GradRefs.notes) {
            parts.append("notes" + (report.notesMerged > 0 ? " (\(report.notesMerged) merged)" : ""))
        }
        print("\(verb) \(remote): " + parts.joined(separator: ", "))
        for reference in report.diverged where reference != GradRefs.main {
            print("not moved, both sides changed it: \(reference)")
        }
    }
}
