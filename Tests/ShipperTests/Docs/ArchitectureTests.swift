import Foundation
import Testing

/// docs/architecture.md's table of stages is the package's own: the same targets, in an order in
/// which each depends only on the ones before it, with the same dependencies.
struct ArchitectureTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Each `Shipper*` target of Package.swift and the `Shipper*` targets it depends on.
    static func targets() throws -> [String: Set<String>] {
        let manifest = try String(contentsOf: repository.appendingPathComponent("Package.swift"), encoding: .utf8)
        var targets: [String: Set<String>] = [:]
        for block in manifest.components(separatedBy: ".target(").dropFirst() {
            let body = block.components(separatedBy: "\n        ),").first ?? block
            guard let name = body.firstMatch(of: /name: "(\w+)"/)?.1, name.hasPrefix("Shipper") else { continue }
            let dependencies = (body.firstMatch(of: /dependencies: \[([^\]]*)\]/)?.1).map(String.init) ?? ""
            targets[String(name)] = Set(dependencies.matches(of: /"(Shipper\w+)"/).map { String($0.1) })
        }
        return targets
    }

    /// The rows of the document's table: each stage, in order, and what it depends on.
    static func documented() throws -> [(stage: String, dependencies: Set<String>)] {
        let text = try String(contentsOf: repository.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let stage = cells[1].firstMatch(of: /^`(Shipper\w+)`$/)?.1 else { return nil }
            return (String(stage), Set(cells[2].matches(of: /`(Shipper\w+)`/).map { String($0.1) }))
        }
    }

    @Test func theDocumentedStagesAreThePackagesTargets() throws {
        let targets = try Self.targets()
        let documented = try Self.documented()
        #expect(targets.count == 7, "\(targets.keys.sorted())")
        #expect(Set(documented.map(\.stage)) == Set(targets.keys))
        #expect(documented.count == targets.count, "each stage once")
        for row in documented {
            #expect(targets[row.stage] == row.dependencies, "\(row.stage): the package says \(targets[row.stage]?.sorted() ?? [])")
        }
    }

    @Test func eachStageDependsOnlyOnTheStagesBeforeIt() throws {
        let documented = try Self.documented()
        for (index, row) in documented.enumerated() {
            let before = Set(documented.prefix(index).map(\.stage))
            #expect(row.dependencies.isSubset(of: before), "\(row.stage) depends on \(row.dependencies.subtracting(before).sorted()), after it")
        }
    }

    /// The documented folders exist: a newcomer finds a stage's files where the document says.
    @Test func everyStageHasItsFolder() throws {
        for row in try Self.documented() {
            var isDirectory: ObjCBool = false
            let path = Self.repository.appendingPathComponent("Sources/\(row.stage)").path
            #expect(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue, "\(path)")
        }
    }
}
