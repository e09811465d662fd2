"""The --help text of every command, loaded only when --help or -h is asked for: a string constant of a
module is a heap object when the module is loaded (even from ROMFS), so the commands carry none."""

_TOP = """usage: python -m microticket COMMAND [OPTION ...]    (micropython -m microticket, MICROPYPATH=lib)

commands:
  tls-server     serve TLS 1.3 and 1.2 with session tickets (PSK, or an RSA or ECDSA P-256 certificate)
  tls-client     one TLS 1.3 or 1.2 connection, resumed from a ticket cache when it can be
  keys           make, rotate or show a ticket key file
  ike-gateway    an IKEv2 responder with RFC 5723 tickets (by value or by reference)
  ike-initiate   an IKEv2 initiator resuming with RFC 5723 tickets; `ike-initiate logout`

COMMAND --help prints the command's options. A bad argument prints one line "error: ..." on stderr and
exits with status 2; a runtime failure (an unreadable or damaged file, a network error) exits with 1.
"""

_TLS_SERVER = """usage: tls-server --port P (--psk HEX|--psk-file FILE [--psk-identity ID] | --cert CERT.pem [--key KEY.pem])
                  [--keys KEYFILE] [--host ADDR] [--reissue always|renew|never] [--no-tickets]
                  [--count N] [--timeout S] [--max-connections N] [--reuse-port] [--psk-hint TEXT] [--max-record N]
                  [--sessions N] [--suites LIST] [--keylog FILE] [--max-version 1.2|1.3] [--psk-modes dhe[,ke]]
                  [--alpn LIST] [--max-early-data N]

Serves TLS 1.3 and TLS 1.2 connections, many at once: echoes application data, answers an HTTP GET once its header
is complete (so `openssl s_time -www /` works) with a small page saying what the connection agreed, whose
script fetches /connection on a second connection (a browser shows whether it resumed). The first output
line is "listening on HOST:PORT"; then one line per connection: its alert, or "connection N: TLS 1.3|1.2,
SUITE, resumed: from a ticket|from the session ID|no, new ticket: yes|no".

  --port P          TCP port; 0 binds a free port, and the first line names the port bound
  --host ADDR       address to listen on (default 127.0.0.1)
  --psk HEX         pre-shared key (PSK and ECDHE_PSK suites) for --psk-identity (default Client_identity)
  --psk-file FILE   the key from a file, as hex digits (out of the process list; on MicroPython, whose
                    command line takes at most 255 characters an argument, the way to a key of 128+ bytes)
  --psk-hint TEXT   PSK identity hint sent in ServerKeyExchange
  --cert, --key     PEM certificate chain and its private key: RSA (ECDHE_RSA suites) or P-256 (SEC 1 or
                    PKCS#8: ECDHE_ECDSA suites); --key defaults to --cert
  --keys KEYFILE    ticket key ring loaded from KEYFILE, or made there (default: a ring in memory)
  --keys redis://HOST:PORT/DB[?prefix=P...]  (CPython) a fleet's keys in Redis, rotated by a leader:
                    README, "Fleet keys in Redis"
  --reissue WHEN    a new ticket on resumption: always (default), renew (only for a ticket sealed
                    under an older key), never
  --no-tickets      issue no tickets
  --count N         stop after N connections (default 0: serve until killed)
  --timeout S       a connection's deadlines in seconds: for its whole handshake, and for each wait for
                    data after it (default 10): a slow or idle client holds its place that long only
  --max-connections N  connections served at once; more are closed at once, not queued (default: what
                    the free heap holds, buffers by --max-record; 100 where it cannot be told: CPython)
  --reuse-port      SO_REUSEPORT on the listening socket: several processes serve one --port (the kernel
                    spreads the connections), sharing ticket keys through --keys (a file or redis://);
                    CPython (a socket module without SO_REUSEPORT, as MicroPython's: an error)
  --max-record N    record buffers for N bytes of plaintext, 512..16384 (a board profile; default
                    16384, or what the free heap holds as the board profiles do: 4096 below 192 KB free,
                    2048 below 96 KB): clients must negotiate max_fragment_length (RFC 6066) or send
                    records that small, else record_overflow
  --suites LIST     the suites, in preference order: IANA names (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
                    or 4-digit hex numbers, comma-separated (default: every suite the credentials allow)
  --sessions N      session-ID cache slots for clients that send no session_ticket extension (curl);
                    0: none (default 1024; 8 on MicroPython)
  --keylog FILE     append NSS key log lines (secrets! for Wireshark)
  --max-version V   1.3: TLS 1.3 for clients that offer it (RFC 8446: tickets sealed with the same keys,
                    external PSKs with --psk), TLS 1.2 for the others; 1.2: TLS 1.2 only. Default 1.3, or
                    1.2 below 144 KB of free heap (a board profile, as --max-record)
  --psk-modes M     TLS 1.3 PSK key exchange modes taken: dhe (default: psk_dhe_ke only), or dhe,ke (psk_ke
                    too: resumption and external PSKs without (EC)DHE, for boards)
  --alpn LIST       application protocols served (RFC 7301), in preference order, comma-separated (e.g.
                    http/1.1): a client that offers ALPN gets the first of them it offered, or the alert
                    no_application_protocol; the connection line then ends with ", alpn: NAME"
  --max-early-data N  TLS 1.3 0-RTT (RFC 8446 4.2.10): tickets say N bytes of early data, accepted on a
                    ticket's first use only (single-use tickets; with --keys redis://...: its first use
                    at any server sharing those keys), same suite and ALPN; a connection that
                    offered early data ends its line with ", early data: accepted (K bytes)" or
                    ", early data: rejected (WHY)" (early data is not answered: it may be a replay).
                    Default 0: off (offered early data is skipped, the handshake goes on)
Each connection that ends in an alert we sent prints "connection N: alert CODE (NAME) sent", each one
refused for want of room "connection N: refused (...)".
"""

