// The values the git record is spoken in (commit ids, trailers, signatures, git's errors) are
// part of PromptRepo's API. They are re-exported so that its clients, the optimizer and the
// command line, name them without importing GitKit, and so cannot reach a repository operation:
// every read and write of git goes through PromptRepo.
@_exported import struct GitKit.ObjectID
@_exported import struct GitKit.Trailer
@_exported import struct GitKit.Signature
@_exported import enum GitKit.GitError
@_exported import enum GitKit.ObjectKind
