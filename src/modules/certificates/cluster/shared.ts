import { X509Certificate } from 'node:crypto';
import type { ClusterService, Lease } from '../../../agent/kit/cluster.js';
import type { RenewalInfo } from '../ari.js';
import type { RenewalPlan, RenewalReason } from '../renewal-window.js';
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
  /** The CA's window as the node that last polled ARI read it, and the point it chose in it. */
  ari?: { start: string; end: string; nextPollAt: string; explanationUrl?: string; at: string; reason: RenewalReason };
}

/** The renewal decision shared with the certificate: one node polls ARI, every node renews at the same point. */
export interface SharedAri {
  info: RenewalInfo;
  plan: RenewalPlan;
}

export interface SharedCertificate extends CertificateSet {
  serial: string;
  cert: X509Certificate;
  storedBy: string;
  ari?: SharedAri;
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
    const ari = record.ari;
    const shared: SharedAri | undefined = ari && {
      info: { window: { start: new Date(ari.start), end: new Date(ari.end) }, nextPollAt: new Date(ari.nextPollAt), ...(ari.explanationUrl ? { explanationUrl: ari.explanationUrl } : {}) },
      plan: { at: new Date(ari.at), reason: ari.reason },
    };
    return { ...set, serial: cert.serialNumber, cert, storedBy: record.storedBy, ...(shared ? { ari: shared } : {}) };
  }

  /** Stores a version (fenced on the lease), with the renewal decision when there is one, and tells every node. */
  async store(name: string, set: CertificateSet, lease: Lease, ari?: SharedAri): Promise<void> {
    const cert = checkSet(set);
    const record: SharedRecord = {
      serial: cert.serialNumber,
      fullchainPem: set.fullchainPem,
      key: this.cluster.seal(Buffer.from(set.keyPem, 'utf8')).toString('base64'),
      storedBy: this.cluster.node,
      storedAt: new Date().toISOString(),
      ...(ari
        ? {
            ari: {
              start: ari.info.window.start.toISOString(),
              end: ari.info.window.end.toISOString(),
              nextPollAt: ari.info.nextPollAt.toISOString(),
              ...(ari.info.explanationUrl ? { explanationUrl: ari.info.explanationUrl } : {}),
              at: ari.plan.at.toISOString(),
              reason: ari.plan.reason,
            },
          }
        : {}),
    };
    lease.check();
    await this.cluster.write(certLease(name), JSON.stringify(record), lease);
    // Best effort: the others' periodic check finds it when the announcement is lost.
    await this.cluster.announce(CERT_TOPIC, name).catch(() => undefined);
  }
}