_TLS_CLIENT = """usage: tls-client HOST PORT (--psk HEX|--psk-file FILE [--psk-identity ID] | --pin-sha256 HEX | --ca-file CA.pem
                  [--time-unknown]) [--cache FILE]
                  [--send TEXT] [--server-name NAME] [--mfl 1..4] [--timeout S] [--empty-session-id]
                  [--no-ems] [--no-etm] [--suites LIST] [--keylog FILE] [--max-version 1.2|1.3]
                  [--psk-modes dhe,ke] [--alpn LIST] [--cert FILE --key FILE] [--early-data TEXT]

One TLS 1.3 or TLS 1.2 connection to HOST:PORT, resumed with a ticket from --cache when one is there.
Prints "version: TLS 1.3|TLS 1.2", "resumed: yes|no", "suite: NAME", "ticket: yes|no", with --alpn
"alpn: NAME|none", then "reply: TEXT" for --send. TLS 1.3 tickets come after the handshake: without --send the client waits for one (at most 2
s) before it closes.
A failed handshake prints "handshake failed: alert sent ..., received ..." and exits with status 1.

  --psk HEX            pre-shared key for --psk-identity (default Client_identity): the PSK and
                       ECDHE_PSK suites
  --psk-file FILE      the key from a file, as hex digits (out of the process list; on MicroPython,
                       whose command line takes at most 255 characters an argument, the way to a key
                       of 128 bytes or more)
  --pin-sha256 HEX     ECDHE_ECDSA and ECDHE_RSA, the server's certificate or public key pinned by its SHA-256
                       (no X.509 path validation); with --psk too, every suite is offered
  --ca-file CA.pem     ECDHE_ECDSA and ECDHE_RSA, the server's chain validated (RFC 5280) against the roots in
                       CA.pem, for --server-name (default HOST); a refused chain prints one line
                       "certificate: REASON" (expired, name mismatch, unknown issuer, ...) and exits 1
  --time-unknown       the board's clock may not be set: notBefore is not checked (expiry always is); without
                       it a clock before the build's date refuses every chain ("certificate: clock not set")
  --cache FILE         ticket cache (JSON, owner-only); without it tickets live in memory only
  --send TEXT          send TEXT after the handshake and print the reply
  --early-data TEXT    as --send (replacing it), but TEXT goes as TLS 1.3 0-RTT early data when the cached
                       ticket allows it (its max_early_data_size); then prints "early data: accepted" or
                       "early data: rejected" (TEXT then sent after the handshake, as without a ticket)
  --server-name NAME   SNI; also the cache key (default HOST:PORT)
  --mfl N              ask for max_fragment_length 1..4 (512..4096 bytes) and size the record buffers
                       to it: the server must agree, else its first large record is a record_overflow
  --timeout S          socket timeout in seconds (default 10)
  --empty-session-id   send an empty session ID with the ticket
  --no-ems, --no-etm   do not offer extended_master_secret / encrypt_then_mac
  --suites LIST        the suites offered, in preference order: IANA names or 4-digit hex numbers,
                       comma-separated (default: every suite the credentials allow; TLS 1.3's first)
  --keylog FILE        append NSS key log lines (secrets! for Wireshark)
  --max-version V      1.3 (default: TLS 1.3 preferred, TLS 1.2 offered too) or 1.2 (TLS 1.2 only)
  --psk-modes LIST     TLS 1.3 PSK key exchange modes offered with a ticket or --psk: dhe (psk_dhe_ke),
                       ke (psk_ke: no key exchange at all, a few HMACs; OpenSSL takes it with
                       -allow_no_dhe_kex, else asks for a share: a full handshake),
                       comma-separated (default dhe,ke)
  --alpn LIST          application protocols offered (RFC 7301), comma-separated, in preference order
                       (e.g. x-amzn-mqtt-ca for MQTT on port 443, or h2,http/1.1); the server's choice is
                       printed "alpn: NAME" ("alpn: none": it agreed to none)
  --cert FILE, --key FILE  a client certificate (PEM chain, leaf first) and its RSA or P-256 key (PEM), read
                       only when a server asks (mutual TLS: AWS IoT, nginx ssl_verify_client, mosquitto
                       require_certificate); without them such a server gets an empty Certificate
"""

