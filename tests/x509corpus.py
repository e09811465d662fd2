"""A corpus of certificate chains for X.509 path validation (microticket.pk.x509), made with the openssl CLI
(``openssl req`` for the requests, ``openssl ca`` to sign with chosen dates, extensions and digests) in a
directory, with the verdict each case must get.

    corpus = make_corpus(dir)   # about 10 s: a list of Case
    case.sent     the certificates the server sends (DER paths), leaf first
    case.ca       the CA file (PEM, one or several roots)
    case.name     the server name (a DNS name or an IP literal)
    case.at       the time to validate at (Unix seconds; openssl's -attime)
    case.openssl  True when ``openssl verify -x509_strict -purpose sslserver -verify_depth 4 -attime ...
                  -verify_hostname/-verify_ip NAME -CAfile CA -untrusted INTERMEDIATES LEAF`` says OK
    case.reason   microticket's expected refusal reason, None for a valid chain

For the ordinary cases ``openssl`` is ``reason is None``. Where microticket is deliberately stricter than
OpenSSL the case is in DIVERGENCES. The P-384 cases (Let's Encrypt's ECDSA chains: microticket.pk.p384)
and ecdsa-with-SHA384 (microticket.sha512) validate as OpenSSL says.
"""

import calendar
import os
import subprocess

# every case validates at AT unless it says otherwise; ordinary certificates are valid from START to END
AT = calendar.timegm((2027, 6, 1, 0, 0, 0))
START = "20260101000000Z"
END = "20300101000000Z"

# the ids of the cases where microticket deliberately refuses what OpenSSL accepts (or the reverse)
DIVERGENCES = {
    "cn-only": "no CN fallback (RFC 6125 section 6.4.4): OpenSSL matches the CN when there is no SAN",
    "leaf-ku-keyenc-only": "an ECDHE server signs: digitalSignature needed; OpenSSL's sslserver takes keyEncipherment",
    "rsa-sha384": "sha384WithRSAEncryption is not among the signatures microticket verifies",
    "pss-salt-max": "RSASSA-PSS: only a 32-byte salt (the parameters of rsa_pss_rsae_sha256)",
    "leaf-eku-any": "anyExtendedKeyUsage is accepted for a server (RFC 5280 section 4.2.1.12); OpenSSL wants serverAuth",
}


class Case:
    def __init__(self, id, sent, ca, name, reason, at=AT, openssl=None):
        self.id = id
        self.sent = sent
        self.ca = ca
        self.name = name
        self.reason = reason
        self.at = at
        self.openssl = (reason is None) if openssl is None else openssl

    def __repr__(self):
        return "Case(%s)" % self.id


_CA_CNF = """[ca]
default_ca = d
[d]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/new
rand_serial = yes
default_md = sha256
policy = pol
unique_subject = no
email_in_dn = no
[pol]
organizationName = optional
commonName = optional
"""

