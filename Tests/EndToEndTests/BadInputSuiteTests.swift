import FakeLLMServer
import Foundation
import Testing

/// Model servers the bad-input cases point at, started once for the whole suite.
final class BadInputServers: Sendable {
    static let shared = BadInputServers()

    let healthy = OptimizeCommandTests.server()
    let dead = FakeLLMServer(threads: 2) { _ in .status(500, retryAfter: "0") }
    let unauthorized = FakeLLMServer(threads: 1) { _ in .status(401) }
    let missingModel = FakeLLMServer(threads: 1) { _ in .status(404) }
    /// A port nothing listens on.
    let refused = "http://127.0.0.1:9/v1"

    private init() {
        for server in [healthy, dead, unauthorized, missingModel] { try! server.start() }
    }
}

/// One bad input: how to set the repository up, the command, and what the one-line error must name.
struct BadInput: Sendable, CustomStringConvertible {
    enum Limit: Sendable { case none, fileSize, readOnlyGit }

    let name: String
    let fragment: String
    var prepare: @Sendable (URL) throws -> Void = { _ in }
    let arguments: @Sendable (BadInputServers) -> [String]
    var environment: [String: String] = [:]
    var limit = Limit.none

    var description: String { name }
}

// MARK: - Setting the repository up

/// Replaces text in a file, failing when the text is not there (so a case cannot silently test nothing).
func replace(_ old: String, with new: String, in path: String, at repo: URL) throws {
    let text = try readFile(path, in: repo)
    try #require(text.contains(old), "\(path) has no '\(old)'")
    try writeFile(text.replacingOccurrences(of: old, with: new), path, in: repo)
}

/// A grad.toml edit, committed (optimize, eval, show and diff read grad.toml from a commit).
func config(_ old: String, _ new: String) -> @Sendable (URL) throws -> Void {
    { repo in
        try replace(old, with: new, in: "grad.toml", at: repo)
        try commitAll(repo)
    }
}

/// A file written and committed.
func committed(_ path: String, _ text: String) -> @Sendable (URL) throws -> Void {
    { repo in
        try writeFile(text, path, in: repo)
        try commitAll(repo)
    }
}

/// A second commit on main, so there is a step to revert.
@Sendable func secondCommit(_ repo: URL) throws {
    try writeFile("Route it: {{message}}\nQueue:\n", "prompts/router.md", in: repo)
    try commitAll(repo, "Second prompt")
}

/// A short id shared by two objects: writes small blobs until two ids share their first four digits.
func ambiguousPrefix(_ repo: URL) throws -> String {
    let scratch = try TemporaryDirectory(prefix: "blobs")
    var paths: [String] = []
    for index in 0..<1500 {
        let url = scratch.url.appendingPathComponent("b\(index)")
        try Data("blob \(index)\n".utf8).write(to: url)
        paths.append(url.path)
    }
    let ids = lines(try git(["hash-object", "-w", "--stdin-paths"], in: repo, stdin: paths.joined(separator: "\n") + "\n"))
    var seen: Set<String> = []
    for id in ids {
        let prefix = String(id.prefix(4))
        if seen.contains(prefix) { return prefix }
        seen.insert(prefix)
    }
    throw ProcessFailure(command: "ambiguousPrefix", result: ProcessResult(status: 1, stdout: "", stderr: "no shared prefix"))
}

/// Where revision cases write the id they need.
func revisionFile(_ repo: URL) -> URL { repo.appendingPathComponent(".git/test-revision") }

// MARK: - The cases

