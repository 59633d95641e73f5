import CCurl

/// Owns one curl easy handle speaking SMTP; the connection stays open between messages.
///
/// Used from one thread at a time (``SMTPSender`` gives each its own serial queue). Every command
/// sent and reply received passes through the debug callback, so the client knows which command a
/// refusal answered: a 5xx to `MAIL`, `RCPT` (the message's own recipient) or `DATA` is final, any
/// other failure (connection, STARTTLS, AUTH, 4xx) is worth another try.
final class SMTPConnection {
    let handle: UnsafeMutableRawPointer
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
    private var recipientList: UnsafeMutablePointer<curl_slist>?
    /// The message being sent and how far curl has read it.
    var payload: [UInt8] = []
    var offset = 0
    /// The last command line sent, and the reply code of each `RCPT TO`, in order.
    var lastCommand = ""
    var lastReply = 0
    var lastReplyText = ""
    var recipientReplies: [Int] = []

    /// `CURLOPT_MAIL_RCPT_ALLOWFAILS`, spelled `CURLOPT_MAIL_RCPT_ALLLOWFAILS` before curl 8.2 (Debian 12 has 7.88): option 290 either way.
    static let mailRecipientAllowFails = CURLoption(rawValue: 290)

    init(configuration: SMTPConfiguration) throws(SMTPError) {
        guard let handle = curl_easy_init() else { throw SMTPError(kind: .transient, reply: 0, message: "curl_easy_init failed") }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        let context = Unmanaged.passUnretained(self).toOpaque()
        setLong(CURLOPT_NOSIGNAL, 1)
        setString(CURLOPT_URL, configuration.server)
        setString(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        setLong(CURLOPT_USE_SSL, configuration.requireTLS ? Int(CURLUSESSL_ALL.rawValue) : Int(CURLUSESSL_TRY.rawValue))
        setLong(CURLOPT_SSL_VERIFYPEER, 1)
        setLong(CURLOPT_SSL_VERIFYHOST, 2)
        if let ca = configuration.caFile, !ca.isEmpty { setString(CURLOPT_CAINFO, ca) }
        if !configuration.username.isEmpty {
            setString(CURLOPT_USERNAME, configuration.username)
            setString(CURLOPT_PASSWORD, configuration.password)
        }
        setLong(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1_000))
        setLong(CURLOPT_TIMEOUT_MS, Int(configuration.timeout * 1_000))
        setLong(CURLOPT_UPLOAD, 1)
        setLong(Self.mailRecipientAllowFails, 1)
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, smtpReadPayload)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_READDATA, context)
        _ = ccurl_easy_setopt_debug(handle, smtpDebug)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_DEBUGDATA, context)
        setLong(CURLOPT_VERBOSE, 1)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_slist_free_all(recipientList)
        errorBuffer.deallocate()
    }

    /// Sends one message on the open connection (or a new one); blocks until the server's final reply.
    func send(_ message: SMTPMessage) throws(SMTPError) {
        payload = message.data
        offset = 0
        recipientReplies = []
        lastCommand = ""
        lastReply = 0
        errorBuffer[0] = 0
        defer { payload = [] }
        setString(CURLOPT_MAIL_FROM, "<\(message.from)>")
        curl_slist_free_all(recipientList)
        recipientList = nil
        for recipient in message.recipients { recipientList = curl_slist_append(recipientList, "<\(recipient)>") }
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_MAIL_RCPT, recipientList.map { UnsafeMutableRawPointer($0) })
        _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.data.count))
        let code = curl_easy_perform(handle)
        if code != CURLE_OK {
            var reply = 0
            _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &reply)
            if lastReply >= 400 { reply = lastReply }
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            let answered = lastCommand.split(separator: " ").first.map(String.init)?.uppercased() ?? ""
            let final = reply >= 500 && ["MAIL", "RCPT", "DATA"].contains(answered)
            let text = lastReplyText.isEmpty ? detail : "\(detail): \(lastReplyText)"
            throw SMTPError(kind: final ? .permanent : .transient, reply: reply, message: "\(answered.isEmpty ? "SMTP" : answered) failed: \(text)")
        }
        // With ALLOWFAILS curl goes on when some recipient is refused: the message's own one must not be.
        if let first = recipientReplies.first, first >= 400 {
            throw SMTPError(kind: first >= 500 ? .permanent : .transient, reply: first, message: "recipient \(message.recipients[0]) refused: \(lastReplyText)")
        }
    }

    private func setLong(_ option: CURLoption, _ value: Int) { _ = ccurl_easy_setopt_long(handle, option, value) }
    private func setString(_ option: CURLoption, _ value: String) { _ = ccurl_easy_setopt_string(handle, option, value) }
}

/// `CURLOPT_READFUNCTION`: hands curl the message bytes.
func smtpReadPayload(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context, let buffer else { return 0 }
    let connection = Unmanaged<SMTPConnection>.fromOpaque(context).takeUnretainedValue()
    let length = min(size * count, connection.payload.count - connection.offset)
    guard length > 0 else { return 0 }
    connection.payload.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + connection.offset, byteCount: length)
    }
    connection.offset += length
    return length
}

/// `CURLOPT_DEBUGFUNCTION`: notes each command sent (`CURLINFO_HEADER_OUT`) and the reply to it (`CURLINFO_HEADER_IN`).
func smtpDebug(_ handle: UnsafeMutableRawPointer?, _ type: curl_infotype, _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let context, let data, type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN else { return 0 }
    let connection = Unmanaged<SMTPConnection>.fromOpaque(context).takeUnretainedValue()
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    for line in text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }) where !line.isEmpty {
        if type == CURLINFO_HEADER_OUT {
            connection.lastCommand = String(line.prefix(64))
            continue
        }
        // A reply: three digits, then "-" (more lines follow) or a space (the last line).
        guard line.count >= 3, let code = Int(line.prefix(3)) else { continue }
        if line.count > 3, line[line.index(line.startIndex, offsetBy: 3)] == "-" { continue }
        connection.lastReply = code
        connection.lastReplyText = String(line.prefix(200))
        if connection.lastCommand.uppercased().hasPrefix("RCPT") { connection.recipientReplies.append(code) }
    }
    return 0
}
