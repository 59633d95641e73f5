import CCurl

/// Owns one curl easy handle and the state of the transfer it runs; used only on the transfer thread.
///
/// Handles are pooled: options that hold for every request are set once, the per-request ones
/// (URL, method, headers, body) are set again by `prepare`.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    /// The job being run, nil while the handle is idle in the pool.
    var job: Job?
    /// Response bytes so far, and the limit past which the transfer is aborted.
    var body: [UInt8] = []
    let maxBody: Int
    var overLimit = false
    /// Header lines of the latest response seen, each with its CRLF.
    var headerBytes: [UInt8] = []
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))

    init(configuration: HTTPTransport.Configuration) throws(HTTPError) {
        guard let handle = curl_easy_init() else { throw HTTPError(kind: .transport, message: "curl_easy_init failed") }
        self.handle = handle
        maxBody = configuration.maxResponseBytes
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        let context = Unmanaged.passUnretained(self).toOpaque()
        set(CURLOPT_WRITEFUNCTION, callback: curlWriteBody)
        set(CURLOPT_WRITEDATA, pointer: context)
        set(CURLOPT_HEADERFUNCTION, callback: curlWriteHeader)
        set(CURLOPT_HEADERDATA, pointer: context)
        set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        set(CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.requestTimeout))
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        set(CURLOPT_MAXFILESIZE_LARGE, offset: Int64(configuration.maxResponseBytes))
        set(CURLOPT_USERAGENT, string: configuration.userAgent)
        set(CURLOPT_PROTOCOLS_STR, string: "http,https")
        if let path = configuration.unixSocketPath { set(CURLOPT_UNIX_SOCKET_PATH, string: path) }
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Sets the request's URL, method, headers and body, and clears what the last transfer left.
    func prepare(_ job: Job) {
        self.job = job
        body = []
        overLimit = false
        headerBytes.removeAll(keepingCapacity: true)
        errorBuffer[0] = 0
        let request = job.request
        set(CURLOPT_URL, string: request.url)
        set(CURLOPT_NOBODY, 0)
        set(CURLOPT_CUSTOMREQUEST, string: nil)
        set(CURLOPT_PIPEWAIT, request.url.utf8.starts(with: "https:".utf8) ? 1 : 0)
        let sendsBody: Bool
        switch request.method {
        case "GET" where request.body.isEmpty:
            set(CURLOPT_HTTPGET, 1)
            sendsBody = false
        case "HEAD" where request.body.isEmpty:
            set(CURLOPT_NOBODY, 1)
            sendsBody = false
        default:
            set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(request.body.count))
            request.body.withUnsafeBytes { bytes in
                // Copied by curl, so the bytes need not outlive this call; an empty body still needs a pointer.
                let empty: StaticString = ""
                set(CURLOPT_COPYPOSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(empty.utf8Start)))
            }
            if request.method != "POST" { set(CURLOPT_CUSTOMREQUEST, string: request.method) }
            sendsBody = true
        }
        setHeaders(request.headers, noExpect: sendsBody)
    }

    private func setHeaders(_ headers: [(name: String, value: String)], noExpect: Bool) {
        curl_slist_free_all(headerList)
        headerList = nil
        // "Name;" is how curl is told to send a header with an empty value ("Name:" would remove it).
        for (name, value) in headers { headerList = curl_slist_append(headerList, value.isEmpty ? name + ";" : name + ": " + value) }
        if noExpect {
            headerList = curl_slist_append(headerList, "Expect:")
            // curl would otherwise label every body as a form ("application/x-www-form-urlencoded").
            if !headers.contains(where: { $0.name.utf8.count == 12 && $0.name.lowercased() == "content-type" }) {
                headerList = curl_slist_append(headerList, "Content-Type:")
            }
        }
        set(CURLOPT_HTTPHEADER, pointer: headerList.map { UnsafeMutableRawPointer($0) })
    }

    /// The outcome of the finished transfer; afterwards the handle holds no response data.
    func finish(_ code: CURLcode) -> Result<HTTPResponse, HTTPError> {
        defer { body = [] }
        if overLimit || code == CURLE_FILESIZE_EXCEEDED {
            return .failure(HTTPError(kind: .tooLarge, curlCode: Int32(bitPattern: code.rawValue),
                                      message: "response body over \(maxBody) bytes: " + String(cString: curl_easy_strerror(code))))
        }
        guard code == CURLE_OK else {
            var sent = 0
            _ = ccurl_easy_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &sent)
            return .failure(HTTPError(code: code, detail: String(cString: errorBuffer), requestBytes: sent))
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: HeaderLines.parse(headerBytes), body: body))
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        seconds <= 0 ? 0 : max(1, Int((seconds * 1000).rounded(.up)))
    }
}
