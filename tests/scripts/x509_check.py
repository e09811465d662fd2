# X.509 path validation (microticket.pk.x509) over a corpus made by tests/x509corpus.py, on either runtime.
# main(manifest): one case per line, tab-separated: id, the Certificate body file (the TLS message body),
# the CA file, the server name, now, time_unknown (0/1); prints "<id>\t<reason or ok>" per case, then
# "x509 done" and the heap in use after a collection.
import gc
from microticket import errors
from microticket.pk import x509


def check(chain_file, ca, name, now, tu):
    with open(chain_file, "rb") as f:
        body = memoryview(f.read())
    try:
        x509.validate(body, ca, name, now, tu)
        return "ok"
    except errors.TlsAlert as e:
        return e.message


def main(manifest):
    with open(manifest) as f:
        lines = f.read().split("\n")
    for line in lines:
        if line:
            id, chain, ca, name, now, tu = line.split("\t")
            print(id + "\t" + check(chain, ca, name, int(now), tu == "1"))
    gc.collect()
    print("x509 done mem_alloc", gc.mem_alloc())


if __name__ == "__main__":
    import sys
    main(sys.argv[1])
