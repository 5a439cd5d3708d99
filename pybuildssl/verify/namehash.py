"""OpenSSL's subject-name hash in pure Python: the ``<hash>.<n>`` names of
``openssl rehash`` (:func:`subject_hash`, :func:`hashed_names`) and
:func:`write_hashed_dir` to make a CApath.  Re-exported by :mod:`.tls`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_END = b"-----END CERTIFICATE-----"


# ------------------------------------------------- OpenSSL's name hash ------
# X509_NAME_hash_ex (crypto/x509/x509_cmp.c) hashes the name's *canonical*
# encoding (x509_name_canon in crypto/x509/x_name.c): every RDN as a DER
# SET OF its AVAs (no outer SEQUENCE); string values of the "canon" types
# converted to UTF8String, ASCII-lowercased, leading/trailing whitespace
# dropped and inner runs of whitespace collapsed to one space.  The hash is
# the first four bytes of SHA-1 read as a little-endian number.

_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP = 12, 19, 20, 22, 26, 28, 30
_CANON_TAGS = {_UTF8, _PRINTABLE, _T61, _IA5, _VISIBLE, _UNIVERSAL, _BMP}
_SPACE = b" \t\n\v\f\r"


def _der_read(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag byte, start of content, end of element) of the DER element at pos."""
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high-tag-number form not supported")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("bad DER length")
        n = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if pos + n > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + n


def _der_children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, end) for each element in buf[start:end]."""
    out = []
    while start < end:
        tag, cstart, stop = _der_read(buf, start)
        out.append((tag, start, cstart, stop))
        start = stop
    return out


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _canon_value(tag: int, content: bytes) -> bytes:
    """The canonical TLV of one attribute value."""
    if tag not in _CANON_TAGS:
        return _der(tag, content)
    if tag == _UTF8:
        text = content.decode("utf-8")
    elif tag == _BMP:
        text = content.decode("utf-16-be")
    elif tag == _UNIVERSAL:
        text = content.decode("utf-32-be")
    else:  # Printable, T61 (OpenSSL reads it as Latin-1), IA5, Visible
        text = content.decode("latin-1")
    data = text.encode("utf-8").strip(_SPACE)
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c >= 0x80:
            out.append(c)
            i += 1
        elif c in _SPACE:
            out.append(0x20)
            while i < len(data) and data[i] in _SPACE:
                i += 1
        else:
            out.append(c + 32 if 0x41 <= c <= 0x5A else c)
            i += 1
    return _der(_UTF8, bytes(out))


def name_hash(name_der: bytes) -> str:
    """OpenSSL's X509_NAME_hash of a DER-encoded Name, as 8 lower-case hex digits."""
    tag, start, end = _der_read(name_der, 0)
    if tag != 0x30:
        raise ValueError("a Name is a SEQUENCE")
    canon = bytearray()
    for set_tag, _, s_start, s_end in _der_children(name_der, start, end):
        if set_tag != 0x31:
            raise ValueError("an RDN is a SET")
        avas = []
        for _, _, a_start, a_end in _der_children(name_der, s_start, s_end):
            (oid_tag, oid_pos, _, oid_end), (v_tag, _, v_start, v_end) = \
                _der_children(name_der, a_start, a_end)
            avas.append(_der(0x30, name_der[oid_pos:oid_end]
                             + _canon_value(v_tag, name_der[v_start:v_end])))
        canon += _der(0x31, b"".join(sorted(avas)))  # DER SET OF: sorted encodings
    md = hashlib.sha1(bytes(canon)).digest()
    return "%08x" % int.from_bytes(md[:4], "little")


def _cert_der(cert: x509.Certificate | bytes) -> bytes:
    """DER of a certificate given as an object, PEM or DER.

    PEM is decoded here, not by ``cryptography``: some roots that OpenSSL
    accepts (a negative serial number, say) make ``cryptography`` warn or fail.
    """
    if isinstance(cert, x509.Certificate):
        return cert.public_bytes(serialization.Encoding.DER)
    if _PEM_BEGIN in cert:
        blocks = split_pem(cert)
        if len(blocks) != 1:
            raise ValueError(f"expected one PEM certificate, found {len(blocks)}")
        body = blocks[0][len(_PEM_BEGIN):blocks[0].index(_PEM_END)]
        return base64.b64decode(b"".join(body.split()), validate=True)
    return bytes(cert)


def _pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der)
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return _PEM_BEGIN + b"\n" + b"\n".join(lines) + b"\n" + _PEM_END + b"\n"


def _subject_der(cert_der: bytes) -> bytes:
    """The subject Name exactly as encoded in the certificate (no re-encoding)."""
    _, start, end = _der_read(cert_der, 0)           # Certificate
    _, start, end = _der_read(cert_der, start)       # TBSCertificate
    fields = _der_children(cert_der, start, end)
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject
    _, pos, _, stop = fields[4]
    return cert_der[pos:stop]


def subject_hash(cert: x509.Certificate | bytes) -> str:
    """``openssl x509 -noout -subject_hash`` of a certificate (PEM, DER or object)."""
    return name_hash(_subject_der(_cert_der(cert)))


def split_pem(data: bytes) -> list[bytes]:
    """Every ``CERTIFICATE`` block of a PEM bundle, each ending with a newline."""
    out = []
    pos = 0
    while True:
        begin = data.find(_PEM_BEGIN, pos)
        if begin < 0:
            return out
        end = data.find(_PEM_END, begin)
        if end < 0:
            return out
        pos = end + len(_PEM_END)
        out.append(data[begin:pos] + b"\n")


def hashed_names(pem_certs: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """(``<hash>.<n>``, PEM) as ``openssl rehash`` would name them.

    ``n`` counts up on hash collisions; a certificate identical to one
    already listed is skipped (rehash does the same).
    """
    seen: set[bytes] = set()
    counts: dict[str, int] = {}
    out = []
    for pem in pem_certs:
        der = _cert_der(pem)
        if der in seen:
            continue
        seen.add(der)
        h = name_hash(_subject_der(der))
        n = counts.get(h, 0)
        counts[h] = n + 1
        out.append((f"{h}.{n}", _pem(der)))
    return out


def write_hashed_dir(directory: str | os.PathLike, pem_certs: Iterable[bytes]) -> list[str]:
    """Write a CApath: each certificate as ``<hash>.<n>``; returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, pem in hashed_names(pem_certs):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(pem)
        paths.append(path)
    return paths