CA_EXT = """basicConstraints = critical, CA:TRUE{pathlen}
keyUsage = critical, {ku}
subjectKeyIdentifier = hash
"""
LEAF_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, {ku}
extendedKeyUsage = {eku}
subjectAltName = {san}
subjectKeyIdentifier = hash
"""


def have_openssl():
    import shutil
    return shutil.which("openssl") is not None


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p


class Maker:
    """Keys and certificates in ``dir``: key(name, kind), cert(name, subject, key, issuer=None, ...)."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(os.path.join(dir, "new"), exist_ok=True)
        open(self.p("index.txt"), "w").close()
        with open(self.p("ca.cnf"), "w") as f:
            f.write(_CA_CNF.format(dir=dir))

    def p(self, name):
        return os.path.join(self.dir, name)

    def key(self, name, kind):
        opts = {"rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                "ec": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "ec384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]}[kind]
        _run(["openssl", "genpkey"] + opts + ["-out", self.p(name + ".key")])
        return name

    def cert(self, name, subject, key, issuer=None, ext=None, start=START, end=END, md="sha256", sigopt=()):
        """A certificate ``name`` (.pem and .der) for ``key`` signed by ``issuer`` (a cert name whose key is
        ``issuer + "-key"`` recorded at creation; None: self-signed)."""
        if ext is None:
            ext = CA_EXT.format(pathlen="", ku="keyCertSign, cRLSign")
        if issuer is not None:
            ext += "authorityKeyIdentifier = keyid:always\n"
        with open(self.p(name + ".ext"), "w") as f:
            f.write("[v3]\n" + ext)
        _run(["openssl", "req", "-new", "-key", self.p(key + ".key"), "-subj", subject, "-out", self.p(name + ".csr")])
        cmd = ["openssl", "ca", "-batch", "-notext", "-config", self.p("ca.cnf"), "-in", self.p(name + ".csr"),
               "-out", self.p(name + ".pem"), "-startdate", start, "-enddate", end, "-md", md,
               "-extfile", self.p(name + ".ext"), "-extensions", "v3", "-preserveDN"]
        for o in sigopt:
            cmd += ["-sigopt", o]
        if issuer is None:
            cmd += ["-selfsign", "-keyfile", self.p(key + ".key")]
        else:
            cmd += ["-cert", self.p(issuer + ".pem"), "-keyfile", self.p(self.keys[issuer] + ".key")]
        _run(cmd)
        self.keys[name] = key
        _run(["openssl", "x509", "-in", self.p(name + ".pem"), "-outform", "DER", "-out", self.p(name + ".der")])
        return name

    keys = None

    def corrupt(self, name, new):
        """A copy ``new`` of certificate ``name`` whose signature's last byte is flipped."""
        with open(self.p(name + ".der"), "rb") as f:
            d = bytearray(f.read())
        d[-1] ^= 0x01
        with open(self.p(new + ".der"), "wb") as f:
            f.write(d)
        _run(["openssl", "x509", "-inform", "DER", "-in", self.p(new + ".der"), "-out", self.p(new + ".pem")])
        self.keys[new] = self.keys[name]
        return new

    def cafile(self, name, certs):
        with open(self.p(name + ".ca.pem"), "w") as out:
            out.write("# a comment line, as bundles have\n")
            for c in certs:
                with open(self.p(c + ".pem")) as f:
                    out.write(f.read())
        return self.p(name + ".ca.pem")


def leaf_ext(san="DNS:www.example.com", ku="digitalSignature", eku="serverAuth", extra=""):
    return LEAF_EXT.format(san=san, ku=ku, eku=eku) + extra


