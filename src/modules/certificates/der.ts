/** Just enough DER reading to pull the serial and the Authority Key Identifier out of a certificate. */

export interface Tlv {
  tag: number;
  /** Offset of the value's first byte. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

export function readTlv(buf: Uint8Array, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[offset]!;
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > buf.length) throw new Error('DER: unsupported length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > buf.length) throw new Error('DER: value runs past the end');
  return { tag, start, end };
}

/** The TLVs directly inside a constructed value. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readTlv(buf, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

const TAG_INTEGER = 0x02;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_VERSION = 0xa0;
const TAG_EXTENSIONS = 0xa3;
const TAG_KEY_IDENTIFIER = 0x80;
/** 2.5.29.35, id-ce-authorityKeyIdentifier */
const OID_AKI = Uint8Array.from([0x55, 0x1d, 0x23]);

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The serial's INTEGER value bytes as encoded (with a leading 0x00 where DER needs one). */
export function serialBytes(certDer: Uint8Array): Uint8Array {
  const tbs = children(certDer, readTlv(certDer, 0))[0];
  if (!tbs) throw new Error('DER: no TBSCertificate');
  const fields = children(certDer, tbs);
  const serial = fields[0]?.tag === TAG_VERSION ? fields[1] : fields[0];
  if (!serial || serial.tag !== TAG_INTEGER) throw new Error('DER: no serial number');
  return certDer.subarray(serial.start, serial.end);
}

/** The keyIdentifier of the Authority Key Identifier extension, or undefined when absent. */
export function authorityKeyIdentifier(certDer: Uint8Array): Uint8Array | undefined {
  const tbs = children(certDer, readTlv(certDer, 0))[0];
  if (!tbs) throw new Error('DER: no TBSCertificate');
  const wrapper = children(certDer, tbs).find((f) => f.tag === TAG_EXTENSIONS);
  if (!wrapper) return undefined;
  const list = children(certDer, wrapper)[0];
  if (!list) return undefined;
  for (const extension of children(certDer, list)) {
    const parts = children(certDer, extension);
    const oid = parts[0];
    if (!oid || oid.tag !== TAG_OID || !equalBytes(certDer.subarray(oid.start, oid.end), OID_AKI)) continue;
    const value = parts[parts.length - 1];
    if (!value || value.tag !== TAG_OCTET_STRING) return undefined;
    const aki = readTlv(certDer, value.start);
    const keyId = children(certDer, aki).find((f) => f.tag === TAG_KEY_IDENTIFIER);
    return keyId ? certDer.subarray(keyId.start, keyId.end) : undefined;
  }
  return undefined;
}
