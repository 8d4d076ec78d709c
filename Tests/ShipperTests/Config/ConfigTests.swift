import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperConfig

struct ConfigTests {
    func parse(_ yaml: String, environment: [String: String] = [:]) throws(ConfigError) -> Config {
        try Config.parse(yaml, file: "shipper.yml", environment: environment, hostname: "edge-7")
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(yaml, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func emptyFileMeansDefaults() throws {
        let config = try parse("")
        #expect(config == Config.defaults(hostname: "edge-7"))
        #expect(config.interval == .seconds(15))
        #expect(config.externalLabels == LabelSet(["job": "ebpf-map-shipper", "instance": "edge-7"]))
        #expect(config.remoteWrite.map(\.url) == ["http://127.0.0.1:9090/api/v1/write"])
    }

    @Test func readsEveryKey() throws {
        let secret = try writeConfig("s3cret\n")
        defer { try? FileManager.default.removeItem(at: secret) }
        let config = try parse(
            """
            interval: 2m
            external_labels:
              site: ${SITE}
              instance: ''
            maps:
              include: ['^cilium_', 'conntrack']
              exclude: ['_tmp$']
              types: [hash, lru_hash]
              count_method: fallback
              max_walk_keys: 5000
              loss_tracking: off
              include_self: true
            programs:
              stats: sampled
              sample_window: 1500ms
            remote_write:
              - name: mimir
                url: https://mimir.example/api/v1/push
                headers:
                  X-Scope-OrgID: tenant-$${literal}
                basic_auth:
                  username: edge
                  password_file: \(secret.path)
                timeout: 500ms
                queue:
                  max_samples_per_send: 500
                  min_backoff: 1s
                  max_backoff: 1h
                  retry_on_http_429: false
                tls_config:
                  insecure_skip_verify: true
              - url: http://10.0.0.1:8428/api/v1/write
                bearer_token_file: \(secret.path)
            """, environment: ["SITE": "fra-2"])
        #expect(config.interval == .seconds(120))
        #expect(config.externalLabels == LabelSet(["job": "ebpf-map-shipper", "site": "fra-2"]))
        #expect(config.maps == MapsConfig(
            include: ["^cilium_", "conntrack"], exclude: ["_tmp$"], types: [MapType(name: "hash")!, MapType(name: "lru_hash")!],
            countMethod: .fallback, maxWalkKeys: 5000, lossTracking: .off, includeSelf: true))
        #expect(config.programs == ProgramsConfig(stats: .sampled, sampleWindow: .milliseconds(1500)))
        #expect(config.collectorOptions.programStatistics == .sampled)
        #expect(config.collectorOptions.sampleWindow == .milliseconds(1500))
        let mimir = config.remoteWrite[0]
        #expect(mimir.name == "mimir")
        #expect(mimir.headers == [.init(name: "X-Scope-OrgID", value: "tenant-${literal}")])
        #expect(mimir.basicAuth == BasicAuth(username: "edge", passwordFile: secret.path))
        #expect(mimir.timeout == .milliseconds(500))
        #expect(mimir.queue == QueueConfig(
            maxSamplesPerSend: 500, minBackoff: .seconds(1), maxBackoff: .seconds(3600), retryOnHTTP429: false))
        #expect(mimir.tls.insecureSkipVerify)
        #expect(config.remoteWrite[1].name == "10.0.0.1:8428")
        #expect(config.remoteWrite[1].bearerTokenFile == secret.path)
        #expect(!config.summary.contains("s3cret"))
    }

    @Test func readsTheBufferSection() throws {
        let config = try parse("""
            remote_write:
              - name: a/b
                url: http://127.0.0.1:9/
                buffer: {max_size: 64MiB, max_age: 2h}
              - name: c
                url: http://127.0.0.1:9/
            buffer:
              dir: /srv/buffer
              max_size: 512MiB
              max_age: 6h
              fsync: never
            """)
        #expect(config.buffer == BufferConfig(dir: "/srv/buffer", maxSize: 512 << 20, maxAge: .seconds(21600), fsync: false))
        #expect(config.remoteWrite[0].bufferMaxSize == 64 << 20)
        #expect(config.remoteWrite[0].bufferMaxAge == .seconds(7200))
        #expect(config.buffer.directory(for: config.remoteWrite[0]) == "/srv/buffer/a_b")
        #expect(config.remoteWrite[1].bufferMaxSize == nil)
        #expect(try parse("buffer: {dir: ''}\n").buffer.dir == nil)
        #expect(Config.defaults(hostname: "h").buffer.dir == "/var/lib/ebpf-map-shipper")
        #expect(error("buffer: {max_size: lots}\n") == "shipper.yml:1: buffer.max_size: invalid size 'lots'; expected a positive number of bytes with a unit: 64MiB, 1GiB, 500MB")
        #expect(error("buffer: {fsync: sometimes}\n") == "shipper.yml:1: buffer.fsync: invalid fsync policy 'sometimes'; expected always or never")
        #expect(error("remote_write:\n  - {name: 'a/b', url: 'http://x/'}\n  - {name: 'a_b', url: 'http://y/'}\n")
            == "shipper.yml:2: remote_write: two endpoint names map to the same buffer directory; rename one (names keep [A-Za-z0-9._-])")
    }

    @Test func readsPushgatewayEntries() throws {
        let config = try parse("""
            pushgateway:
              - url: http://127.0.0.1:9091
                job: nightly-etl
                grouping:
                  stage: load
                method: post
                delete_on_shutdown: true
                timeout: 3s
            """)
        #expect(config.remoteWrite.isEmpty)
        #expect(config.pushgateway == [
            PushgatewayConfig(
                name: "127.0.0.1:9091", url: "http://127.0.0.1:9091", job: "nightly-etl",
                grouping: LabelSet(["instance": "edge-7", "stage": "load"]), method: .post, headers: [], basicAuth: nil,
                bearerTokenFile: nil, timeout: .seconds(3), tls: .defaults, deleteOnShutdown: true),
        ])
        #expect(try parse("pushgateway: [{url: 'http://a:1', job: j, grouping: {instance: ''}}]").pushgateway[0].grouping == LabelSet())
        #expect(error("pushgateway:\n  - url: http://a:1\n") == "shipper.yml:2: pushgateway[0]: missing key 'job'; the Pushgateway groups pushes by job")
        #expect(error("pushgateway:\n  - {url: 'http://a:1', job: j, method: patch}\n")
            == "shipper.yml:2: pushgateway[0].method: unknown method 'patch'; expected put (replace the group) or post (replace pushed names only)")
        #expect(error("pushgateway:\n  - {url: 'http://a:1', job: j, grouping: {job: x}}\n")?
            .hasPrefix("shipper.yml:2: pushgateway[0].grouping.job: invalid grouping label 'job'") == true)
        #expect(error("remote_write: [{url: 'http://a:1'}]\npushgateway: [{url: 'http://a:1', job: j}]\n")
            == "shipper.yml:2: pushgateway[0]: duplicate endpoint name 'a:1'; give each remote_write and pushgateway entry a unique name")
    }

    @Test func lossTrackingIsAutoUnlessSet() throws {
        #expect(try parse("remote_write: [{url: 'http://a:1'}]\n").maps.lossTracking == .auto)
        #expect(try parse("maps: {loss_tracking: off}\nremote_write: [{url: 'http://a:1'}]\n").maps.lossTracking == .off)
        #expect(try parse("maps: {loss_tracking: on}\nremote_write: [{url: 'http://a:1'}]\n").maps.lossTracking == .on)
        #expect(error("maps:\n  loss_tracking: yes\nremote_write: [{url: 'http://a:1'}]\n")
            == "shipper.yml:2: maps.loss_tracking: unknown loss_tracking 'yes'; expected auto, on or off")
    }

    @Test func aBadDurationNamesLineAndKey() {
        #expect(error("""
            interval: 1s
            remote_write:
              - url: http://127.0.0.1:9090/api/v1/write
                queue:
                  min_backoff: 5x
            """) == "shipper.yml:5: remote_write[0].queue.min_backoff: invalid duration '5x'; "
            + "expected a positive number with a unit: 500ms, 15s, 2m, 1h30m")
    }

    @Test func anUnknownKeyNamesTheValidOnes() {
        #expect(error("\n\nintervall: 5s\n") == "shipper.yml:3: intervall: unknown key; "
            + "expected one of: interval, external_labels, maps, programs, remote_write, pushgateway, buffer")
        #expect(error("remote_write:\n  - url: http://a/\n    queue:\n      max_samples: 5\n")
            == "shipper.yml:4: remote_write[0].queue.max_samples: unknown key; "
            + "expected one of: max_samples_per_send, min_backoff, max_backoff, retry_on_http_429")
    }

    @Test func aMissingFileSaysSo() {
        #expect(throws: ConfigError(
            file: "/nonexistent/shipper.yml", line: nil, key: "",
            message: "the config file does not exist; pass an existing file")) {
            try Config.load(file: "/nonexistent/shipper.yml")
        }
    }

    @Test func rejectsWhatWouldLeakOrBreakTheProtocol() {
        #expect(error("remote_write:\n  - url: http://a/\n    basic_auth:\n      username: u\n      password: p\n")
            == "shipper.yml:5: remote_write[0].basic_auth.password: inline passwords are not accepted; "
            + "write the password to a file readable only by the shipper and set password_file")
        #expect(error("remote_write:\n  - url: http://a/\n    headers:\n      Content-Type: text/plain\n")
            == "shipper.yml:4: remote_write[0].headers.Content-Type: header 'Content-Type' is set by the shipper itself and cannot be configured")
        #expect(error("remote_write:\n  - url: http://a/\n    headers:\n      authorization: Bearer x\n")?
            .hasSuffix("cannot be configured; use bearer_token_file or basic_auth") == true)
        #expect(error("remote_write:\n  - url: http://a/\n    bearer_token_file: /nonexistent/token\n")
            == "shipper.yml:3: remote_write[0].bearer_token_file: cannot read file '/nonexistent/token'; "
            + "it must exist and be readable by the shipper")
    }

    /// A file passed as the config by mistake is never quoted back: not a password hash, not a
    /// key, not the bytes of a binary. The real binary's `check-config` says what is wrong, in one line.
    @Test func errorsNeverQuoteAFileThatIsNotAConfig() async throws {
        let file = Scratch.path("not-a-config")
        defer { try? FileManager.default.removeItem(at: file) }
        let secrets: [(text: String, secret: String, error: String)] = [
            ("root:$6$s4ltS3cr3t$h4sh:19000:0:99999:7:::\n", "s4ltS3cr3t",
             ":1: unknown key (not shown: it does not look like a config key; is this the shipper's config file?); expected one of: interval, external_labels, maps, programs, remote_write, pushgateway, buffer"),
            ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPr1v4t3 user@host\n", "AAAAC3Nza",
             ":1: expected a mapping with keys: interval, external_labels, maps, programs, remote_write, pushgateway, buffer"),
            ("t0ps3cr3t\u{1}\u{2}\n", "t0ps3cr3t",
             ": not a YAML config: control characters are not allowed (byte 9); pass the shipper's YAML config file"),
            ("p4ssw0rd hash: 1\np4ssw0rd hash: 2\n", "p4ssw0rd", ":1: key given twice in one mapping; keep one"),
        ]
        for (text, secret, expected) in secrets {
            try text.write(to: file, atomically: false, encoding: .utf8)
            let result = try await ShipperBinary.run(["check-config", file.path])
            #expect(result.status == 1)
            #expect(result.stderr == "ebpf-map-shipper: error: \(file.path)\(expected)\n", "\(text)")
            #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
        }
    }

    /// Every input has a limit, checked at load in one line: nothing a config says can make the
    /// shipper use memory or time out of proportion to it.
    @Test func everyInputHasALimit() throws {
        let labels = (0...20).map { "l\($0): v" }.joined(separator: ", ")
        let headers = (0...64).map { "X-H\($0): v" }.joined(separator: ", ")
        let long = String(repeating: "a", count: 2049)
        let cases: [(yaml: String, error: String)] = [
            ("external_labels: {\(labels)}\n",
             "shipper.yml:1: external_labels: 21 entries; at most 20 are accepted"),
            ("external_labels: {site: \(long)}\n",
             "shipper.yml:1: external_labels.site: a label value of 2049 bytes; at most 2048 are accepted"),
            // A key that long is an explicit one in YAML ("? key").
            ("external_labels:\n  ? \(String(repeating: "n", count: 1025))\n  : v\n",
             "shipper.yml:2: external_labels[0]: a label name of 1025 bytes; at most 1024 are accepted"),
            ("remote_write:\n  - url: http://a/\n    headers: {\(headers)}\n",
             "shipper.yml:3: remote_write[0].headers: 65 entries; at most 64 are accepted"),
            ("remote_write:\n  - url: http://a/\(String(repeating: "p", count: 4096))\n",
             "shipper.yml:2: remote_write[0].url: a value of 4105 bytes; at most 4096 are accepted"),
            ("maps: {include: ['\(String(repeating: "x", count: 1025))']}\n",
             "shipper.yml:1: maps.include[0]: a regex of 1025 bytes; at most 1024 are accepted"),
            ("maps: {exclude: [\((0...256).map { "a\($0)" }.joined(separator: ", "))]}\n",
             "shipper.yml:1: maps.exclude: 257 patterns; at most 256 are accepted (join them with |)"),
            ("external_labels: {\((0..<15).map { "e\($0): v" }.joined(separator: ", "))}\n"
                + "pushgateway:\n  - {url: http://a/, job: j, grouping: {\((0..<5).map { "g\($0): v" }.joined(separator: ", "))}}\n",
             "shipper.yml:3: pushgateway[0]: 17 external labels and 6 grouping labels; at most 20 together are accepted"),
        ]
        // The defaults (instance and job) count too: 15 configured are 17.
        for (yaml, expected) in cases { #expect(error(yaml) == expected) }
        // Invalid UTF-8 from the environment reaches Swift as U+FFFD: two values would become one.
        #expect(error("external_labels: {site: '${SITE}'}\n", environment: ["SITE": "a\u{FFFD}"])
            == "shipper.yml:1: external_labels.site: environment variable SITE is not valid UTF-8 text")
    }

    /// A few hundred bytes of aliases that expand to 10^9 values, and a file past 1 MiB, are
    /// refused at once, by the real binary, in one line.
    @Test func aliasesAndSizeCannotMultiplyMemory() async throws {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 { yaml += "a\(level): &a\(level) [\((0..<10).map { _ in "*a\(level - 1)" }.joined(separator: ", "))]\n" }
        yaml += "external_labels: {site: edge}\n"
        let file = Scratch.path("aliases")
        defer { try? FileManager.default.removeItem(at: file) }
        try yaml.write(to: file, atomically: false, encoding: .utf8)
        let aliases = try await ShipperBinary.run(["check-config", file.path])
        #expect(aliases.status == 1)
        #expect(aliases.stderr == "ebpf-map-shipper: error: \(file.path): more than 10000 values once YAML aliases are expanded; a config needs far fewer (check anchors and aliases)\n")
        try ("# " + String(repeating: "x", count: 1 << 20) + "\n").write(to: file, atomically: false, encoding: .utf8)
        let large = try await ShipperBinary.run(["check-config", file.path])
        #expect(large.status == 1)
        #expect(large.stderr == "ebpf-map-shipper: error: \(file.path): the config file holds \((1 << 20) + 3) bytes; at most 1048576 are accepted (is this the shipper's config file?)\n")
    }

    /// A secret file that holds no usable secret is refused at load, as a missing one is: the
    /// shipper never starts sending without the credentials it was configured with.
    @Test func secretFilesMustHoldASecret() throws {
        let file = Scratch.path("secret")
        defer { try? FileManager.default.removeItem(at: file) }
        for (text, problem) in [
            (" \r\n", "is empty; write the secret to it"),
            ("a\rb\n", "holds control characters inside the token; write the token on one line"),
        ] {
            try text.write(to: file, atomically: false, encoding: .utf8)
            #expect(error("remote_write:\n  - url: http://a/\n    bearer_token_file: \(file.path)\n")
                == "shipper.yml:3: remote_write[0].bearer_token_file: '\(file.path)' \(problem)")
        }
        try "\n".write(to: file, atomically: false, encoding: .utf8)
        #expect(error("pushgateway:\n  - {url: http://a/, job: j, basic_auth: {username: u, password_file: \(file.path)}}\n")
            == "shipper.yml:2: pushgateway[0].basic_auth.password_file: '\(file.path)' is empty; write the secret to it")
    }

    @Test func protobufMessageTakesPrometheusNames() throws {
        let v2 = try parse("remote_write:\n  - url: http://a/\n    protobuf_message: io.prometheus.write.v2.Request\n")
        #expect(v2.remoteWrite[0].message == .v2)
        #expect(v2.summary.contains("protobuf_message=io.prometheus.write.v2.Request"))
        #expect(try parse("remote_write:\n  - url: http://a/\n").remoteWrite[0].message == .v1, "1.0 by default")
        #expect(error("remote_write:\n  - url: http://a/\n    protobuf_message: v2\n")
            == "shipper.yml:3: remote_write[0].protobuf_message: unknown protobuf_message 'v2'; expected prometheus.WriteRequest "
            + "(remote-write 1.0, the default) or io.prometheus.write.v2.Request (2.0)")
    }

    @Test func otherMistakes() {
        #expect(error("remote_write:\n  - url: ftp://a/\n") == "shipper.yml:2: remote_write[0].url: invalid URL 'ftp://a/'; expected http:// or https:// with a host")
        #expect(error("remote_write:\n  - name: a\n    url: http://x/\n  - name: a\n    url: http://y/\n")
            == "shipper.yml:4: remote_write[1]: duplicate endpoint name 'a'; give each remote_write and pushgateway entry a unique name")
        #expect(error("remote_write: []\n") == "shipper.yml:1: remote_write: the list is empty; configure at least one endpoint")
        #expect(error("interval: ${NOPE}\n") == "shipper.yml:1: interval: environment variable NOPE is not set (written as ${NOPE}; use $$ for a literal $)")
        #expect(error("maps:\n  types: [hashh]\n")?.hasPrefix("shipper.yml:2: maps.types[0]: unknown map type 'hashh'; expected one of: hash, array") == true)
        #expect(error("maps:\n  include: ['(']\n")?.hasPrefix("shipper.yml:2: maps.include[0]: invalid regex '('") == true)
        #expect(error("programs:\n  stats: always\n") == "shipper.yml:2: programs.stats: unknown programs.stats 'always'; expected off, sampled or on")
        #expect(error("interval: 1s\nprograms:\n  stats: sampled\n  sample_window: 600ms\n")
            == "shipper.yml:4: programs.sample_window: 600ms is more than half the interval (1s); shorten the window or lengthen the interval")
        // The default window (1s) against a short interval: the line names the setting that made it matter.
        #expect(error("interval: 1500ms\nprograms:\n  stats: sampled\n")
            == "shipper.yml:3: programs.stats: 1s is more than half the interval (1500ms); shorten the window or lengthen the interval")
        #expect(error("programs:\n  sample_window: 10ms\n")?.hasPrefix("shipper.yml:2: programs.sample_window: ") == true)
        #expect(error("external_labels:\n  __bad: x\n") == "shipper.yml:2: external_labels.__bad: invalid label name '__bad'; expected [a-zA-Z_][a-zA-Z0-9_]* not starting with __")
        #expect(error("remote_write:\n  - url: http://a/\n    queue:\n      min_backoff: 10s\n      max_backoff: 1s\n")
            == "shipper.yml:4: remote_write[0].queue.min_backoff: min_backoff (10s) exceeds max_backoff (1s)")
        #expect(error("interval: [1s\n")?.hasPrefix("shipper.yml:2: invalid YAML:") == true)
        #expect(error("interval: 1s\ninterval: 2s\n")?.contains("key given twice") == true)
    }

    /// A header that reaches libcurl is one `Name: value` line: nothing can inject a second one.
    @Test func headersAreOneLineOfVisibleCharacters() {
        let header = { (name: String, value: String) in "remote_write:\n  - url: http://a/\n    headers:\n      \(name): \(value)\n" }
        let badValue = "shipper.yml:4: remote_write[0].headers.X-Tenant: invalid header value; "
            + "expected one line of visible ASCII characters (no CR, LF or other control characters)"
        #expect(error(header("X-Tenant", "\"a\\r\\nAuthorization: Bearer stolen\"")) == badValue)
        #expect(error(header("X-Tenant", "\"a\\nContent-Encoding: gzip\"")) == badValue)
        #expect(error(header("X-Tenant", "\"a\\tb\\u0000\"")) == badValue)
        // Through the environment, as through the file.
        #expect(error(header("X-Tenant", "${TENANT}"), environment: ["TENANT": "a\r\nAuthorization: Bearer x"]) == badValue)
        let badName = "invalid header name; expected letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons)"
        #expect(error(header("\"X Tenant\"", "a")) == "shipper.yml:4: remote_write[0].headers.X Tenant: " + badName)
        #expect(error(header("\"X-Tenant:\"", "a")) == "shipper.yml:4: remote_write[0].headers.X-Tenant:: " + badName)
        // A name with a line break is never echoed: the error names its place instead.
        #expect(error(header("\"X-A\\r\\nInjected: 1\"", "a")) == "shipper.yml:4: remote_write[0].headers[0]: " + badName)
        // Headers that frame the request or belong to the connection are the shipper's.
        for name in ["Transfer-Encoding", "connection", "Expect", "TE", "Upgrade", "Keep-Alive", "Proxy-Authorization"] {
            #expect(error(header(name, "x")) == "shipper.yml:4: remote_write[0].headers.\(name): header '\(name)' is set by the shipper itself and cannot be configured")
        }
        #expect(error(header("\"\"", "a")) == "shipper.yml:4: remote_write[0].headers.: " + badName)
        #expect(try! parse(header("X-Scope-OrgID", "\"tenant 1\\tA~\"")).remoteWrite[0].headers
            == [HTTPHeader(name: "X-Scope-OrgID", value: "tenant 1\tA~")])
    }

    @Test func urlsAreCheckedAtLoadAndNeverCarryCredentials() throws {
        let url = { (text: String) in "remote_write:\n  - url: \"\(text)\"\n" }
        let credentials = "shipper.yml:2: remote_write[0].url: the URL carries credentials (user:password@host), "
            + "which would be logged and shown; remove them and set basic_auth with a password_file"
        #expect(error(url("http://user:s3cret@prom.example/api/v1/write")) == credentials)
        #expect(error(url("https://s3cret@prom.example")) == credentials)
        #expect(error("pushgateway:\n  - url: http://u:p@gw:9091\n    job: j\n")?.contains("carries credentials") == true)
        #expect(error(url("http://prom.example/api v1")) == "shipper.yml:2: remote_write[0].url: invalid URL "
            + "'http://prom.example/api v1'; it contains whitespace, a control character or non-ASCII text; percent-encode them")
        #expect(error(url("http://prom.example/\\r\\nX: y"))?.contains("'http://prom.example/\\u{d}\\u{a}X: y'") == true)
        #expect(error(url("http://:9090/")) == "shipper.yml:2: remote_write[0].url: invalid URL 'http://:9090/'; expected http:// or https:// with a host")
        #expect(error(url("http://prom:0/"))?.hasSuffix("the port must be a number from 1 to 65535") == true)
        #expect(error(url("http://prom:99999/"))?.hasSuffix("the port must be a number from 1 to 65535") == true)
        #expect(error(url("gopher://prom/")) == "shipper.yml:2: remote_write[0].url: invalid URL 'gopher://prom/'; expected http:// or https:// with a host")
        #expect(try parse(url("http://[::1]:9090/api/v1/write")).remoteWrite[0].name == "[::1]:9090")
        #expect(try parse(url("HTTPS://Prom.Example/w")).remoteWrite[0].name == "Prom.Example")
        #expect(EndpointURL.redacted("http://u:p@host/x") == "http://<redacted>@host/x")
        // A query may carry a token: errors show its names only.
        #expect(error(url("http://prom:0/w?token=s3cret")) == "shipper.yml:2: remote_write[0].url: invalid URL "
            + "'http://prom:0/w?token=<hidden>'; the port must be a number from 1 to 65535")
    }

    /// A remote-write entry and a Pushgateway entry say alike how they reach their receiver: a
    /// gateway whose certificate is not checked says so too.
    @Test func bothEntryKindsSummariseTheirConnectionAlike() throws {
        let password = try Scratch.file("password", "s3cret\n")
        let connection = """
                headers: {X-Scope-OrgID: fleet-a}
                basic_auth: {username: edge, password_file: \(password.path)}
                tls_config: {insecure_skip_verify: true}
                proxy_url: http://proxy.internal:3128
            """
        let config = try parse("remote_write:\n  - url: http://a:9/w\n\(connection)\npushgateway:\n  - url: http://g:9091\n    job: j\n\(connection)\n")
        let shared = " headers=[\"X-Scope-OrgID\"] basic_auth=edge:<\(password.path)> tls_verify=OFF proxy=http://proxy.internal:3128"
        let lines = config.summary.split(separator: "\n")
        #expect(lines.first { $0.hasPrefix("remote_write a:9: ") }?.contains(shared + " buffer=") == true, "\(config.summary)")
        #expect(lines.first { $0.hasPrefix("pushgateway g:9091: ") }?.hasSuffix(shared) == true, "\(config.summary)")
    }

    /// check-config prints what it read, without a query's values.
    @Test func checkConfigHidesQueryValues() async throws {
        let file = try writeConfig("remote_write:\n  - url: 'http://127.0.0.1:9/w?token=s3cret&tenant=a'\n")
        defer { removeConfig(file) }
        let result = try await ShipperBinary.run(["check-config", file.path])
        #expect(result.status == 0)
        #expect(result.stdout.contains("remote_write 127.0.0.1:9: http://127.0.0.1:9/w?token=<hidden>&tenant=<hidden> "), "\(result.stdout)")
        #expect(!result.stdout.contains("s3cret") && !result.stderr.contains("s3cret"))
    }

    /// Every duration and size is bounded at load, so `run` never meets a value its timers cannot hold.
    @Test func durationsAndSizesOutsideTheirRangeAreRefused() {
        #expect(error("interval: 10000000h\n") == "shipper.yml:1: interval: duration '10000000h' is out of range; expected 100ms to 24h")
        #expect(error("interval: 1ms\n") == "shipper.yml:1: interval: duration '1ms' is out of range; expected 100ms to 24h")
        #expect(error("interval: 9223372036854775807ms1ms\n")?.hasPrefix("shipper.yml:1: interval: invalid duration") == true)
        let queue = { (key: String, value: String) in "remote_write:\n  - url: http://a/\n    queue:\n      \(key): \(value)\n" }
        #expect(error(queue("min_backoff", "10000000h")) == "shipper.yml:4: remote_write[0].queue.min_backoff: duration '10000000h' is out of range; expected 10ms to 1h")
        #expect(error(queue("max_backoff", "2h")) == "shipper.yml:4: remote_write[0].queue.max_backoff: duration '2h' is out of range; expected 10ms to 1h")
        #expect(error(queue("min_backoff", "1ms"))?.contains("out of range; expected 10ms to 1h") == true)
        #expect(error(queue("max_samples_per_send", "1000000")) == "shipper.yml:4: remote_write[0].queue.max_samples_per_send: invalid number '1000000'; expected a whole number from 1 to 100000")
        #expect(error("remote_write:\n  - url: http://a/\n    timeout: 2h\n")?.hasSuffix("out of range; expected 100ms to 1h") == true)
        #expect(error("buffer:\n  max_age: 500ms\n") == "shipper.yml:2: buffer.max_age: duration '500ms' is out of range; expected 1s to 8784h")
        #expect(error("buffer:\n  max_size: 64KiB\n") == "shipper.yml:2: buffer.max_size: size '64KiB' is out of range; expected 1MiB to 1TiB")
        #expect(error("remote_write:\n  - url: http://a/\n    buffer: {max_size: 2TiB}\n")?.hasSuffix("out of range; expected 1MiB to 1TiB") == true)
        #expect(error("buffer:\n  dir: relative/dir\n") == "shipper.yml:2: buffer.dir: invalid buffer directory; "
            + "expected an absolute path, e.g. /var/lib/ebpf-map-shipper ('' for memory only)")
        #expect(error("remote_write:\n  - name: \"a\\nb\"\n    url: http://a/\n")
            == "shipper.yml:2: remote_write[0].name: invalid endpoint name; expected 1 to 100 printable characters, e.g. central")
        #expect(error("remote_write:\n  - url: http://a/\n    basic_auth: {username: 'a:b', password_file: /etc/hostname}\n")?
            .hasSuffix("invalid username; basic auth usernames cannot hold ':' or control characters") == true)
    }

    @Test func theShippedExampleIsValid() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config/ebpf-map-shipper.yml")
        // As the package installs it: valid with nothing set in the environment.
        let config = try Config.load(file: example.path, environment: [:])
        #expect(config.remoteWrite.count == 1)
        #expect(config.externalLabels["job"] == "ebpf-map-shipper")
        #expect(config.externalLabels["site"] == nil)
    }
}

struct UnitsTests {
    @Test(arguments: [("500ms", 500), ("15s", 15000), ("2m", 120_000), ("1h30m", 5_400_000), ("1d", 86_400_000)])
    func durations(text: String, milliseconds: Int64) {
        #expect(Units.duration(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "0s", "5", "5x", "-1s", "1.5s", "s", "9223372036854775807ms1ms", "99999999999999999999s"])
    func badDurations(text: String) {
        #expect(Units.duration(text) == nil)
    }

    @Test func sizes() {
        #expect(Units.size("512MiB") == 512 << 20)
        #expect(Units.size("1GiB") == 1 << 30)
        #expect(Units.size("64KB") == 64_000)
        #expect(Units.size("1000") == 1000)
        #expect(Units.size("1.5GiB") == nil)
        #expect(Units.size("12XB") == nil)
    }

    @Test func formatsShortest() {
        #expect(Units.format(.seconds(90)) == "90s")
        #expect(Units.format(.seconds(120)) == "2m")
        #expect(Units.format(.milliseconds(1500)) == "1500ms")
    }
}

/// `check-config` is the real binary, no privileges needed.
struct CheckConfigTests {
    @Test func aBadFileGivesOneLineAndExit1() async throws {
        let config = try writeConfig("interval: 1s\nremote_write:\n  - url: http://127.0.0.1:9/\n    timeout: soon\n")
        defer { removeConfig(config) }
        let result = try await ShipperBinary.run(["check-config", config.path])
        #expect(result.status == 1)
        #expect(result.stdout == "")
        #expect(result.stderr == "ebpf-map-shipper: error: \(config.path):4: remote_write[0].timeout: "
            + "invalid duration 'soon'; expected a positive number with a unit: 500ms, 15s, 2m, 1h30m\n")
    }

    @Test func aGoodFilePrintsTheEffectiveSettings() async throws {
        let config = try writeConfig("interval: 30s\nremote_write:\n  - name: c\n    url: http://127.0.0.1:9/w\n")
        defer { removeConfig(config) }
        let result = try await ShipperBinary.run(["check-config", config.path])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("\(config.path): valid\ninterval: 30s\nexternal_labels: instance="))
        #expect(result.stdout.contains(
            "remote_write c: http://127.0.0.1:9/w timeout=30s max_samples_per_send=10000 backoff=30ms..5s retry_on_http_429=true"))
    }

    /// The duration that used to pass `check-config` and crash `run`: refused by both, in one line.
    @Test func anOutOfRangeIntervalFailsCheckConfigAndRun() async throws {
        let config = try writeConfig("interval: 10000000h\nremote_write:\n  - url: http://127.0.0.1:9/\n")
        defer { removeConfig(config) }
        let line = "ebpf-map-shipper: error: \(config.path):1: interval: duration '10000000h' is out of range; expected 100ms to 24h\n"
        for command in [["check-config", config.path], ["run", "--config", config.path]] {
            let result = try await ShipperBinary.run(command)
            #expect(result.status == 1)
            #expect(result.stderr == line)
        }
        let once = try await ShipperBinary.run(["once", "--timeout", "10000000h"])
        #expect(once.status != 0)
        #expect(once.stderr.contains("invalid --timeout '10000000h'; expected a duration from 100ms to 1h"))
    }

    @Test func runWithAMissingConfigFails() async throws {
        let result = try await ShipperBinary.run(["run", "--config", "/nonexistent/shipper.yml"])
        #expect(result.status == 1)
        #expect(result.stderr == "ebpf-map-shipper: error: /nonexistent/shipper.yml: the config file does not exist; pass an existing file\n")
    }
}
