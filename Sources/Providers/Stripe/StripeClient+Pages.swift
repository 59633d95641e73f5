import Synchronization

extension StripeClient {
    /// Pages read at a smaller size before twice that size is tried again: an answer too large once
    /// (a fault, one unusually large object) does not shrink an endpoint's pages for good.
    static let pagesBeforeGrowing = 100

    /// One page of a list the caller pages through (by `has_more` or a cursor), of at most `limit`
    /// objects: `read` is given the page size to ask for. Stripe's events carry whole invoices, so a
    /// page of 100 after a backlog can be larger than `max_response_bytes`, and would be refused at
    /// every poll. The size is then halved until the answer fits, and kept for the endpoint, with a
    /// note for the operator; a single object larger than the limit is an error that names the setting.
    func paged<T>(limit: Int, endpoint: String, _ read: (Int) async throws(ProviderError) -> T) async throws(ProviderError) -> T {
        var size = pageSizes.withLock { sizes -> Int in
            guard let kept = sizes[endpoint] else { return limit }
            if kept.pages < Self.pagesBeforeGrowing { return min(kept.size, limit) }
            sizes[endpoint] = nil
            return min(kept.size * 2, limit)
        }
        while true {
            do throws(ProviderError) {
                let answer = try await read(size)
                if size < limit {
                    pageSizes.withLock { sizes in
                        let pages = sizes[endpoint].map { $0.size == size ? $0.pages : 0 } ?? 0
                        sizes[endpoint] = (size, pages + 1)
                    }
                }
                return answer
            } catch where error.oversized {
                guard size > 1 else {
                    throw ProviderError(.malformed, "\(endpoint): one object is larger than the response limit: raise [provider] max_response_bytes "
                                            + "(now \(maxResponseBytes))", retryAfter: 5, oversized: true)
                }
                let smaller = size / 2
                pageSizes.withLock { $0[endpoint] = (smaller, 0) }
                notes.withLock {
                    $0.append("\(endpoint): a page of \(size) was larger than the response limit ([provider] max_response_bytes = \(maxResponseBytes)): "
                              + "asking for pages of \(smaller)")
                }
                size = smaller
            }
        }
    }

    /// The notes `paged` left since the last call.
    func takeNotes() -> [String] {
        notes.withLock { taken in
            defer { taken = [] }
            return taken
        }
    }
}