def make_corpus(dir):
    m = Maker(dir)
    m.keys = {}
    for n, kind in (("krsa", "rsa"), ("kec", "ec"), ("kec2", "ec"), ("kec3", "ec"), ("krsa2", "rsa"),
                    ("k384", "ec384")):
        m.key(n, kind)
    C = m.cert
    # roots
    C("root-rsa", "/O=mt tests/CN=root rsa", "krsa")
    C("root-ec", "/O=mt tests/CN=root ec", "kec")
    C("root-other", "/O=mt tests/CN=root other", "kec3")
    C("root-ec-expired", "/O=mt tests/CN=root ec expired", "kec", start=START, end="20270101000000Z")
    C("root-ec-pl0", "/O=mt tests/CN=root ec pathlen 0", "kec",
      ext=CA_EXT.format(pathlen=", pathlen:0", ku="keyCertSign, cRLSign"))
    C("root-384", "/O=mt tests/CN=root p384", "k384")
    m.corrupt("root-ec", "root-ec-badsig")
    ca_rsa = m.cafile("rsa", ["root-rsa"])
    ca_ec = m.cafile("ec", ["root-ec"])
    ca3 = m.cafile("three", ["root-other", "root-ec", "root-rsa"])  # the match in the middle
    ca_other = m.cafile("other", ["root-other"])
    cases = []

    def case(id, sent, ca, reason, name="www.example.com", **kw):
        cases.append(Case(id, [m.p(s + ".der") for s in sent], ca, name, reason, **kw))

    # depth 1, every combination of root key, leaf key and signature openssl makes
    for rk, root, ca in (("rsa", "root-rsa", ca_rsa), ("ec", "root-ec", ca_ec)):
        for lk, key in (("rsa", "krsa2"), ("ec", "kec2")):
            mds = [("sha256", ())]
            if rk == "rsa":
                mds.append(("pss", ("rsa_padding_mode:pss", "rsa_pss_saltlen:32")))
            for md, so in mds:
                id = "%s-root-%s-%s-leaf" % (rk, md, lk)
                C(id, "/CN=www.example.com", key, root, leaf_ext(), md="sha256", sigopt=so)
                case(id, [id], ca3 if lk == "ec" and rk == "rsa" else ca, None)
    C("ec-root-sha384-leaf", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(), md="sha384")
    case("ec-root-sha384-leaf", ["ec-root-sha384-leaf"], ca_ec, None)
    C("rsa-sha384", "/CN=www.example.com", "kec2", "root-rsa", leaf_ext(), md="sha384")
    case("rsa-sha384", ["rsa-sha384"], ca_rsa, "unsupported algorithm", openssl=True)
    C("pss-salt-max", "/CN=www.example.com", "kec2", "root-rsa", leaf_ext(),
      sigopt=("rsa_padding_mode:pss", "rsa_pss_saltlen:max"))
    case("pss-salt-max", ["pss-salt-max"], ca_rsa, "unsupported algorithm", openssl=True)

    # depth 2 and 3: RSA all the way, EC all the way, mixed
    C("int-rsa", "/O=mt tests/CN=int rsa", "krsa", "root-rsa")
    C("int-ec", "/O=mt tests/CN=int ec", "kec", "root-ec")
    C("int-ec-under-rsa", "/O=mt tests/CN=int ec under rsa", "kec", "root-rsa")
    C("int2-ec", "/O=mt tests/CN=int2 ec", "kec2", "int-ec")
    C("int2-rsa-under-ec", "/O=mt tests/CN=int2 rsa", "krsa", "int-ec-under-rsa")
    C("leaf-int-rsa", "/CN=www.example.com", "krsa2", "int-rsa", leaf_ext())
    C("leaf-int-ec", "/CN=www.example.com", "kec3", "int-ec", leaf_ext())
    C("leaf-int-mixed", "/CN=www.example.com", "kec2", "int-ec-under-rsa", leaf_ext())
    C("leaf-int2-ec", "/CN=www.example.com", "kec3", "int2-ec", leaf_ext())
    C("leaf-int2-mixed", "/CN=www.example.com", "kec2", "int2-rsa-under-ec", leaf_ext())
    case("depth2-rsa", ["leaf-int-rsa", "int-rsa"], ca_rsa, None)
    case("depth2-ec", ["leaf-int-ec", "int-ec"], ca_ec, None)
    case("depth2-mixed", ["leaf-int-mixed", "int-ec-under-rsa"], ca3, None)
    case("depth3-ec", ["leaf-int2-ec", "int2-ec", "int-ec"], ca3, None)
    case("depth3-mixed", ["leaf-int2-mixed", "int2-rsa-under-ec", "int-ec-under-rsa"], ca3, None)
    case("depth3-unordered", ["leaf-int2-ec", "int-ec", "int2-ec"], ca_ec, None)
    case("depth3-root-sent", ["leaf-int2-ec", "int2-ec", "int-ec", "root-ec"], ca_ec, None)
    case("depth3-root-sigbad", ["leaf-int2-ec", "int2-ec", "int-ec"], m.cafile("badroot", ["root-ec-badsig"]), None)
    case("unknown-issuer", ["leaf-int2-ec", "int2-ec", "int-ec"], ca_other, "unknown issuer")
    case("missing-intermediate", ["leaf-int2-ec", "int2-ec"], ca_ec, "unknown issuer")
    # a long chain: 4 intermediates are the most (openssl: -verify_depth 4)
    prev = "int-ec"
    for i in range(3, 7):
        prev = C("int%d-ec" % i, "/O=mt tests/CN=int%d ec" % i, "kec2", prev)
    C("leaf-int4", "/CN=www.example.com", "kec3", "int5-ec", leaf_ext())
    C("leaf-int5", "/CN=www.example.com", "kec3", "int6-ec", leaf_ext())
    case("depth5-ok", ["leaf-int4", "int5-ec", "int4-ec", "int3-ec", "int-ec"], ca_ec, None)
    case("chain-too-long", ["leaf-int5", "int6-ec", "int5-ec", "int4-ec", "int3-ec", "int-ec"], ca_ec,
         "chain too long")

    # bad signature in each link of a 3-certificate chain
    m.corrupt("leaf-int2-ec", "leaf-int2-ec-bad")
    m.corrupt("int2-ec", "int2-ec-bad")
    m.corrupt("int-ec", "int-ec-bad")
    case("badsig-leaf", ["leaf-int2-ec-bad", "int2-ec", "int-ec"], ca_ec, "bad signature")
    case("badsig-int2", ["leaf-int2-ec", "int2-ec-bad", "int-ec"], ca_ec, "bad signature")
    case("badsig-int1", ["leaf-int2-ec", "int2-ec", "int-ec-bad"], ca_ec, "bad signature")
    m.corrupt("leaf-int-rsa", "leaf-int-rsa-bad")
    m.corrupt("int-rsa", "int-rsa-bad")
    case("badsig-rsa-leaf", ["leaf-int-rsa-bad", "int-rsa"], ca_rsa, "bad signature")
    case("badsig-rsa-int", ["leaf-int-rsa", "int-rsa-bad"], ca_rsa, "bad signature")

    # dates
    C("leaf-expired", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(), end="20270101000000Z")
    C("leaf-expired-2026", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(), end="20260601000000Z")
    C("leaf-future", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(), start="20280101000000Z")
    C("int-expired", "/O=mt tests/CN=int expired", "kec", "root-ec", end="20270101000000Z")
    C("leaf-under-int-expired", "/CN=www.example.com", "kec2", "int-expired", leaf_ext())
    C("int-under-expired-root", "/O=mt tests/CN=int under expired root", "kec2", "root-ec-expired")
    C("leaf-under-expired-root", "/CN=www.example.com", "kec3", "int-under-expired-root", leaf_ext())
    case("leaf-expired", ["leaf-expired"], ca_ec, "expired")
    case("leaf-expired-before", ["leaf-expired"], ca_ec, None, at=calendar.timegm((2026, 12, 31, 0, 0, 0)))
    case("leaf-not-yet-valid", ["leaf-future"], ca_ec, "not yet valid")
    case("int-expired", ["leaf-under-int-expired", "int-expired"], ca_ec, "expired")
    case("root-expired", ["leaf-under-expired-root", "int-under-expired-root"],
         m.cafile("expired", ["root-ec-expired"]), "expired")

    # names
    C("leaf-other-name", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(san="DNS:other.example.com"))
    C("leaf-wild", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:*.example.com"))
    C("leaf-partial", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:f*o.example.com"))
    C("leaf-wild-tld", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:*.com"))
    C("leaf-upper", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:WWW.Example.COM"))
    C("leaf-ip", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:www.example.com, IP:192.0.2.7, IP:2001:db8::7"))
    C("leaf-dns-ip", "/CN=x", "kec2", "root-ec", leaf_ext(san="DNS:192.0.2.7"))
    C("cn-only", "/CN=www.example.com", "kec2", "root-ec",
      "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
      "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n")
    case("name-mismatch", ["leaf-other-name"], ca_ec, "name mismatch")
    case("wildcard-one-label", ["leaf-wild"], ca_ec, None, name="a.example.com")
    case("wildcard-two-labels", ["leaf-wild"], ca_ec, "name mismatch", name="a.b.example.com")
    case("wildcard-bare-domain", ["leaf-wild"], ca_ec, "name mismatch", name="example.com")
    case("partial-wildcard", ["leaf-partial"], ca_ec, "name mismatch", name="foo.example.com")
    case("wildcard-tld", ["leaf-wild-tld"], ca_ec, "name mismatch", name="example.com")
    case("name-case", ["leaf-upper"], ca_ec, None, name="www.EXAMPLE.com")
    case("ip4", ["leaf-ip"], ca_ec, None, name="192.0.2.7")
    case("ip6", ["leaf-ip"], ca_ec, None, name="2001:db8:0:0::7")
    case("ip4-mismatch", ["leaf-ip"], ca_ec, "name mismatch", name="192.0.2.8")
    case("ip-as-dns", ["leaf-dns-ip"], ca_ec, "name mismatch", name="192.0.2.7")
    case("cn-only", ["cn-only"], ca_ec, "name mismatch", openssl=True)

    # CA constraints and key usage
    C("int-not-ca", "/O=mt tests/CN=int not ca", "kec", "root-ec",
      "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyCertSign\nsubjectKeyIdentifier = hash\n")
    C("leaf-under-not-ca", "/CN=www.example.com", "kec2", "int-not-ca", leaf_ext())
    case("ca-false-issuer", ["leaf-under-not-ca", "int-not-ca"], ca_ec, "not a CA")
    C("int-pl0", "/O=mt tests/CN=int pathlen 0", "kec", "root-ec",
      CA_EXT.format(pathlen=", pathlen:0", ku="keyCertSign"))
    C("int2-under-pl0", "/O=mt tests/CN=int2 under pathlen 0", "kec2", "int-pl0")
    C("leaf-under-pl0", "/CN=www.example.com", "kec3", "int-pl0", leaf_ext())
    C("leaf-under-int2-pl0", "/CN=www.example.com", "kec3", "int2-under-pl0", leaf_ext())
    case("pathlen0-ok", ["leaf-under-pl0", "int-pl0"], ca_ec, None)
    case("pathlen-exceeded", ["leaf-under-int2-pl0", "int2-under-pl0", "int-pl0"], ca_ec, "path length exceeded")
    C("int-under-root-pl0", "/O=mt tests/CN=int under root pathlen 0", "kec2", "root-ec-pl0")
    C("int2-under-root-pl0", "/O=mt tests/CN=int2 under root pathlen 0", "kec3", "int-under-root-pl0")
    C("leaf-root-pl0", "/CN=www.example.com", "kec3", "int2-under-root-pl0", leaf_ext())
    case("root-pathlen-exceeded", ["leaf-root-pl0", "int2-under-root-pl0", "int-under-root-pl0"],
         m.cafile("pl0", ["root-ec-pl0"]), "path length exceeded")
    C("int-no-certsign", "/O=mt tests/CN=int no keyCertSign", "kec", "root-ec",
      CA_EXT.format(pathlen="", ku="digitalSignature, cRLSign"))
    C("leaf-under-no-certsign", "/CN=www.example.com", "kec2", "int-no-certsign", leaf_ext())
    case("missing-keycertsign", ["leaf-under-no-certsign", "int-no-certsign"], ca_ec, "key usage")
    C("leaf-ku-certsign", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(ku="keyCertSign"))
    case("leaf-ku-no-digitalsignature", ["leaf-ku-certsign"], ca_ec, "key usage")
    C("leaf-ku-keyenc-only", "/CN=www.example.com", "krsa2", "root-ec", leaf_ext(ku="keyEncipherment"))
    case("leaf-ku-keyenc-only", ["leaf-ku-keyenc-only"], ca_ec, "key usage", openssl=True)
    C("leaf-eku-client", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(eku="clientAuth"))
    case("eku-client-only", ["leaf-eku-client"], ca_ec, "extended key usage")
    C("leaf-eku-any", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(eku="anyExtendedKeyUsage"))
    case("leaf-eku-any", ["leaf-eku-any"], ca_ec, None, openssl=False)
    C("int-eku-client", "/O=mt tests/CN=int eku client", "kec", "root-ec",
      CA_EXT.format(pathlen="", ku="keyCertSign") + "extendedKeyUsage = clientAuth\n")
    C("leaf-under-int-eku-client", "/CN=www.example.com", "kec2", "int-eku-client", leaf_ext())
    case("int-eku-client-only", ["leaf-under-int-eku-client", "int-eku-client"], ca_ec, "extended key usage")

    # extensions
    C("leaf-crit", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(extra="1.2.3.4 = critical, ASN1:NULL\n"))
    C("leaf-noncrit", "/CN=www.example.com", "kec2", "root-ec", leaf_ext(extra="1.2.3.4 = ASN1:NULL\n"))
    C("int-crit", "/O=mt tests/CN=int critical", "kec", "root-ec",
      CA_EXT.format(pathlen="", ku="keyCertSign") + "1.2.3.4 = critical, ASN1:NULL\n")
    C("leaf-under-int-crit", "/CN=www.example.com", "kec2", "int-crit", leaf_ext())
    case("unknown-critical-leaf", ["leaf-crit"], ca_ec, "unknown critical extension")
    case("unknown-noncritical-leaf", ["leaf-noncrit"], ca_ec, None)
    case("unknown-critical-int", ["leaf-under-int-crit", "int-crit"], ca_ec, "unknown critical extension")

    # P-384: an intermediate, a root, a leaf (ecdsa-with-SHA384 where the signer is P-384)
    C("int-384", "/O=mt tests/CN=int p384", "k384", "root-ec", md="sha384")
    C("leaf-under-384", "/CN=www.example.com", "kec2", "int-384", leaf_ext(), md="sha384")
    C("int-under-384-root", "/O=mt tests/CN=int under p384 root", "kec", "root-384", md="sha384")
    C("leaf-under-384-root", "/CN=www.example.com", "kec2", "int-under-384-root", leaf_ext())
    C("leaf-384", "/CN=www.example.com", "k384", "root-ec", leaf_ext())
    case("p384-intermediate", ["leaf-under-384", "int-384"], ca_ec, None)
    case("p384-root", ["leaf-under-384-root", "int-under-384-root"], m.cafile("p384", ["root-384"]), None)
    case("p384-leaf", ["leaf-384"], ca_ec, None)  # valid as a path (a TLS client then wants P-256 or RSA)
    return cases


def chain_body(paths):
    """The TLS Certificate body (certificate_list of 3-byte-length certificates) of DER files."""
    out = b""
    for p in paths:
        with open(p, "rb") as f:
            d = f.read()
        out += len(d).to_bytes(3, "big") + d
    return len(out).to_bytes(3, "big") + out


def is_ip(name):
    return ":" in name or name.replace(".", "").isdigit()


def openssl_verdict(case, dir):
    """True when openssl verify accepts the case (and its output)."""
    leaf = case.sent[0]
    pems = []
    for p in case.sent:
        pem = p[:-4] + ".pem"
        pems.append(pem)
    cmd = ["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-verify_depth", "4",
           "-attime", str(case.at), "-CAfile", case.ca]
    cmd += ["-verify_ip" if is_ip(case.name) else "-verify_hostname", case.name]
    if len(pems) > 1:
        untrusted = os.path.join(dir, case.id + ".untrusted.pem")
        with open(untrusted, "w") as out:
            for p in pems[1:]:
                with open(p) as f:
                    out.write(f.read())
        cmd += ["-untrusted", untrusted]
    cmd.append(leaf[:-4] + ".pem")
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode == 0 and ": OK" in p.stdout, p.stdout + p.stderr


def make_heap_case(dir, kind="ec"):
    """The memory profile's case (tools/memprof.py x509-validate): a 3-certificate chain (leaf, two
    intermediates; P-256 keys, or RSA-2048 ones with ``kind="rsa"``) under the middle root of a 3-root CA
    file. Returns (chain body file, CA file, name, now)."""
    m = Maker(dir)
    m.keys = {}
    k = "rsa" if kind == "rsa" else "ec"
    for n in ("k1", "k2", "k3"):
        m.key(n, k)
    m.key("kother", "ec")
    m.cert("root-other", "/O=mt tests/CN=root other", "kother")
    m.cert("root", "/O=mt tests/CN=root", "k1")
    m.cert("root-other2", "/O=mt tests/CN=root other 2", "kother")
    m.cert("int", "/O=mt tests/CN=int", "k2", "root")
    m.cert("int2", "/O=mt tests/CN=int2", "k3", "int")
    m.cert("leaf", "/CN=www.example.com", "k1", "int2", leaf_ext())
    ca = m.cafile("three", ["root-other", "root", "root-other2"])
    chain = m.p("chain.bin")
    with open(chain, "wb") as f:
        f.write(chain_body([m.p("leaf.der"), m.p("int2.der"), m.p("int.der")]))
    return chain, ca, "www.example.com", AT
