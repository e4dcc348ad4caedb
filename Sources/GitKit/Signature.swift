internal import CLibgit2
import Foundation

/// An author or committer: a name, an email and a moment, copied out of libgit2.
public struct Signature: Sendable, Equatable {
    public var name: String
    public var email: String
    public var time: Date
    /// Offset from UTC in minutes.
    public var timeZoneOffsetMinutes: Int

    public init(name: String, email: String, time: Date = Date(), timeZoneOffsetMinutes: Int = 0) {
        self.name = name
        self.email = email
        self.time = time
        self.timeZoneOffsetMinutes = timeZoneOffsetMinutes
    }

    init(_ pointer: UnsafePointer<git_signature>) {
        name = String(cString: pointer.pointee.name)
        email = String(cString: pointer.pointee.email)
        time = Date(timeIntervalSince1970: TimeInterval(pointer.pointee.when.time))
        timeZoneOffsetMinutes = Int(pointer.pointee.when.offset)
    }

    /// Calls `body` with a libgit2 signature that lives for the duration of the call.
    /// The corresponding libgit2 function is `git_signature_new`.
    func withGitSignature<T>(_ body: (UnsafePointer<git_signature>) throws -> T) throws -> T {
        var signature: UnsafeMutablePointer<git_signature>?
        try check(
            git_signature_new(&signature, name, email, git_time_t(time.timeIntervalSince1970), Int32(timeZoneOffsetMinutes)),
            "git_signature_new")
        defer { git_signature_free(signature) }
        return try body(signature!)
    }
}