_KEYS = """usage: keys new|rotate|show KEYFILE [--profile rfc5077|draft07] [--lifetime SECONDS]

The ticket key file (microticket.ticket.KeyRing, JSON, owner-only):
  new       make KEYFILE with one key (--profile: rfc5077, the default, or draft07; --lifetime: the
            ticket lifetime in seconds, default 86400)
  rotate    add a new sealing key; keys whose decrypt window has closed are dropped
  show      key names, ages and roles (seals+opens, opens, expired), never a secret
KEYFILE may be a fleet's redis://HOST:PORT/DB[?prefix=P...] (CPython): README, "Fleet keys in Redis".
"""

_IKE_GATEWAY = """usage: ike-gateway --port P --psk HEX --id ID [--host H] [--tickets value|reference]
                   [--keys KEYFILE] [--rotate] [--lifetime S] [--reauth S] [--cookie]
                   [--auth-mode signed|message|both] [--ticket-policy issue|ack|nack]
                   [--resume accept|nack|drop] [--max-sas N] [--used-capacity N]

An IKEv2 responder (IKE SA only) answering on UDP until killed. The first output line is
"ike-gateway: listening on PORT (tickets=MODE)"; then one "event: ..." line per event (never a secret).

  --port P           UDP port; 0 binds a free port, and the first line names the port bound
  --host H           address to listen on (default 0.0.0.0)
  --psk HEX, --id ID the pre-shared key and the gateway's identity
  --tickets MODE     RFC 5723 tickets by value (default) or by reference
  --keys KEYFILE     ticket key ring loaded from KEYFILE, or made there; --rotate: a new sealing key first
  --keys redis://HOST:PORT/DB[?prefix=P...]  (CPython) a fleet of gateways in Redis: the fleet's keys
                     (rotated by a leader), tickets by reference and the one-time-use list shared, a ticket
                     claimed atomically; Redis down: resumption refused (TICKET_NACK), full exchanges go
                     on. README, "IKE gateways in Redis"
  --lifetime S       IKE SA lifetime in seconds (default 3600); --reauth S: re-authentication time
                     (a ticket's lifetime is the smaller of the two)
  --cookie           always ask for a COOKIE (RFC 7296 section 2.6); without it, COOKIEs are asked for while
                     8 or more SAs are half-open (at most 32, the oldest pushed out; expired after 30 s)
  --auth-mode MODE   the readings of a resumed IKE_AUTH accepted: both (default), signed (RFC 7296 2.15
                     octets) or message (the sender's IKE_SESSION_RESUME message only)
  --ticket-policy P  answer TICKET_REQUEST with a ticket (issue, default), TICKET_ACK or TICKET_NACK
  --resume R         answer IKE_SESSION_RESUME (accept, default), refuse every ticket (nack) or never
                     answer it (drop, as a gateway without RFC 5723): to test initiators' fallback
  --max-sas N        IKE SAs held at once (default 4096 on CPython, 64 on MicroPython); half-open ones at
                     most half of them. When full, the oldest established SA goes (a flood only pushes
                     out half-open SAs, never an exchange in flight while they are within their bound)
  --used-capacity N  tickets by value used per ticket lifetime that the one-time-use list holds at a false
                     positive rate under 0.1% (default 100000 on CPython: 400 KB; 512 on MicroPython: 2 KB);
                     past it, fresh tickets are refused more often (TICKET_NACK, then a full exchange)
"""

