internal import CLibgit2

/// One `Key: value` line from a commit message's trailer block.
public struct Trailer: Sendable, Equatable, Hashable {
    public let key: String
    public let value: String
    public init(key: String, value: String) { self.key = key; self.value = value }
}

/// The trailers of a commit message as git reads them (the last paragraph of `Key: value` lines).
/// The corresponding libgit2 function is `git_message_trailers`.
public func messageTrailers(_ message: String) throws -> [Trailer] {
    Repository.ensureInitialized()
    var array = git_message_trailer_array()
    try check(git_message_trailers(&array, message), "git_message_trailers")
    defer { git_message_trailer_array_free(&array) }
    return (0..<array.count).map { index in
        let trailer = array.trailers[index]
        return Trailer(key: String(cString: trailer.key), value: String(cString: trailer.value))
    }
}
