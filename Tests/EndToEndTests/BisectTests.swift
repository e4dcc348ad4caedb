import Foundation
import Testing

@Suite("git-grad bisect and revert --regression")
struct BisectTests {
    /// main: good (rules stated), four notes, a merge of a branch that drops the rules (the planted
    /// regression), four more notes: ten versions on the first-parent history.
    func plantedRegression(_ repo: URL) throws -> (good: String, merge: String) {
        func head() throws -> String { try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .whitespacesAndNewlines) }
        func append(_ line: String) throws {
            try writeFile(try readFile("prompts/router.md", in: repo) + line + "\n", "prompts/router.md", in: repo)
            try commitAll(repo, line)
        }
        try writeFile(RegressionGateTests.rulesPrompt, "prompts/router.md", in: repo)
        try commitAll(repo, "State the rules")
        let good = try head()
        for k in 1...3 { try append("Note \(k).") }
        try git("checkout", "-q", "-b", "terse", in: repo)
        let text = try readFile("prompts/router.md", in: repo)
        try writeFile(text.replacingOccurrences(of: "RULES: route by the Brightwave rules.", with: "Route it."), "prompts/router.md", in: repo)
        try commitAll(repo, "Terser opening")
        try git("checkout", "-q", "main", in: repo)
        try append("Note 4.")
        try git("-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-ff", "-m", "Merge branch 'terse'", "terse", in: repo)
        let merge = try head()
        for k in 5...8 { try append("Note \(k).") }
        return (good, merge)
    }

    @Test("bisect finds a planted regressing merge among ten versions in fewer evaluations; revert --regression undoes it with Restores-Score")
    func findsAndRevertsThePlantedMerge() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let (good, merge) = try plantedRegression(repo)
            #expect(lines(try git("rev-list", "--first-parent", "\(good)^..main", in: repo)).count == 10)
            let before = try repositoryState(repo)

            let output = try grad(["bisect", "--split", "holdout", "--good", good] + fakeModel(server), in: repo)
            #expect(output.contains("first bad version: \(merge.prefix(7))  Merge branch 'terse'"), "\(output)")
            #expect(output.contains("holdout 1.000 -> "))
            let json = try grad(["bisect", "--split", "holdout", "--good", good, "--json"] + fakeModel(server), in: repo)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(object["firstBad"] as? String == merge)
            #expect(object["versions"] as? Int == 10)
            let probes = try #require(object["probes"] as? [Any])
            #expect(probes.count <= 6, "binary search: log2(10) + 2 evaluations at most, got \(probes.count)")
            #expect(try repositoryState(repo) == before, "bisect changes nothing")

            let reverted = try grad(["revert", "--regression", "--split", "holdout", "--good", good] + fakeModel(server), in: repo)
            #expect(reverted.contains("Reverted \(merge.prefix(7)) on main"))
            let trailers = try git("log", "-1", "--format=%(trailers)", "main", in: repo)
            #expect(trailers.contains("Reverts: \(merge)"))
            #expect(trailers.contains("Restores-Score: holdout 1.0000"))
            #expect(try readFile("prompts/router.md", in: repo).contains("RULES: route by the Brightwave rules."))
            #expect(try readFile("prompts/router.md", in: repo).contains("Note 8."))
            #expect(try runGit(["fsck", "--full"], in: repo).status == 0)

            // After the revert there is nothing left to find.
            let again = try grad(["bisect", "--split", "holdout", "--good", good] + fakeModel(server), in: repo)
            #expect(again.contains("no regression"))
            let none = try runGrad(["revert", "--regression", "--split", "holdout", "--good", good] + fakeModel(server), in: repo)
            #expect(none.status != 0 && none.stderr.contains("no regression on holdout to revert"))
        }
    }

    @Test("--good off main's first-parent history is refused with one line")
    func goodMustBeOnMain() throws {
        try withSampleRepository { repo in
            let (_, _) = try plantedRegression(repo)
            let result = try runGrad(["bisect", "--good", "terse", "--base-url", "http://127.0.0.1:9/v1", "--provider", "local"], in: repo)
            #expect(result.status != 0)
            #expect(result.stderr.contains("is not on the first-parent history of"))
        }
    }
}
