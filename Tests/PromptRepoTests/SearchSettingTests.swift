import Foundation
import PromptRepo
import Testing

/// Every search setting has one name, and means the same through grad.toml, a run manifest, an
/// experiment grid, a flag (`--set`) and the `Grad-Settings` trailer.
@Suite("search settings: one spelling")
struct SearchSettingTests {
    /// A valid value other than the default, as a value and as a TOML literal.
    static func nonDefault(_ setting: SearchSetting) throws -> (value: SettingValue, toml: String) {
        let current = setting.value(in: SearchSettings())
        switch setting.shape {
        case .integer(let minimum):
            var base = minimum ?? 0
            if case .integer(let int)? = current { base = int }
            return (.integer(base + 2), String(base + 2))
        case .number:
            let value = try #require([0.25, 0.4, 0.9, 2.0].first { number in
                (try? setting.check(.number(number))) != nil && current != .number(number)
            })
            return (.number(value), String(value))
        case .choice(let names):
            let name = try #require(names.first { current != .word($0) })
            return (.word(name), "\"\(name)\"")
        case .operators:
            return (.words(["rules", "merge"]), "[\"rules\", \"merge\"]")
        }
    }

    static let task = "[task]\nprompt = \"p.md\"\ntrain = \"train.jsonl\"\nholdout = \"holdout.jsonl\"\n"

    @Test("every setting round-trips through grad.toml, a manifest, a grid cell, a flag and the trailer", arguments: SearchSetting.all.map(\.name))
    func roundTrip(name: String) throws {
        let setting = try #require(SearchSetting.named(name))
        let (value, toml) = try Self.nonDefault(setting)
        var expected = SearchSettings()
        setting.apply(value, to: &expected)
        #expect(expected != SearchSettings(), "\(name): the chosen value is the default")

        // grad.toml
        let config = try GradConfig.parse(Self.task + "[search]\n\(name) = \(toml)\n")
        #expect(config.search == expected, "grad.toml")

        // A run manifest, written and read back.
        let manifest = RunManifest(run: "r1", search: expected, taskModel: "t", optimizerModel: "o")
        let decoded = try ManifestJSON.decoder.decode(RunManifest.self, from: ManifestJSON.encoder.encode(manifest))
        #expect(decoded.search == expected, "manifest")

        // A flag (and `--vary`): the word form.
        var overrides = SearchOverrides()
        try overrides.set(name, value.description, describe: "--set")
        #expect(overrides.applied() == expected, "flag")
        let storedOverrides = try JSONDecoder().decode(SearchOverrides.self, from: JSONEncoder().encode(overrides))
        #expect(storedOverrides == overrides, "overrides in an experiment manifest")

        // An experiment grid cell.
        if setting.variesByCell {
            let grid = try ExperimentGrid.parse("[[cell]]\nname = \"a\"\n\(name) = \(toml)\n", file: "g.toml")
            #expect(grid.cells[0].settings.applied() == expected, "grid")
            #expect(try ExperimentGrid.cells(varying: [(name, [value.description])])[0].settings.applied() == expected, "--vary")
        }
        if setting.inTrailer {
            #expect(expected.trailerText.split(separator: " ").contains("\(name)=\(value)"[...]), "trailer: \(expected.trailerText)")
        }
    }

    @Test("a value a setting does not take is refused with the setting's name, wherever it comes from")
    func badValues() throws {
        #expect(throws: PromptRepoError.configValue(file: "grad.toml", key: "search.alpha", message: "must be between 0 and 0.5 (0.05 is usual), not 0.7")) {
            try GradConfig.parse(Self.task + "[search]\nalpha = 0.7\n")
        }
        var overrides = SearchOverrides()
        #expect(throws: PromptRepoError.configValue(file: "--batch-size", key: "batch_size", message: "must be positive")) {
            try overrides.set("batch_size", "0", describe: "--batch-size")
        }
        #expect(throws: PromptRepoError.self) { try overrides.set("batch", "3", describe: "--set") }
        #expect(throws: PromptRepoError.self) { try ExperimentGrid.cells(varying: [("seed", ["1"])]) }
        let unknownValue = #"{"run":"r","started":"2026-01-01T00:00:00Z","taskModel":"t","optimizerModel":"o","search":{"rule":"vibes"}}"#
        #expect(throws: DecodingError.self) { try ManifestJSON.decoder.decode(RunManifest.self, from: Data(unknownValue.utf8)) }
    }

    @Test("a manifest written before settings had one spelling resumes as it ran")
    func legacyManifest() throws {
        let legacy = """
            {"run":"old","started":"2026-01-01T00:00:00Z","steps":4,"batchSize":5,"variants":2,"selection":"validated",
             "feedback":"errors","gradient":"one-step","labels":"correct","seed":3,"lambda":1,"maxRegressions":2,"redraws":3,
             "taskModel":"t","optimizerModel":"o","usage":{"calls":9,"cacheHits":1,"promptTokens":10,"completionTokens":5,
             "latencySeconds":1.5,"cost":null,"retries":0}}
            """
        let manifest = try ManifestJSON.decoder.decode(RunManifest.self, from: Data(legacy.utf8))
        #expect(manifest.search.steps == 4 && manifest.search.batchSize == 5 && manifest.search.seed == 3)
        #expect(manifest.search.maxRegressions == 2)
        // What did not exist then: the net rule, no preservation bound, rewrites, no audit.
        #expect(manifest.search.rule == .net && manifest.search.maxBrokenRatio == nil)
        #expect(manifest.search.operators == [.rewrite] && manifest.search.prevalence == .off)
        #expect(manifest.usage?.calls == 9 && manifest.usage?.tokens == 15)
        // Written back, it keeps those settings.
        let again = try ManifestJSON.decoder.decode(RunManifest.self, from: ManifestJSON.encoder.encode(manifest))
        #expect(again == manifest)
    }

    @Test("docs/settings.md lists every setting by its name")
    func documented() throws {
        let docs = try String(contentsOf: packageRoot.appendingPathComponent("docs/settings.md"), encoding: .utf8)
        for setting in SearchSetting.all {
            #expect(docs.contains("| `\(setting.name)` |"), "\(setting.name) is not in docs/settings.md")
        }
    }
}