_IKE_INITIATE = """usage: ike-initiate HOST PORT --psk HEX --id ID --store FILE [--remote-id ID] [--group 14|31]
                    [--groups 31,14] [--nat-t] [--full] [--child] [--auth-mode signed|message]
                    [--no-ticket] [--ticket-later] [--delete] [--timeout S] [--debug-keys]
       ike-initiate logout --store FILE

Prints "established: full|resumed" then "ticket: lifetime N|ack|nack|none" (exit 0), or "failed:
REASON" (exit 1). With a stored, unexpired ticket for the gateway it resumes (RFC 5723) unless --full; a
resumption that fails (TICKET_NACK, AUTHENTICATION_FAILED, no answer within 7 s) falls back to a full
exchange in the same run: "established: full (resume failed: REASON)". The SA is left without a
Delete (an interrupted session, what resumption is for) unless --delete, which sends Delete and drops
the ticket (RFC 5723 section 6.2). `logout` deletes every stored ticket.

  --store FILE       the ticket store (JSON, owner-only), one ticket per gateway: its identity
                     (--remote-id ID: any gateway of a fleet sharing tickets resumes it) or else HOST:PORT
  --remote-id ID     the gateway's identity: sent as IDr, checked in its IKE_AUTH answer
  --group G          the one DH group offered, 31 (Curve25519, default) or 14 (MODP-2048)
  --groups LIST      offer more (comma-separated); INVALID_KE_PAYLOAD is then retried
  --nat-t            the non-ESP marker (RFC 3948); always used on a port other than 500
  --child            ask for a Child SA;  --no-ticket: request no ticket;  --ticket-later: request it
                     in an INFORMATIONAL exchange after IKE_AUTH
  --auth-mode MODE   what a resumed IKE_AUTH signs: message or signed; default: the reading learned for
                     gateway (kept with its ticket), else message (the deployed gateways' reading)
  --timeout S        give up after S seconds (default 20)
  --debug-keys       print SKEYSEED, SK_* and AUTH in hex (for tests; never in production)
"""


def text(name):
    return {"tls-server": _TLS_SERVER, "tls-client": _TLS_CLIENT, "keys": _KEYS, "ike-gateway": _IKE_GATEWAY,
            "ike-initiate": _IKE_INITIATE}.get(name, _TOP)