let badInputs: [BadInput] = [
    // grad.toml
    BadInput(name: "grad.toml syntax error", fragment: "grad.toml:", prepare: { try replace("steps = 3", with: "steps = = 3", in: "grad.toml", at: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "unknown key", fragment: "search.stepz", prepare: { try replace("[search]\n", with: "[search]\nstepz = 4\n", in: "grad.toml", at: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "unknown table", fragment: "surprise", prepare: { try replace("[search]\n", with: "[surprise]\nx = 1\n[search]\n", in: "grad.toml", at: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "lambda = nan", fragment: "search.lambda", prepare: config("lambda = 1.0", "lambda = nan"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "lambda = inf", fragment: "search.lambda", prepare: config("lambda = 1.0", "lambda = inf"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "negative lambda", fragment: "search.lambda", prepare: config("lambda = 1.0", "lambda = -1.0"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "lambda as a string", fragment: "search.lambda", prepare: config("lambda = 1.0", "lambda = \"one\""),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "temperature out of range", fragment: "model.temperature", prepare: config("temperature = 0.0", "temperature = 5.0"),
             arguments: { ["eval"] + fakeModel($0.healthy) }),
    BadInput(name: "base_url not a URL", fragment: "model.base_url", prepare: config("max_tokens = 24", "max_tokens = 24\nbase_url = \"not a url\""),
             arguments: { _ in ["eval"] }),
    BadInput(name: "timeout_seconds = 0", fragment: "model.timeout_seconds", prepare: config("max_tokens = 24", "max_tokens = 24\ntimeout_seconds = 0"),
             arguments: { ["eval"] + fakeModel($0.healthy) }),
    BadInput(name: "timeout_seconds = nan", fragment: "model.timeout_seconds", prepare: config("max_tokens = 24", "max_tokens = 24\ntimeout_seconds = nan"),
             arguments: { ["eval"] + fakeModel($0.healthy) }),
    BadInput(name: "steps = 0", fragment: "search.steps", prepare: config("steps = 3", "steps = 0"), arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "variants as a string", fragment: "search.variants", prepare: config("variants = 2", "variants = \"three\""),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "unknown operator", fragment: "search.operators", prepare: config("variants = 2", "variants = 2\noperators = [\"bogus\"]"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "unknown selection", fragment: "search.selection", prepare: config("selection = \"validated\"", "selection = \"greedy\""),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "collapse_share out of range", fragment: "search.collapse_share", prepare: config("variants = 2", "variants = 2\ncollapse_share = 0.1"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "unknown metric kind", fragment: "metric.kind", prepare: config("kind = \"choice\"", "kind = \"vibes\""),
             arguments: { ["eval"] + fakeModel($0.healthy) }),
    BadInput(name: "an API key pasted as api_key_env", fragment: "model.api_key_env",
             prepare: config("max_tokens = 24", "max_tokens = 24\napi_key_env = \"sk-live-1234567890abcdef\""), arguments: { _ in ["eval"] }),
    BadInput(name: "prompt file missing", fragment: "prompts/nowhere.md", prepare: config("prompts/router.md", "prompts/nowhere.md"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    // Datasets
    BadInput(name: "dataset line not JSON", fragment: "data/train.jsonl:2:", prepare: committed("data/train.jsonl", "{\"id\": \"a\", \"message\": \"hi\", \"label\": \"desk\"}\nnot json\n"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "dataset row without its label", fragment: "data/holdout.jsonl:1:", prepare: committed("data/holdout.jsonl", "{\"id\": \"a\", \"message\": \"hi\"}\n"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "dataset with duplicate ids", fragment: "duplicate id 'a'",
             prepare: committed("data/train.jsonl", "{\"id\": \"a\", \"message\": \"hi\", \"label\": \"desk\"}\n{\"id\": \"a\", \"message\": \"yo\", \"label\": \"desk\"}\n"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "empty dataset", fragment: "data/test.jsonl", prepare: committed("data/test.jsonl", "\n"), arguments: { ["eval", "--split", "test"] + fakeModel($0.healthy) }),
    BadInput(name: "dataset not UTF-8", fragment: "data/train.jsonl:1:", prepare: { repo in
        try Data([0x7B, 0xFF, 0xFE, 0x7D, 0x0A]).write(to: repo.appendingPathComponent("data/train.jsonl"))
        try commitAll(repo)
    }, arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "dataset row not an object", fragment: "data/train.jsonl:1:", prepare: committed("data/train.jsonl", "[1, 2]\n"),
             arguments: { _ in ["check"] }),
    // Templates
    BadInput(name: "template with an unclosed placeholder (check)", fragment: "prompts/router.md", prepare: { try writeFile("Route {{message\nQueue:\n", "prompts/router.md", in: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "template with an unclosed placeholder (optimize)", fragment: "prompts/router.md", prepare: committed("prompts/router.md", "Route {{message\nQueue:\n"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "template without a placeholder (check)", fragment: "prompts/router.md", prepare: { try writeFile("Route it.\nQueue:\n", "prompts/router.md", in: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "template without a placeholder (optimize)", fragment: "prompts/router.md", prepare: committed("prompts/router.md", "Route it.\nQueue:\n"),
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    BadInput(name: "template without a placeholder (eval)", fragment: "prompts/router.md", prepare: committed("prompts/router.md", "Route it.\nQueue:\n"),
             arguments: { ["eval"] + fakeModel($0.healthy) }),
    BadInput(name: "template with a misspelt placeholder", fragment: "{{mesage}}", prepare: { try writeFile("Route {{mesage}}\n", "prompts/router.md", in: $0) },
             arguments: { _ in ["check"] }),
    BadInput(name: "template that uses the label", fragment: "{{label}}", prepare: { try writeFile("Route {{message}} {{label}}\n", "prompts/router.md", in: $0) },
             arguments: { _ in ["check"] }),
    // Flags
    BadInput(name: "--base-url not a URL (optimize)", fragment: "--base-url 'not-a-url'", arguments: { _ in ["optimize", "--provider", "local", "--base-url", "not-a-url"] }),
    BadInput(name: "--base-url not a URL (eval)", fragment: "--base-url 'ftp://x'", arguments: { _ in ["eval", "--base-url", "ftp://x"] }),
    BadInput(name: "--timeout 0", fragment: "--timeout", arguments: { ["eval", "--timeout", "0"] + fakeModel($0.healthy) }),
    BadInput(name: "--timeout nan", fragment: "--timeout", arguments: { ["optimize", "--timeout", "nan"] + fakeModel($0.healthy) }),
    BadInput(name: "--lambda nan", fragment: "--lambda", arguments: { ["optimize", "--lambda", "nan"] + fakeModel($0.healthy) }),
    BadInput(name: "--steps 0", fragment: "--steps", arguments: { ["optimize", "--steps", "0"] + fakeModel($0.healthy) }),
    BadInput(name: "--variants -1", fragment: "--variants", arguments: { ["optimize", "--variants=-1"] + fakeModel($0.healthy) }),
    BadInput(name: "--operators bogus", fragment: "--operators", arguments: { ["optimize", "--operators", "rules,bogus"] + fakeModel($0.healthy) }),
    BadInput(name: "--split nonsense", fragment: "--split", arguments: { ["eval", "--split", "nonsense"] + fakeModel($0.healthy) }),
    BadInput(name: "--provider bogus", fragment: "--provider", arguments: { _ in ["eval", "--provider", "bogus"] }),
    BadInput(name: "--max-calls 0", fragment: "--max-calls", arguments: { ["optimize", "--max-calls", "0"] + fakeModel($0.healthy) }),
    BadInput(name: "a run id with spaces", fragment: "run id 'bad id'", arguments: { ["optimize", "--run", "bad id"] + fakeModel($0.healthy) }),
    BadInput(name: "an unknown subcommand", fragment: "git-grad --help", arguments: { _ in ["optimise"] }),
    // Revisions
    BadInput(name: "unknown revision", fragment: "unknown revision 'no-such-rev'", arguments: { _ in ["show", "no-such-rev"] }),
    BadInput(name: "ambiguous short id", fragment: "is ambiguous", prepare: { repo in
        try Data(try ambiguousPrefix(repo).utf8).write(to: revisionFile(repo))
    }, arguments: { _ in ["show", "@revision"] }),
    BadInput(name: "a tree id (show)", fragment: "names a tree, not a commit", prepare: { repo in
        try Data(try git("rev-parse", "main^{tree}", in: repo).trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: revisionFile(repo))
    }, arguments: { _ in ["show", "@revision"] }),
    BadInput(name: "a blob id (diff)", fragment: "names a blob, not a commit", prepare: { repo in
        try Data(try git("rev-parse", "main:prompts/router.md", in: repo).trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: revisionFile(repo))
    }, arguments: { _ in ["diff", "@revision", "main"] }),
    BadInput(name: "a blob id (log)", fragment: "names a blob, not a commit", prepare: { repo in
        try Data(try git("rev-parse", "main:grad.toml", in: repo).trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: revisionFile(repo))
    }, arguments: { _ in ["log", "@revision"] }),
    BadInput(name: "a tree id (revert)", fragment: "names a tree, not a commit", prepare: { repo in
        try Data(try git("rev-parse", "main^{tree}", in: repo).trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: revisionFile(repo))
    }, arguments: { _ in ["revert", "@revision"] }),
    BadInput(name: "a tree id (eval)", fragment: "names a tree, not a commit", prepare: { repo in
        try Data(try git("rev-parse", "main^{tree}", in: repo).trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: revisionFile(repo))
    }, arguments: { ["eval", "@revision"] + fakeModel($0.healthy) }),
    BadInput(name: "reverting the seed", fragment: "is the first commit (the seed)", arguments: { _ in ["revert", "main"] }),
    BadInput(name: "reverting a commit not on main", fragment: "is not on main", prepare: { repo in
        try git("checkout", "-q", "-b", "side", in: repo)
        try secondCommit(repo)
        try git("checkout", "-q", "main", in: repo)
    }, arguments: { _ in ["revert", "side"] }),
    BadInput(name: "revert with an edited prompt", fragment: "uncommitted edits", prepare: { repo in
        try secondCommit(repo)
        try writeFile("Edited {{message}}\n", "prompts/router.md", in: repo)
    }, arguments: { _ in ["revert", "main"] }),
    BadInput(name: "optimize with an edited prompt", fragment: "uncommitted edits", prepare: { try writeFile("Edited {{message}}\n", "prompts/router.md", in: $0) },
             arguments: { ["optimize"] + fakeModel($0.healthy) }),
    // Runs
    BadInput(name: "resume with no runs", fragment: "no unfinished run", arguments: { ["optimize", "--resume"] + fakeModel($0.healthy) }),
    BadInput(name: "resume an unknown run", fragment: "no run named nope", arguments: { ["optimize", "--resume", "--run", "nope"] + fakeModel($0.healthy) }),
    BadInput(name: "drop an unknown run", fragment: "no run named nope", arguments: { _ in ["runs", "drop", "nope"] }),
    BadInput(name: "a damaged run manifest", fragment: "manifest of run broken", prepare: { repo in
        let blob = try git(["hash-object", "-w", "--stdin"], in: repo, stdin: "not json").trimmingCharacters(in: .whitespacesAndNewlines)
        try git("update-ref", "refs/grad/runs/broken", blob, in: repo)
    }, arguments: { _ in ["runs"] }),
    BadInput(name: "a damaged evaluation note", fragment: "git notes --ref=grad remove", prepare: { repo in
        try git("notes", "--ref=grad", "add", "-f", "-m", "not json {", "main", in: repo)
    }, arguments: { _ in ["show", "main"] }),
    BadInput(name: "a damaged evaluation note (optimize)", fragment: "on commit", prepare: { repo in
        try git("notes", "--ref=grad", "add", "-f", "-m", "not json {", "main", in: repo)
    }, arguments: { ["optimize"] + fakeModel($0.healthy) }),
    // Directories
    BadInput(name: "-C a missing directory", fragment: "no such directory", arguments: { _ in ["-C", "/nonexistent/git-grad-test", "log"] }),
    BadInput(name: "init over a prompt repository", fragment: "already has a grad.toml", arguments: { _ in ["init", "."] }),
    // Model servers
    BadInput(name: "connection refused (optimize)", fragment: "connection refused", arguments: { ["optimize", "--provider", "local", "--base-url", $0.refused] }),
    BadInput(name: "connection refused (eval)", fragment: "connection refused", arguments: { ["eval", "--provider", "local", "--base-url", $0.refused] }),
    BadInput(name: "a server that fails every request", fragment: "retry budget is spent", arguments: { ["optimize", "--steps", "1"] + fakeModel($0.dead) }),
    BadInput(name: "a rejected API key", fragment: "$GIT_GRAD_TEST_KEY", prepare: config(
        "[model]                          # the task model; no provider = the embedded local model\n",
        "[model]\nprovider = \"openai\"\nname = \"m\"\napi_key_env = \"GIT_GRAD_TEST_KEY\"\n"),
        arguments: { ["eval", "--base-url", $0.unauthorized.baseURL] }, environment: ["GIT_GRAD_TEST_KEY": "sk-wrong-key-123"]),
    BadInput(name: "an API key variable that is not set", fragment: "OPENAI_API_KEY", arguments: { _ in ["eval", "--provider", "openai", "--model", "m"] },
             environment: ["OPENAI_API_KEY": ""]),
    BadInput(name: "a model the server does not have", fragment: "model 'nope' not found", arguments: {
        ["eval", "--provider", "local", "--base-url", $0.missingModel.baseURL, "--model", "nope"]
    }),
    // The library names no flag; the command line says where to fix it, also when a run stops.
    BadInput(name: "a model the server does not have, in a run", fragment: "model's name ([model] name in grad.toml, or --model)", arguments: {
        ["optimize", "--steps", "1", "--provider", "local", "--base-url", $0.missingModel.baseURL, "--model", "nope"]
    }),
    // The disk
    BadInput(name: "a full disk (the cache)", fragment: "cache.sqlite", arguments: { ["eval"] + fakeModel($0.healthy) }, limit: .fileSize),
    BadInput(name: "a full disk (the note)", fragment: "evaluation note on", arguments: { ["eval", "--no-cache"] + fakeModel($0.healthy) }, limit: .fileSize),
    BadInput(name: "a read-only .git", fragment: ".git", arguments: { ["eval", "--no-cache"] + fakeModel($0.healthy) }, limit: .readOnlyGit),
    BadInput(name: "a read-only .git (the cache)", fragment: "cache.sqlite", arguments: { ["eval"] + fakeModel($0.healthy) }, limit: .readOnlyGit),
]

/// Whether this machine can make `.git` read-only for a child process: as root (which ignores
/// file modes) through a private read-only bind mount, otherwise by file modes.
let canMakeGitReadOnly: Bool = {
    guard getuid() == 0 else { return true }
    return (try? runProcess("/usr/bin/unshare", ["-m", "true"], in: URL(fileURLWithPath: "/")).status) == 0
}()

@Suite("reliability: bad input")
struct BadInputSuiteTests {
    @Test("every bad input: exit != 0, one line naming the culprit and what to do, repository untouched",
          arguments: badInputs)
    func badInput(_ input: BadInput) throws {
        if input.limit == .readOnlyGit && !canMakeGitReadOnly { return }
        let servers = BadInputServers.shared
        try withSampleRepository { repo in
            try input.prepare(repo)
            var arguments = input.arguments(servers)
            if let index = arguments.firstIndex(of: "@revision") {
                arguments[index] = try String(contentsOf: revisionFile(repo), encoding: .utf8)
            }
            let state = try repositoryState(repo)
            let result: ProcessResult
            switch input.limit {
            case .none:
                result = try runGrad(arguments, in: repo, environment: input.environment)
            case .fileSize:
                // Every file git-grad writes fails with EFBIG, as on a full disk.
                result = try runPiped("/bin/sh", ["-c", "trap '' XFSZ; ulimit -f 0; exec \"$0\" \"$@\"", gitGradBinary] + arguments, in: repo)
            case .readOnlyGit:
                if getuid() == 0 {
                    let script = "mount --bind .git .git && mount -o remount,bind,ro .git && exec \"$0\" \"$@\""
                    result = try runPiped("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script, gitGradBinary] + arguments, in: repo)
                } else {
                    try runProcess("/bin/chmod", ["-R", "a-w", ".git"], in: repo)
                    defer { _ = try? runProcess("/bin/chmod", ["-R", "u+w", ".git"], in: repo) }
                    result = try runGrad(arguments, in: repo)
                }
            }
            #expect(result.status != 0, "\(input.name): exit 0")
            #expect(lines(result.stderr).count == 1, "\(input.name): \(result.stderr)")
            #expect(result.stderr.hasPrefix("git-grad: error: "), "\(input.name): \(result.stderr)")
            #expect(result.stderr.contains(input.fragment), "\(input.name): '\(input.fragment)' not in \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(input.name): stdout \(result.stdout)")
            #expect(!result.stderr.contains("sk-"), "\(input.name): a key in the error")
            #expect(try repositoryState(repo) == state, "\(input.name): the repository changed")
        }
    }

    @Test("the suite has at least 50 cases")
    func count() { #expect(badInputs.count >= 50) }
}
