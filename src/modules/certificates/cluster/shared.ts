import { X509Certificate } from 'node:crypto';
import type { ClusterService, Lease } from '../../../agent/kit/cluster.js';
import { checkSet, type CertificateSet } from '../store.js';

/** Announced on CERT_TOPIC (the certificate's name) after a new version is stored. */
export const CERT_TOPIC = 'certificates';
/** How long a published http-01 key authorization stays in Redis: the CA's longest validation, and some. */
export const TOKEN_TTL_MS = 300_000;

/** What Redis holds of one certificate, under `cert:<name>`: the chain in clear, the key sealed. */
interface SharedRecord {
  serial: string;
  fullchainPem: string;
  /** The private key, sealed with the cluster key (base64). */
  key: string;
  storedBy: string;
  storedAt: string;
}

export interface SharedCertificate extends CertificateSet {
  serial: string;
  cert: X509Certificate;
  storedBy: string;
}

export function certLease(name: string): string {
  return `cert:${name}`;
}

/** The certificates' state in the cluster's Redis: one record per certificate, written only by its lease's holder. */
export class SharedCertificates {
  constructor(readonly cluster: ClusterService) {}

  /** The stored version, or null when none was ever stored (or Redis was restarted empty). */
  async read(name: string): Promise<SharedCertificate | null> {
    const raw = await this.cluster.read(certLease(name));
    if (!raw) return null;
    let record: SharedRecord;
    try {
      record = JSON.parse(raw.toString('utf8')) as SharedRecord;
    } catch (err) {
      throw new Error(`the shared record of certificate ${name} does not parse`, { cause: err });
    }
    let keyPem: string;
    try {
      keyPem = this.cluster.unseal(Buffer.from(record.key, 'base64')).toString('utf8');
    } catch (err) {
      throw new Error(`the shared key of certificate ${name} does not decrypt: is cluster.encryptionKey the same on every node?`, { cause: err });
    }
    const set = { keyPem, fullchainPem: record.fullchainPem };
    // A record whose key and chain do not belong together is never installed.
    const cert = checkSet(set);
    return { ...set, serial: cert.serialNumber, cert, storedBy: record.storedBy };
  }

  /** Stores a new version (fenced on the lease) and tells every node. */
  async store(name: string, set: CertificateSet, lease: Lease): Promise<void> {
    const cert = checkSet(set);
    const record: SharedRecord = {
      serial: cert.serialNumber,
      fullchainPem: set.fullchainPem,
      key: this.cluster.seal(Buffer.from(set.keyPem, 'utf8')).toString('base64'),
      storedBy: this.cluster.node,
      storedAt: new Date().toISOString(),
    };
    lease.check();
    await this.cluster.write(certLease(name), JSON.stringify(record), lease);
    // Best effort: the others' periodic check finds it when the announcement is lost.
    await this.cluster.announce(CERT_TOPIC, name).catch(() => undefined);
  }
}
