import Foundation
import PromptRepo
import Testing

@Suite("Experiment grids")
struct ExperimentGridTests {
    @Test func varyMakesEveryCombinationNamedBySettings() throws {
        let cells = try ExperimentGrid.cells(varying: [("selection", ["naive", "validated"]), ("variants", ["1", "3"])])
        #expect(cells.map(\.name) == [
            "selection=naive,variants=1", "selection=naive,variants=3", "selection=validated,variants=1", "selection=validated,variants=3",
        ])
        #expect(cells[3].settings.applied().selection == .validated && cells[3].settings.applied().variants == 3)
    }

    @Test func seedsParseRangesListsAndNegatives() throws {
        #expect(try ExperimentGrid.parseSeeds("1-3") == [1, 2, 3])
        #expect(try ExperimentGrid.parseSeeds("1,5,9") == [1, 5, 9])
        #expect(try ExperimentGrid.parseSeeds("-2,4-5") == [-2, 4, 5])
        #expect(throws: PromptRepoError.self) { try ExperimentGrid.parseSeeds("a") }
        #expect(throws: PromptRepoError.self) { try ExperimentGrid.parseSeeds("3-1") }
    }

    @Test func aGridFileParsesAndItsErrorsNameTheKey() throws {
        let grid = try ExperimentGrid.parse("""
            seeds = [1, 2]
            steps = 3
            baseline = "b"
            [[cell]]
            name = "a"
            selection = "naive"
            batch_size = 3
            [[cell]]
            name = "b"
            operators = ["rules", "demos"]
            lambda = 0.5
            """, file: "g.toml")
        #expect(grid.seeds == [1, 2] && grid.steps == 3 && grid.baseline == "b")
        #expect(grid.cells[0].settings.applied().batchSize == 3)
        #expect(grid.cells[1].settings.applied().operators == [.rules, .demos])
        #expect(grid.cells[1].settings.applied().lambda == 0.5)
        for (text, message) in [
            ("[[cell]]\nname = \"a\"\ncolour = \"red\"", "g.toml: cell[0].colour: unknown key"),
            ("[[cell]]\nname = \"a\"\nvariants = 0", "g.toml: cell[0].variants: must be positive"),
            ("seeds = [\"x\"]\n[[cell]]\nname = \"a\"", "g.toml: seeds[0]: expected an integer"),
            ("[[cell]]\nname = \"a\"\n[[cell]]\nname = \"a\"", "two cells named 'a'"),
            ("baseline = \"z\"\n[[cell]]\nname = \"a\"", "baseline 'z' is not a cell"),
            ("seeds = [1]", "has no cells"),
            ("speed = 1\n[[cell]]\nname = \"a\"", "g.toml: speed: unknown key"),
        ] {
            do {
                _ = try ExperimentGrid.parse(text, file: "g.toml")
                Issue.record("\(text) parsed")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    @Test func presetsReproduceThePapersComparisons() throws {
        let flawed = try ExperimentGrid.Preset.flawedMetaphor.grid(seeds: [1, 2, 3], steps: 2)
        #expect(flawed.cells.map(\.name) == ["validated", "naive", "shuffled-labels", "no-feedback"])
        #expect(flawed.cells[1].settings.applied().batchSize == 3 && flawed.cells[1].settings.applied().selection == .naive)
        #expect(flawed.cells[2].settings.applied().labels == .shuffled && flawed.cells[3].settings.applied().feedback == SearchSettings.Feedback.none)
        let pick = try ExperimentGrid.Preset.pick.grid(seeds: [1], steps: 1)
        #expect(pick.baseline == "all-unverified")
        #expect(pick.cells[1].settings.applied().feedback == .errors && pick.cells[1].settings.applied().selection == .validated)
    }
}
